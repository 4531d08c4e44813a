// Proves the e2e control plane is the real thing: the Go-built apiserver at the pinned version, the
// scheduler placing pods on KWOK nodes, KWOK running and finishing pods, and the
// kube-controller-manager's statefulset, deployment, garbage-collector, namespace and
// persistentvolume-binder controllers at work. Also covers the harness's own levers
// (restartApiserver, compactEtcd) that other suites use.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, VersionApi, type KubeConfig, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import YAML from 'yaml';
import { KWOK_COMPLETE, KWOK_COMPLETE_LABEL, KWOK_EXIT_CODE_ANNOTATION, type ControlPlane } from '../harness/control-plane.js';
import { httpRequest, waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';

const isNotFound = (err: unknown): boolean => (err as { code?: number }).code === 404;
const suffix = (): string => crypto.randomBytes(3).toString('hex');
const IMAGE = 'registry.invalid/paddle-e2e/none:0'; // never pulled: KWOK runs no containers

/** 127.20.0.0/16, the KWOK --cidr of the harness. */
const inPodCidr = (ip: string | undefined): boolean => /^127\.20\.\d{1,3}\.\d{1,3}$/.test(ip ?? '');

function podSpec(extra: Partial<V1PodSpec> = {}): V1PodSpec {
  return { containers: [{ name: 'main', image: IMAGE }], terminationGracePeriodSeconds: 5, ...extra };
}

describe('control plane (real components on loopback)', function () {
  let cp: ControlPlane;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  const ns = `e2e-cp-${suffix()}`;

  async function podWhere(name: string, what: string, ok: (p: V1Pod) => boolean, timeoutMs = 30_000): Promise<V1Pod> {
    return waitFor(
      `pod ${ns}/${name} ${what}`,
      async () => {
        const pod = await core.readNamespacedPod({ name, namespace: ns });
        return ok(pod) ? pod : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  before(async function () {
    cp = testCluster();
    kc = cp.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    await cp.ensureNamespace(ns);
  });

  after(async function () {
    this.timeout(60_000);
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('serves /version v1.34.4 over TLS verified against the harness CA', async function () {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).to.equal('v1.34.4');
    expect(version.major).to.equal('1');
    expect(version.minor).to.equal('34');

    const config = YAML.parse(fs.readFileSync(cp.kubeconfigPath, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
    expect(config.clusters[0].cluster).to.have.property('certificate-authority', cp.pki.caCert);
    expect(config.clusters[0].cluster).to.not.have.property('insecure-skip-tls-verify');
    expect(cp.server).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);

    // an anonymous client that does not trust the CA is refused at the TLS layer
    let tlsError: unknown;
    await httpRequest(`${cp.server}/version`).catch((err: unknown) => (tlsError = err));
    expect(String(tlsError)).to.match(/certificate/i);

    const { stdout } = await cp.kubectl(['version', '-o', 'json']);
    const kubectlVersion = JSON.parse(stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(kubectlVersion.clientVersion.gitVersion).to.equal('v1.34.4');
    expect(kubectlVersion.serverVersion.gitVersion).to.equal('v1.34.4');
  });

  it('has Ready, untainted KWOK nodes with labels and capacity', async function () {
    const nodes = (await core.listNode({ labelSelector: 'type=kwok' })).items;
    expect(nodes.map((n) => n.metadata?.name).sort()).to.deep.equal(['kwok-node-0', 'kwok-node-1', 'kwok-node-2']);
    for (const node of nodes) {
      expect(node.metadata?.labels?.['kubernetes.io/hostname']).to.equal(node.metadata?.name);
      expect(node.metadata?.annotations?.['kwok.x-k8s.io/node']).to.equal('fake');
      expect(node.spec?.taints ?? []).to.deep.equal([]);
      expect(node.status?.allocatable).to.include({ cpu: '32', memory: '256Gi', pods: '110' });
      expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
      expect(node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address).to.match(/^127\.21\./);
    }
  });

  it('schedules a StatefulSet with hostname anti-affinity onto distinct KWOK nodes and makes its pods Ready with loopback IPs', async function () {
    const labels = { app: 'web' };
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          serviceName: 'web',
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: podSpec({
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [
                    { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' },
                  ],
                },
              },
            }),
          },
        },
      },
    });
    await waitFor(
      'StatefulSet web to have 2 ready replicas',
      async () => (await apps.readNamespacedStatefulSet({ name: 'web', namespace: ns })).status?.readyReplicas === 2,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items;
    expect(pods.map((p) => p.metadata?.name).sort()).to.deep.equal(['web-0', 'web-1']);
    const nodes = pods.map((p) => p.spec?.nodeName);
    expect(new Set(nodes).size, `pods on distinct nodes: ${nodes.join(', ')}`).to.equal(2);
    for (const pod of pods) {
      expect(cp.nodeNames).to.include(pod.spec?.nodeName);
      expect(pod.status?.phase).to.equal('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
      expect(inPodCidr(pod.status?.podIP), `pod IP ${pod.status?.podIP} in 127.20.0.0/16`).to.equal(true);
    }
    expect(pods[0].status?.podIP).to.not.equal(pods[1].status?.podIP);
  });

  it('rolls out a Deployment through its ReplicaSet', async function () {
    const labels = { app: 'deploy' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'deploy' },
        spec: { replicas: 3, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec() } },
      },
    });
    await waitFor(
      'Deployment deploy to have 3 available replicas',
      async () => (await apps.readNamespacedDeployment({ name: 'deploy', namespace: ns })).status?.availableReplicas === 3,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const rs = (await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=deploy' })).items;
    expect(rs).to.have.length(1);
    expect(rs[0].metadata?.ownerReferences?.[0]).to.include({ kind: 'Deployment', name: 'deploy' });
  });

  it('garbage-collects a dependent when its owner is deleted', async function () {
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' }, data: { a: '1' } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid as string }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: ns });
    await waitFor(
      'the garbage collector to delete ConfigMap dependent',
      async () => {
        try {
          await core.readNamespacedConfigMap({ name: 'dependent', namespace: ns });
          return false;
        } catch (err) {
          if (isNotFound(err)) return true;
          throw err;
        }
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  });

  describe('static PersistentVolume binding', function () {
    const id = suffix();
    const pvName = (n: string): string => `e2e-pv-${id}-${n}`;

    after(async function () {
      await core.deleteNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns }).catch(() => undefined);
      for (const n of ['match', 'decoy']) await core.deletePersistentVolume({ name: pvName(n) }).catch(() => undefined);
    });

    it('binds a PVC to the static PV its selector matches (storage class without a StorageClass object)', async function () {
      for (const [n, dataset] of [
        ['decoy', 'other'],
        ['match', 'mnist'],
      ]) {
        await core.createPersistentVolume({
          body: {
            metadata: { name: pvName(n), labels: { 'e2e.paddlepaddle.org/dataset': dataset, 'e2e.paddlepaddle.org/run': id } },
            spec: {
              capacity: { storage: '10Gi' },
              accessModes: ['ReadWriteMany'],
              storageClassName: 'e2e-static',
              persistentVolumeReclaimPolicy: 'Retain',
              hostPath: { path: `/tmp/paddle-e2e-${id}-${n}` },
            },
          },
        });
      }
      await core.createNamespacedPersistentVolumeClaim({
        namespace: ns,
        body: {
          metadata: { name: 'data' },
          spec: {
            accessModes: ['ReadWriteMany'],
            storageClassName: 'e2e-static',
            selector: { matchLabels: { 'e2e.paddlepaddle.org/dataset': 'mnist', 'e2e.paddlepaddle.org/run': id } },
            resources: { requests: { storage: '5Gi' } },
          },
        },
      });
      const pvc = await waitFor(
        'PVC data to be Bound',
        async () => {
          const c = await core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns });
          return c.status?.phase === 'Bound' ? c : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(pvc.spec?.volumeName).to.equal(pvName('match'));
      const pv = await core.readPersistentVolume({ name: pvName('match') });
      expect(pv.status?.phase).to.equal('Bound');
      expect(pv.spec?.claimRef).to.include({ name: 'data', namespace: ns });
      expect((await core.readPersistentVolume({ name: pvName('decoy') })).status?.phase).to.equal('Available');
    });
  });

  describe('KWOK pod lifecycle', function () {
    it(`moves a pod labelled ${KWOK_COMPLETE_LABEL}=${KWOK_COMPLETE.succeeded} to Succeeded`, async function () {
      await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'done', labels: { [KWOK_COMPLETE_LABEL]: KWOK_COMPLETE.succeeded } },
          spec: podSpec({ restartPolicy: 'Never' }),
        },
      });
      const pod = await podWhere('done', 'Succeeded', (p) => p.status?.phase === 'Succeeded');
      expect(pod.spec?.nodeName).to.match(/^kwok-node-/);
      expect(pod.status?.containerStatuses?.[0].state?.terminated).to.include({ exitCode: 0, reason: 'Completed' });
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('False');
    });

    it(`moves a pod labelled ${KWOK_COMPLETE_LABEL}=${KWOK_COMPLETE.failed} to Failed with the annotated exit code`, async function () {
      await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: {
            name: 'broken',
            labels: { [KWOK_COMPLETE_LABEL]: KWOK_COMPLETE.failed },
            annotations: { [KWOK_EXIT_CODE_ANNOTATION]: '3' },
          },
          spec: podSpec({ restartPolicy: 'Never' }),
        },
      });
      const pod = await podWhere('broken', 'Failed', (p) => p.status?.phase === 'Failed');
      expect(pod.status?.containerStatuses?.[0].state?.terminated).to.include({ exitCode: 3, reason: 'Error' });
    });

    it('completes a Running pod once the label is added later', async function () {
      await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'later' }, spec: podSpec({ restartPolicy: 'Never' }) } });
      const running = await podWhere(
        'later',
        'Running and Ready',
        (p) => p.status?.phase === 'Running' && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      );
      expect(inPodCidr(running.status?.podIP)).to.equal(true);
      await cp.kubectl(['label', 'pod', 'later', '-n', ns, `${KWOK_COMPLETE_LABEL}=${KWOK_COMPLETE.succeeded}`]);
      await podWhere('later', 'Succeeded', (p) => p.status?.phase === 'Succeeded');
    });

    it('removes a deleted pod', async function () {
      await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'doomed' }, spec: podSpec() } });
      await podWhere('doomed', 'Running', (p) => p.status?.phase === 'Running');
      await core.deleteNamespacedPod({ name: 'doomed', namespace: ns });
      await waitFor(
        'pod doomed to disappear',
        async () => {
          try {
            await core.readNamespacedPod({ name: 'doomed', namespace: ns });
            return false;
          } catch (err) {
            if (isNotFound(err)) return true;
            throw err;
          }
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    });
  });

  it('finishes deleting a namespace with content (namespace controller)', async function () {
    const gone = `e2e-gone-${suffix()}`;
    await cp.ensureNamespace(gone);
    await core.createNamespacedConfigMap({ namespace: gone, body: { metadata: { name: 'x' } } });
    await core.createNamespacedPod({ namespace: gone, body: { metadata: { name: 'p' }, spec: podSpec() } });
    await core.deleteNamespace({ name: gone });
    await waitFor(
      `namespace ${gone} to be deleted`,
      async () => {
        try {
          await core.readNamespace({ name: gone });
          return false;
        } catch (err) {
          if (isNotFound(err)) return true;
          throw err;
        }
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  });

  describe('harness levers', function () {
    it('compactEtcd() compacts etcd to its current revision', async function () {
      const before = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'rev' } } });
      const oldRevision = Number(before.metadata?.resourceVersion);
      await core.replaceNamespacedConfigMap({ name: 'rev', namespace: ns, body: { metadata: { name: 'rev' }, data: { v: '2' } } });
      const compacted = await cp.compactEtcd();
      expect(compacted).to.be.greaterThan(oldRevision);
      // a read at the old revision is now refused by etcd itself
      const key = Buffer.from(`/registry/configmaps/${ns}/rev`).toString('base64');
      const res = await httpRequest(`${cp.etcdUrl}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key, revision: String(oldRevision) }),
      });
      expect(res.body).to.match(/required revision has been compacted/);
    });

    it('restartApiserver() restarts on the same URL with the data intact; a watch from a compacted resourceVersion gets 410 Gone', async function () {
      this.timeout(120_000);
      const list = await core.listNamespacedConfigMap({ namespace: ns });
      const oldRv = list.metadata?.resourceVersion as string;
      await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'after-list' } } });
      await cp.compactEtcd();
      const server = cp.server;
      await cp.restartApiserver();
      expect(cp.server).to.equal(server);
      expect((await core.readNamespacedConfigMap({ name: 'after-list', namespace: ns })).metadata?.name).to.equal('after-list');

      const res = await httpRequest(`${cp.server}/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${oldRv}`, {
        ca: fs.readFileSync(cp.pki.caCert),
        cert: fs.readFileSync(cp.pki.adminCert),
        key: fs.readFileSync(cp.pki.adminKey),
        timeoutMs: 15_000,
      });
      // either an HTTP 410, or a watch stream whose first event is an ERROR carrying a 410 Status
      const code =
        res.status === 410 ? 410 : (JSON.parse(res.body.split('\n')[0]) as { type: string; object: { code?: number } }).object.code;
      expect(code, res.body).to.equal(410);

      // the rest of the control plane is still at work after the restart
      await core.createNamespacedPod({ namespace: ns, body: { metadata: { name: 'after-restart' }, spec: podSpec() } });
      await podWhere('after-restart', 'Running', (p) => p.status?.phase === 'Running', 60_000);
    });
  });
});
