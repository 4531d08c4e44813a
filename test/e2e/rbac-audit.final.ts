/**
 * Runs after every other e2e file: .mocharc.e2e.json lists it as its own, last spec entry (it is not
 * matched by the `*.test.js` pattern), so the order does not hang on file names. Every operator in
 * this suite — in this process or as `paddle-operator`
 * processes — ran on the ServiceAccount credentials that kustomize/default grants, so the scenarios
 * themselves prove its roles sufficient. This check proves the converse, from the apiserver's audit
 * log of that ServiceAccount: neither the ClusterRole nor the leader-election Role grants a
 * wildcard, or a (verb, resource) the code never used during the run — except the few the
 * apiserver checks on our behalf or that a run may not reach, listed with their reason below.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import YAML from 'yaml';
import { OPERATOR_NAMESPACE, usedPermissions } from './operator-context.js';

/** Permissions the apiserver itself checks for requests we make; never requested directly. */
const CHECKED_BY_APISERVER: Record<string, string> = {
  // OwnerReferencesPermissionEnforcement: creating a child with blockOwnerDeletion=true needs
  // `update` on the owner's finalizers subresource
  'update samplesets/finalizers.batch.paddlepaddle.org': 'blockOwnerDeletion on SampleSet children',
  'update samplejobs/finalizers.batch.paddlepaddle.org': 'blockOwnerDeletion on scheduled SampleJob children',
  'update paddlejobs/finalizers.batch.paddlepaddle.org': 'blockOwnerDeletion on PaddleJob children',
};

/** Permissions of code paths the scenarios may not reach in a given run (each with its path). */
const NOT_EXERCISED_BY_E2E: Record<string, string> = {
  'get persistentvolumes': 'SampleSet: create found the PV before the cache did (AlreadyExists)',
  'get persistentvolumeclaims': 'SampleSet: create found the claim before the cache did (AlreadyExists)',
  'get statefulsets.apps': 'SampleSet: create found the StatefulSet before the cache did (AlreadyExists)',
  'get services': 'SampleSet: create found the Service before the cache did (AlreadyExists)',
  'patch persistentvolumes': 'SampleSet: re-binding a Released PV left by an earlier SampleSet of the same name',
  'patch secrets': 'SampleSet: repairing a token Secret that lost its token',
  'patch persistentvolumeclaims': 'SampleSet: nudging a claim the PV binder left Pending (happens only when the binder stalls)',
  'patch podgroups.scheduling.volcano.sh': 'PaddleJob: a PodGroup whose spec drifted from the job',
  'delete services': 'PaddleJob: cleanPodPolicy in Service intranet (timing of the GC test)',
};

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

function rulesOf(file: string, kind: 'ClusterRole' | 'Role'): Rule[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind: string; rules: Rule[] });
  const rules = docs.filter((d) => d.kind === kind).flatMap((d) => d.rules);
  expect(rules.length, `${kind} rules in ${file}`).to.be.greaterThan(0);
  return rules;
}
const CLUSTER_ROLE = (): Rule[] => rulesOf('kustomize/rbac/role.yaml', 'ClusterRole');
const LEADER_ELECTION_ROLE = (): Rule[] => rulesOf('kustomize/rbac/leader_election_role.yaml', 'Role');
const WEBHOOK_CERTIFICATES_ROLE = (): Rule[] => rulesOf('kustomize/rbac/webhook_certificates_role.yaml', 'Role');

function granted(rules: Rule[]): string[] {
  return rules.flatMap((r) =>
    r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}${g ? '.' + g : ''}`))),
  );
}

describe('RBAC audit (after every scenario ran on the ServiceAccount)', () => {
  it('grants no wildcard', () => {
    for (const r of [...CLUSTER_ROLE(), ...LEADER_ELECTION_ROLE(), ...WEBHOOK_CERTIFICATES_ROLE()]) {
      expect(r.apiGroups.concat(r.resources, r.verbs)).to.not.include('*');
    }
  });

  it('the ClusterRole grants no permission the operators never used', function () {
    // only meaningful when every operator's scenarios ran in this run (npm run test:e2e)
    const root = this.test!.parent!.parent!;
    const ranAll = ['SampleSet operator', 'SampleJob operator', 'PaddleJob operator'].every((t) =>
      root.suites.some((s) => s.title.startsWith(t)),
    );
    if (!ranAll) this.skip();
    const used = usedPermissions().all;
    const unused = granted(CLUSTER_ROLE()).filter((p) => !used.has(p) && !(p in CHECKED_BY_APISERVER) && !(p in NOT_EXERCISED_BY_E2E));
    expect(unused, `granted but never used:\n  ${unused.join('\n  ')}\nused:\n  ${[...used].sort().join('\n  ')}`).to.deep.equal([]);
  });

  it('the leader-election Role grants no permission the operator processes never used in their namespace', function () {
    const used = usedPermissions().byNamespace.get(OPERATOR_NAMESPACE) ?? new Set<string>();
    if (!used.has('update leases.coordination.k8s.io')) this.skip(); // no leader election ran on the ServiceAccount
    const unused = granted(LEADER_ELECTION_ROLE()).filter((p) => !used.has(p));
    expect(
      unused,
      `granted but never used in ${OPERATOR_NAMESPACE}:\n  ${unused.join('\n  ')}\nused:\n  ${[...used].sort().join('\n  ')}`,
    ).to.deep.equal([]);
  });

  it('the webhook-certificates Role grants no permission the operator never used on its Secret in its namespace', function () {
    const root = this.test!.parent!.parent!;
    if (!root.suites.some((s) => s.title.startsWith('webhook certificates, self-managed'))) this.skip();
    const used = usedPermissions().byNamespace.get(OPERATOR_NAMESPACE) ?? new Set<string>();
    const unused = granted(WEBHOOK_CERTIFICATES_ROLE()).filter((p) => !used.has(p));
    expect(unused, `granted but never used in ${OPERATOR_NAMESPACE}:\n  ${unused.join('\n  ')}`).to.deep.equal([]);
  });
});
