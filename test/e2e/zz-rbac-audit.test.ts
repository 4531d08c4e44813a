/**
 * Runs last (file name): every operator in this suite ran on the ServiceAccount credentials that
 * kustomize/default grants, so the scenarios themselves prove the ClusterRole sufficient. This
 * check proves the converse: the ClusterRole grants no wildcard, and no (verb, resource) that the
 * code never used during the run — except the few the apiserver checks on our behalf, listed with
 * their reason below.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import YAML from 'yaml';
import { usedPermissions } from './operator-context.js';

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

function clusterRoleRules(): Rule[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync('kustomize/rbac/role.yaml', 'utf8')).map((d) => d.toJS() as { kind: string; rules: Rule[] });
  return docs.filter((d) => d.kind === 'ClusterRole').flatMap((d) => d.rules);
}

describe('RBAC audit (after every scenario ran on the ServiceAccount)', () => {
  it('grants no wildcard', () => {
    for (const r of clusterRoleRules()) {
      expect(r.apiGroups.concat(r.resources, r.verbs)).to.not.include('*');
    }
  });

  it('grants no permission the operators never used', function () {
    const ranAll = ['samplesets', 'samplejobs', 'paddlejobs'].every((k) => usedPermissions.has(`watch ${k}.batch.paddlepaddle.org`));
    if (!ranAll) this.skip(); // only meaningful after the whole suite (npm run test:e2e)
    const granted = clusterRoleRules().flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}${g ? '.' + g : ''}`))));
    const unused = granted.filter((p) => !usedPermissions.has(p) && !(p in CHECKED_BY_APISERVER) && !(p in NOT_EXERCISED_BY_E2E));
    expect(unused, `granted but never used:\n  ${unused.join('\n  ')}\nused:\n  ${[...usedPermissions].sort().join('\n  ')}`).to.deep.equal([]);
  });
});
