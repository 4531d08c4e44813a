// PaddleJob operator against the real control plane: kube-scheduler places the pods on KWOK nodes,
// KWOK runs and finishes them, kube-controller-manager garbage-collects what a deleted job owned.
// The operator runs in this process (informers, work queue, API client are the production ones).
import crypto from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import type {
  KubeConfig,
  V1ConfigMap,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodSpec,
  V1Service,
} from '@kubernetes/client-node';
import { CONFIGMAP, PADDLE_JOB_NAME, PADDLEJOB, POD, PODGROUP, PV, PVC, SAMPLESET, SERVICE } from '../../src/api/constants.js';
import type { PaddleJob, PaddleJobSpec, ResourceSpec } from '../../src/api/paddlejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { PaddleJobOperator } from '../../src/operators/paddlejob/index.js';
import type { PodGroup } from '../../src/operators/paddlejob/podgroup-builder.js';
import { KWOK_COMPLETE, KWOK_COMPLETE_LABEL, type ControlPlane } from '../harness/control-plane.js';
import { repoRoot, sleep, waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { operatorContext } from './operator-context.js';

const IMAGE = 'registry.invalid/paddle-e2e/none:0'; // never pulled: KWOK runs no containers
const suffix = (): string => crypto.randomBytes(3).toString('hex');
const WAIT = { timeoutMs: 60_000, intervalMs: 250 };

function role(replicas: number, spec: Partial<V1PodSpec> = {}): ResourceSpec {
  return { replicas, template: { spec: { containers: [{ name: 'main', image: IMAGE }], terminationGracePeriodSeconds: 0, ...spec } } };
}

describe('PaddleJob operator (real control plane)', function () {
  let cp: ControlPlane;
  let kc: KubeConfig;
  let api: KubeApi;
  let informers: InformerFactory;
  let op: PaddleJobOperator;
  const ns = `e2e-pdj-${suffix()}`;
  const labelledNodes: { node: string; key: string }[] = [];

  async function createJob(name: string, spec: Partial<PaddleJobSpec>): Promise<PaddleJob> {
    return api.create<PaddleJob>(PADDLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1',
      kind: 'PaddleJob',
      metadata: { name, namespace: ns },
      spec: spec,
    });
  }
  const getJob = (name: string) => api.get<PaddleJob>(PADDLEJOB, name, ns);
  const podsOf = async (job: string) =>
    (await api.list<V1Pod>(POD, ns, { labelSelector: `${PADDLE_JOB_NAME}=${job}` })).items.sort((a, b) =>
      a.metadata!.name!.localeCompare(b.metadata!.name!),
    );
  const names = (objs: { metadata?: { name?: string } }[]) => objs.map((o) => o.metadata!.name!).sort();

  async function jobWhere(name: string, what: string, ok: (j: PaddleJob) => boolean, timeoutMs = WAIT.timeoutMs): Promise<PaddleJob> {
    return waitFor(
      `PaddleJob ${ns}/${name} ${what}`,
      async () => {
        const j = await getJob(name);
        return j && ok(j) ? j : undefined;
      },
      { ...WAIT, timeoutMs },
    );
  }

  async function podsWhere(job: string, what: string, ok: (pods: V1Pod[]) => boolean, timeoutMs = WAIT.timeoutMs): Promise<V1Pod[]> {
    return waitFor(
      `pods of ${ns}/${job} ${what}`,
      async () => {
        const pods = await podsOf(job);
        return ok(pods) ? pods : undefined;
      },
      { ...WAIT, timeoutMs },
    );
  }

  const allRunning = (n: number) => (pods: V1Pod[]) =>
    pods.length === n && pods.every((p) => p.status?.phase === 'Running' && p.status.podIP);

  async function configMapOf(job: string, ok: (cm: V1ConfigMap) => boolean = () => true): Promise<V1ConfigMap> {
    return waitFor(
      `ConfigMap ${ns}/${job}`,
      async () => {
        const cm = await api.get<V1ConfigMap>(CONFIGMAP, job, ns);
        return cm && ok(cm) ? cm : undefined;
      },
      WAIT,
    );
  }

  async function labelNode(node: string, key: string, value: string): Promise<void> {
    await cp.kubectl(['label', 'node', node, `${key}=${value}`, '--overwrite']);
    labelledNodes.push({ node, key });
  }

  before(async function () {
    this.timeout(120_000);
    cp = testCluster();
    kc = cp.kubeConfig();
    api = new KubeApi(kc);
    await cp.ensureNamespace(ns);
    // the operator runs with the ServiceAccount's credentials (RBAC from kustomize/default)
    const operator = await operatorContext();
    informers = operator.informers;
    op = new PaddleJobOperator(operator.ctx, {
      engines: installedEngines(),
      apiCheckTtlMs: 1000,
      hostPortRange: { min: 36000, max: 36999 },
    });
    await op.start();
  });

  after(async function () {
    this.timeout(60_000);
    await op?.stop();
    await informers?.stopAll();
    for (const { node, key } of labelledNodes) await cp.kubectl(['label', 'node', node, `${key}-`], { allowFail: true });
    await cp.kubectl(['delete', 'crd', 'podgroups.scheduling.volcano.sh', '--ignore-not-found', '--wait=false'], { allowFail: true });
    await cp.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
  });

  it('PS 2 + 3 workers: 5 pods Running, ConfigMap with pod IPs, Running; Completed when they succeed, then OnCompletion deletes them', async function () {
    await createJob('ps', { ps: role(2), worker: role(3) });
    const pods = await podsWhere('ps', 'all 5 Running', allRunning(5));
    expect(names(pods)).to.deep.equal(['ps-ps-0', 'ps-ps-1', 'ps-worker-0', 'ps-worker-1', 'ps-worker-2']);
    for (const p of pods) {
      expect(cp.nodeNames).to.include(p.spec!.nodeName);
      expect(p.metadata!.ownerReferences![0]).to.include({ kind: 'PaddleJob', name: 'ps', controller: true });
      const env = Object.fromEntries(p.spec!.containers[0].env!.map((e) => [e.name, e]));
      expect(env.TRAINING_ROLE.value).to.equal(p.metadata!.name!.includes('-ps-') ? 'PSERVER' : 'TRAINER');
      expect(env.PADDLE_TRAINER_ID.value).to.equal(p.metadata!.name!.slice(-1));
      expect(p.spec!.containers[0].envFrom).to.deep.equal([{ configMapRef: { name: 'ps' } }]);
    }
    const ip = (name: string) => pods.find((p) => p.metadata!.name === name)!.status!.podIP;
    const cm = await configMapOf('ps');
    expect(cm.data).to.deep.equal({
      PADDLE_PORT: '2379',
      TRAINER_PORTS_NUM: '20',
      PADDLE_PSERVERS_IP_PORT_LIST: `${ip('ps-ps-0')}:2379,${ip('ps-ps-1')}:2379`,
      PADDLE_TRAINER_ENDPOINTS: `${ip('ps-worker-0')}:2379,${ip('ps-worker-1')}:2379,${ip('ps-worker-2')}:2379`,
      PADDLE_TRAINERS: `${ip('ps-worker-0')},${ip('ps-worker-1')},${ip('ps-worker-2')}`,
      PADDLE_TRAINERS_NUM: '3',
    });
    const running = await jobWhere('ps', 'Running', (j) => j.status?.phase === 'Running');
    expect(running.status).to.deep.include({ mode: 'PS', observedGeneration: 1 });
    expect(running.status!.ps).to.deep.include({ running: 2, pending: 0 });
    expect(running.status!.worker).to.deep.include({ running: 3 });
    expect(running.status!.worker!.refs!.map((r) => r.name)).to.deep.equal(['ps-worker-0', 'ps-worker-1', 'ps-worker-2']);
    expect(running.status!.startTime).to.be.a('string');

    // nothing changes: the operator does not write the job again (no status "poke")
    await sleep(3000);
    expect((await getJob('ps'))!.metadata.resourceVersion).to.equal(running.metadata.resourceVersion);

    await cp.kubectl(['label', 'pods', '-n', ns, '-l', `${PADDLE_JOB_NAME}=ps`, `${KWOK_COMPLETE_LABEL}=${KWOK_COMPLETE.succeeded}`]);
    const done = await jobWhere('ps', 'Completed', (j) => j.status?.phase === 'Completed');
    expect(done.status!.completionTime).to.be.a('string');
    expect(done.status!.conditions!.find((c) => c.type === 'Completed')).to.include({ status: 'True' });
    await podsWhere('ps', 'deleted by cleanPodPolicy OnCompletion', (p) => p.length === 0);
    expect(await api.get(CONFIGMAP, 'ps', ns), 'the ConfigMap is kept').to.not.equal(undefined);
    expect((await getJob('ps'))!.status!.phase, 'an ended job stays Completed once its pods are gone').to.equal('Completed');
  });

  describe('sampleSetRef', function () {
    const ss = `cache-${suffix()}`;
    const labelKey = `paddlepaddle.org/juicefs-${ss}`;

    before(async function () {
      // stand-ins for what the SampleSet operator and its engine create: a bound claim named like the
      // SampleSet, and the cache-node labels of runtime pods 0 and 1
      const pv = `${ns}-${ss}`;
      await api.create<V1PersistentVolume>(PV, {
        metadata: { name: pv },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteMany'],
          hostPath: { path: `/tmp/${pv}` },
          storageClassName: '',
          persistentVolumeReclaimPolicy: 'Retain',
          claimRef: { namespace: ns, name: ss },
        },
      });
      await api.create<V1PersistentVolumeClaim>(PVC, {
        metadata: { name: ss, namespace: ns },
        spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } }, storageClassName: '', volumeName: pv },
      });
      await waitFor('PVC bound', async () => (await api.get<V1PersistentVolumeClaim>(PVC, ss, ns))?.status?.phase === 'Bound', WAIT);
      await labelNode('kwok-node-1', labelKey, `${ss}-runtime-0`);
      await labelNode('kwok-node-2', labelKey, `${ss}-runtime-1`);
      await api.create<SampleSet>(SAMPLESET, {
        apiVersion: 'batch.paddlepaddle.org/v1alpha1',
        kind: 'SampleSet',
        metadata: { name: ss, namespace: ns },
        spec: { partitions: 2, secretRef: { name: `${ss}-secret` }, noSync: true },
      });
    });

    after(async function () {
      await api.delete(PV, `${ns}-${ss}`).catch(() => undefined);
    });

    it('Collective: waits for the SampleSet to be Ready, then lands workers 0 and 1 on the cache nodes with the claim mounted', async function () {
      await createJob('coll', { worker: role(3), sampleSetRef: { name: ss, mountPath: '/mnt/data' } });
      const waiting = await jobWhere(
        'coll',
        'waiting for its SampleSet',
        (j) => j.status?.conditions?.some((c) => c.type === 'SampleSetReady') === true,
      );
      expect(waiting.status!.conditions!.find((c) => c.type === 'SampleSetReady')).to.include({
        status: 'False',
        reason: 'SampleSetNotReady',
      });
      expect(waiting.status!.phase).to.equal('Pending');
      expect(await podsOf('coll'), 'no pods while the SampleSet is not Ready').to.have.length(0);

      await api.patch(SAMPLESET, ss, ns, { status: { phase: 'Ready' } }, 'merge', { subresource: 'status' });
      const pods = await podsWhere('coll', 'all 3 Running', allRunning(3));
      const byName = Object.fromEntries(pods.map((p) => [p.metadata!.name!, p]));
      expect(byName['coll-worker-0'].spec!.nodeName).to.equal('kwok-node-1');
      expect(byName['coll-worker-1'].spec!.nodeName).to.equal('kwok-node-2');
      for (const p of pods) {
        expect(p.spec!.volumes).to.deep.include({ name: 'paddle-sampleset', persistentVolumeClaim: { claimName: ss } });
        expect(p.spec!.containers[0].volumeMounts).to.deep.include({ name: 'paddle-sampleset', mountPath: '/mnt/data' });
      }
      const j = await jobWhere('coll', 'Running', (x) => x.status?.phase === 'Running');
      expect(j.status).to.deep.include({ mode: 'Collective' });
      expect(j.status!.conditions!.find((c) => c.type === 'SampleSetReady')).to.include({ status: 'True' });
      const sampleSet = (await api.get<SampleSet>(SAMPLESET, ss, ns))!;
      expect(sampleSet.metadata.generation, 'the SampleSet is never written').to.equal(1);
    });

    it('a user node-selector term that excludes a cache node leaves that worker unschedulable instead of ignoring either constraint', async function () {
      const affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['kwok-node-2'] }] }],
          },
        },
      };
      await createJob('strict', { worker: role(2, { affinity }), sampleSetRef: { name: ss, mountPath: '/mnt/data' } });
      const pods = await podsWhere('strict', 'worker-0 Running and worker-1 unschedulable', (ps) => {
        const w0 = ps.find((p) => p.metadata!.name === 'strict-worker-0');
        const w1 = ps.find((p) => p.metadata!.name === 'strict-worker-1');
        const unschedulable = w1?.status?.conditions?.some(
          (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
        );
        return w0?.status?.phase === 'Running' && !!unschedulable;
      });
      const w1 = pods.find((p) => p.metadata!.name === 'strict-worker-1')!;
      expect(pods.find((p) => p.metadata!.name === 'strict-worker-0')!.spec!.nodeName).to.equal('kwok-node-1');
      expect(w1.spec!.nodeName).to.equal(undefined);
      expect(w1.status!.phase).to.equal('Pending');
      const terms = w1.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
      expect(terms).to.have.length(1);
      expect(terms[0].matchExpressions).to.deep.equal([
        { key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['kwok-node-2'] },
        { key: labelKey, operator: 'In', values: [`${ss}-runtime-1`] },
      ]);
      // the job's status is written after its pods: wait for it rather than read it at once
      await jobWhere('strict', 'Pending', (j) => j.status?.phase === 'Pending');
    });
  });

  it('scales workers 3 → 5 → 2: pods and ConfigMap follow', async function () {
    await createJob('scale', { worker: role(3) });
    await podsWhere('scale', '3 Running', allRunning(3));
    await configMapOf('scale', (cm) => cm.data?.PADDLE_TRAINERS_NUM === '3');

    await api.patch(PADDLEJOB, 'scale', ns, { spec: { worker: { replicas: 5 } } });
    let pods = await podsWhere('scale', '5 Running', allRunning(5));
    let cm = await configMapOf('scale', (c) => c.data?.PADDLE_TRAINERS_NUM === '5');
    expect(cm.data!.PADDLE_TRAINER_ENDPOINTS.split(',')).to.deep.equal(pods.map((p) => `${p.status!.podIP}:2379`));

    await api.patch(PADDLEJOB, 'scale', ns, { spec: { worker: { replicas: 2 } } });
    pods = await podsWhere('scale', 'down to 2', (ps) => ps.length === 2);
    expect(names(pods)).to.deep.equal(['scale-worker-0', 'scale-worker-1']);
    cm = await configMapOf('scale', (c) => c.data?.PADDLE_TRAINERS_NUM === '2');
    expect(cm.data!.PADDLE_TRAINER_ENDPOINTS).to.equal(pods.map((p) => `${p.status!.podIP}:2379`).join(','));
    const j = await jobWhere('scale', 'Running at generation 3', (x) => x.status?.phase === 'Running' && x.status.observedGeneration === 3);
    expect(j.status!.worker).to.deep.include({ running: 2 });
  });

  it('a failed worker with cleanPodPolicy OnFailure: phase Failed and the pods are deleted', async function () {
    await createJob('fail', { worker: role(3), cleanPodPolicy: 'OnFailure' });
    await podsWhere('fail', '3 Running', allRunning(3));
    await cp.kubectl(['label', 'pod', '-n', ns, 'fail-worker-1', `${KWOK_COMPLETE_LABEL}=${KWOK_COMPLETE.failed}`]);
    const j = await jobWhere('fail', 'Failed', (x) => x.status?.phase === 'Failed');
    expect(j.status!.conditions!.find((c) => c.type === 'Failed')!.message).to.match(/fail-worker-1 \(exit code 1/);
    expect(j.status!.completionTime).to.be.a('string');
    await podsWhere('fail', 'deleted', (p) => p.length === 0);
  });

  it('Service intranet: one headless Service per pod and endpoints by name; deleting the job garbage-collects pods, Services and ConfigMap', async function () {
    await createJob('svc', { ps: role(1), worker: role(2), intranet: 'Service' });
    await podsWhere('svc', '3 Running', allRunning(3));
    const services = await waitFor(
      '3 Services',
      async () => {
        const list = (await api.list<V1Service>(SERVICE, ns, { labelSelector: `${PADDLE_JOB_NAME}=svc` })).items;
        return list.length === 3 ? list : undefined;
      },
      WAIT,
    );
    expect(names(services)).to.deep.equal(['svc-ps-0', 'svc-worker-0', 'svc-worker-1']);
    for (const s of services) {
      expect(s.spec!.clusterIP).to.equal('None');
      expect(s.spec!.selector).to.deep.equal({ [PADDLE_JOB_NAME]: 'svc', 'paddle-res-name': s.metadata!.name });
      expect(s.spec!.ports).to.have.length(20);
      expect(s.metadata!.ownerReferences![0]).to.include({ kind: 'PaddleJob', name: 'svc' });
    }
    const cm = await configMapOf('svc');
    expect(cm.data).to.deep.include({
      PADDLE_PSERVERS_IP_PORT_LIST: 'svc-ps-0:2379',
      PADDLE_TRAINER_ENDPOINTS: 'svc-worker-0:2379,svc-worker-1:2379',
      PADDLE_TRAINERS: 'svc-worker-0,svc-worker-1',
    });
    const w0 = (await podsOf('svc')).find((p) => p.metadata!.name === 'svc-worker-0')!;
    expect(w0.spec!.containers[0].env!.find((e) => e.name === 'POD_IP')!.value).to.equal('svc-worker-0');

    await api.delete(PADDLEJOB, 'svc', ns);
    await waitFor(
      'pods, Services and ConfigMap of svc garbage-collected',
      async () => {
        const [pods, svcs, cms] = await Promise.all([
          podsOf('svc'),
          api.list(SERVICE, ns, { labelSelector: `${PADDLE_JOB_NAME}=svc` }),
          api.list(CONFIGMAP, ns, { labelSelector: `${PADDLE_JOB_NAME}=svc` }),
        ]);
        return pods.length + svcs.items.length + cms.items.length === 0;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  });

  it('Host intranet: host network, a port block per pod from the configured range, endpoints at node IPs', async function () {
    await createJob('host', { ps: role(1), worker: role(2), intranet: 'Host' });
    const pods = await podsWhere('host', '3 Running', allRunning(3));
    const job = (await getJob('host'))!;
    const table = JSON.parse(job.metadata.annotations!['paddlepaddle.org/host-ports']) as Record<string, number>;
    expect(Object.keys(table).sort()).to.deep.equal(['ps-0', 'worker-0', 'worker-1']);
    const ports = Object.values(table);
    expect(new Set(ports).size).to.equal(3);
    for (const p of ports) expect(p).to.be.within(36000, 36980);
    const byName = Object.fromEntries(pods.map((p) => [p.metadata!.name!, p]));
    for (const p of pods) {
      expect(p.spec!.hostNetwork).to.equal(true);
      expect(p.status!.podIP).to.equal(p.status!.hostIP);
    }
    const cm = await configMapOf('host');
    expect(cm.data!.PADDLE_PSERVERS_IP_PORT_LIST).to.equal(`${byName['host-ps-0'].status!.podIP}:${table['ps-0']}`);
    expect(cm.data!.PADDLE_TRAINER_ENDPOINTS).to.equal(
      `${byName['host-worker-0'].status!.podIP}:${table['worker-0']},${byName['host-worker-1'].status!.podIP}:${table['worker-1']}`,
    );
  });

  it('with the Volcano PodGroup API installed: a PodGroup owned by the job with the right minMember, and Volcano on the pods', async function () {
    await createJob('gang0', { worker: role(2), schedulingPolicy: { queue: 'default' } });
    const before = await jobWhere(
      'gang0',
      'told gang scheduling is unavailable',
      (j) => j.status?.conditions?.some((c) => c.type === 'GangScheduling') === true,
    );
    expect(before.status!.conditions!.find((c) => c.type === 'GangScheduling')).to.include({
      status: 'False',
      reason: 'GangSchedulingUnavailable',
    });
    expect((await podsWhere('gang0', '2 Running with the default scheduler', allRunning(2)))[0].spec!.schedulerName).to.equal(
      'default-scheduler',
    );

    await cp.kubectl(['apply', '--server-side', '-f', path.join(repoRoot(), 'test/e2e/fixtures/volcano-podgroup-crd.yaml')]);
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/podgroups.scheduling.volcano.sh']);
    await sleep(1100); // the operator's answer about the API is kept for apiCheckTtlMs

    const job = await createJob('gang', {
      ps: role(2),
      worker: role(3),
      schedulingPolicy: { minAvailable: 4, queue: 'train', priorityClass: 'high' },
    });
    const pg = await waitFor('PodGroup gang', () => api.get<PodGroup>(PODGROUP, 'gang', ns), WAIT);
    expect(pg.spec).to.include({ minMember: 4, queue: 'train', priorityClassName: 'high' });
    expect(pg.metadata!.ownerReferences![0]).to.include({ uid: job.metadata.uid, controller: true });
    const pods = await podsWhere('gang', 'all 5 created', (ps) => ps.length === 5);
    for (const p of pods) {
      expect(p.spec!.schedulerName).to.equal('volcano');
      expect(p.metadata!.annotations).to.include({ 'scheduling.k8s.io/group-name': 'gang', 'volcano.sh/queue-name': 'train' });
    }
    const j = await jobWhere(
      'gang',
      'GangScheduling True',
      (x) => x.status?.conditions?.some((c) => c.type === 'GangScheduling' && c.status === 'True') === true,
    );
    expect(j.status!.phase, 'no Volcano scheduler runs here: the pods wait').to.equal('Pending');

    // without minAvailable the group needs every pod
    await createJob('gang2', { ps: role(1), worker: role(2), schedulingPolicy: {} });
    const pg2 = await waitFor('PodGroup gang2', () => api.get<PodGroup>(PODGROUP, 'gang2', ns), WAIT);
    expect(pg2.spec.minMember).to.equal(3);
  });
});
