/**
 * `kubectl apply --server-side -k kustomize/default` for real on the local cluster: the apiserver
 * accepts everything, and its Pod Security admission (the namespace enforces `restricted`) admits
 * the operator's pods — the ReplicaSet controller creates both replicas and KWOK runs them.
 */
import fs from 'node:fs';
import { expect } from 'chai';
import YAML from 'yaml';
import type { V1Deployment, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { POD } from '../../src/api/constants.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { INSTALLED_WEBHOOK_CONFIGURATION } from '../harness/admission-webhook.js';
import { writeImageOverlay } from '../harness/kustomize-overlay.js';
import { waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';

const NS = 'paddle-system';
const WEBHOOK_CONFIGURATION = INSTALLED_WEBHOOK_CONFIGURATION;

describe('installing kustomize/default (real apiserver, Pod Security restricted)', function () {
  this.timeout(180_000);
  let api: KubeApi;

  before(() => {
    api = new KubeApi(testCluster().kubeConfig());
  });

  after(async () => {
    // leave the namespace and RBAC (other suites use them); remove the fake operator replicas, and
    // the webhook configuration whose Service has no real endpoint here (webhook.test.ts registers its own)
    await testCluster().kubectl(['-n', NS, 'delete', 'deployment', 'paddle-operator', '--ignore-not-found', '--wait=false'], {
      allowFail: true,
    });
    await testCluster().kubectl(['delete', 'mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--ignore-not-found'], {
      allowFail: true,
    });
  });

  it("an overlay that sets the image sets the runtime pods' image (RUNTIME_IMAGE) too", async () => {
    const dir = writeImageOverlay('registry.example/team/paddle-operator:v9.9.9');
    try {
      const out = await testCluster().kubectl(['kustomize', dir]);
      const dep = YAML.parseAllDocuments(out.stdout)
        .map((d) => d.toJS() as V1Deployment)
        .find((d) => d.kind === 'Deployment' && d.metadata?.name === 'paddle-operator');
      const manager = dep?.spec?.template.spec?.containers.find((c) => c.name === 'manager');
      expect(manager?.image).to.equal('registry.example/team/paddle-operator:v9.9.9');
      expect(manager?.env?.find((e) => e.name === 'RUNTIME_IMAGE')?.value).to.equal('registry.example/team/paddle-operator:v9.9.9');
      expect(manager?.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath, 'other env entries untouched').to.equal(
        'metadata.namespace',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("applies server-side and the restricted namespace admits the Deployment's pods", async () => {
    const cp = testCluster();
    const res = await cp.kubectl(['apply', '--server-side', '--force-conflicts', '-k', 'kustomize/default']);
    expect(res.stderr, 'no Pod Security warnings').to.not.match(/violate PodSecurity/i);
    const ns = await api.get<V1Namespace>({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false }, NS);
    expect(ns?.metadata?.labels?.['pod-security.kubernetes.io/enforce']).to.equal('restricted');
    const dep = await api.get<V1Deployment>(
      { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
      'paddle-operator',
      NS,
    );
    const replicas = dep?.spec?.replicas ?? 0;
    expect(replicas).to.be.at.least(1);
    const pods = await waitFor(
      `${replicas} operator pods admitted and Running`,
      async () => {
        const list = (await api.list<V1Pod>(POD, NS, { labelSelector: 'app.kubernetes.io/name=paddle-operator' })).items;
        return list.length === replicas && list.every((p) => p.status?.phase === 'Running') ? list : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    ).catch(async (e: unknown) => {
      const events = await cp.kubectl(['-n', NS, 'get', 'events', '--sort-by=.lastTimestamp'], { allowFail: true });
      throw new Error(`${(e as Error).message}\n${events.stdout}`);
    });
    for (const p of pods) {
      const c = p.spec!.containers[0];
      expect(p.spec!.securityContext?.runAsNonRoot).to.equal(true);
      expect(c.securityContext?.readOnlyRootFilesystem).to.equal(true);
      expect(c.securityContext?.allowPrivilegeEscalation).to.equal(false);
    }
  });

  it("the webhook: the apiserver accepts its configuration, the Service points at the pods' webhook port, the Deployment serves it with self-managed certificates", async () => {
    const cp = testCluster();
    const mwc = JSON.parse((await cp.kubectl(['get', 'mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '-o', 'json'])).stdout) as {
      webhooks: {
        clientConfig: { service: { namespace: string; name: string } };
        failurePolicy: string;
        sideEffects: string;
        timeoutSeconds: number;
      }[];
    };
    expect(mwc.webhooks[0]).to.deep.include({ failurePolicy: 'Ignore', sideEffects: 'None', timeoutSeconds: 5 });
    expect(mwc.webhooks[0].clientConfig.service).to.include({ namespace: NS, name: 'paddle-operator-webhook' });
    const dep = await api.get<V1Deployment>(
      { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
      'paddle-operator',
      NS,
    );
    const pod = dep!.spec!.template.spec!;
    const manager = pod.containers[0];
    // self-managed certificates by default: no certificate directory, no Secret volume
    expect(manager.args).to.include('--webhook-bind-address=:9443');
    expect(manager.args!.some((a) => a.startsWith('--webhook-cert'))).to.equal(false);
    expect(manager.ports!.find((p) => p.name === 'webhook')?.containerPort).to.equal(9443);
    expect((pod.volumes ?? []).some((v) => v.secret?.secretName?.includes('webhook'))).to.equal(false);
  });
});
