import { expect } from 'chai';
import type { KubernetesObject, V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { CONFIGMAP, PADDLEJOB, POD, SAMPLESET, SERVICE } from '../../../../src/api/constants.js';
import type { PaddleJob } from '../../../../src/api/paddlejob.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { installedEngines } from '../../../../src/engines/installed.js';
import { PaddleJobOperator, type PaddleJobOperatorOptions } from '../../../../src/operators/paddlejob/paddlejob-operator.js';
import { parseHostPorts } from '../../../../src/operators/paddlejob/host-ports.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { collectiveJob, makeSampleSet, psJob } from './fixtures.js';

type Harness = ReturnType<typeof setup>;

function setup(options: Partial<PaddleJobOperatorOptions> = {}, shared?: FakeCluster) {
  const f = shared ?? new FakeCluster();
  // the legacy-finalizer test looks at the job after its last finalizer is gone: keep it
  f.api.reapDeleted = false;
  const op = new PaddleJobOperator(f.context(1), { engines: installedEngines(), ...options });
  const jobs = f.informer<PaddleJob>(PADDLEJOB);
  const pods = f.informer<V1Pod>(POD);
  const configMaps = f.informer<V1ConfigMap>(CONFIGMAP);
  const services = f.informer(SERVICE);
  const sampleSets = f.informer<SampleSet>(SAMPLESET);
  const reconcile = async (name = 'job', ns = 'ns') => {
    const obj = jobs.get(name, ns);
    return (op as unknown as { reconcile(k: { namespace: string; name: string }, o: PaddleJob | undefined): Promise<unknown> }).reconcile(
      { namespace: ns, name },
      obj,
    );
  };
  const add = (job: PaddleJob) => f.put(PADDLEJOB, job);
  return { api: f.api, events: f.events, op, jobs, pods, configMaps, services, sampleSets, reconcile, add };
}

/** What KWOK does: every pod of the store is Running and Ready with an IP (127.20.0.<n>). */
function runAll(h: Harness, phase: 'Running' | 'Succeeded' | 'Failed' = 'Running', filter: (p: V1Pod) => boolean = () => true): void {
  let n = 0;
  for (const p of h.pods.list()) {
    n++;
    if (!filter(p)) continue;
    h.pods.put({
      ...p,
      metadata: { ...p.metadata, resourceVersion: String(Number(p.metadata!.resourceVersion ?? '1') + 1) },
      status: {
        phase,
        podIP: p.status?.podIP ?? `127.20.0.${n}`,
        containerStatuses: p.spec!.containers.map((c) => ({
          name: c.name,
          image: c.image!,
          imageID: '',
          restartCount: 0,
          ready: phase === 'Running',
          ...(phase !== 'Running' ? { state: { terminated: { exitCode: phase === 'Failed' ? 1 : 0 } } } : {}),
        })),
      },
    });
  }
}

const names = (objs: KubernetesObject[]) => objs.map((o) => o.metadata!.name).sort();

describe('PaddleJobOperator reconcile', () => {
  it('creates every pod in one pass, then the ConfigMap once all pods have IPs, then goes quiet', async () => {
    const h = setup();
    h.add(psJob(2, 3));
    await h.reconcile();
    const creates = h.api.writes().filter((c) => c.verb === 'create');
    expect(names(creates.map((c) => c.body as KubernetesObject))).to.deep.equal([
      'job-ps-0',
      'job-ps-1',
      'job-worker-0',
      'job-worker-1',
      'job-worker-2',
    ]);
    expect(h.configMaps.list(), 'no IPs yet').to.have.length(0);
    expect(h.jobs.get('job', 'ns')!.status, 'the pass that created pods leaves the status to the pass their events trigger').to.equal(
      undefined,
    );
    await h.reconcile();
    expect(h.api.writes().filter((c) => c.verb === 'create' && c.plural === 'pods')).to.have.length(5);
    expect(h.jobs.get('job', 'ns')!.status).to.deep.include({ phase: 'Pending', mode: 'PS' });
    expect(h.events.some((e) => e.reason === 'Created' && e.message.includes('job-worker-2'))).to.equal(true);

    runAll(h);
    await h.reconcile();
    const cm = h.configMaps.get('job', 'ns')!;
    const ip = (name: string) => h.pods.get(name, 'ns')!.status!.podIP;
    expect(cm.data).to.deep.include({
      PADDLE_PSERVERS_IP_PORT_LIST: `${ip('job-ps-0')}:2379,${ip('job-ps-1')}:2379`,
      PADDLE_TRAINER_ENDPOINTS: ['job-worker-0', 'job-worker-1', 'job-worker-2'].map((n) => `${ip(n)}:2379`).join(','),
      PADDLE_TRAINERS_NUM: '3',
    });
    const status = h.jobs.get('job', 'ns')!.status!;
    expect(status).to.deep.include({ phase: 'Running', observedGeneration: 1 });
    expect(status.ps).to.deep.include({ running: 2 });
    expect(status.worker!.refs!.map((r) => r.name)).to.deep.equal(['job-worker-0', 'job-worker-1', 'job-worker-2']);

    expect(
      h.events.filter((e) => e.reason === 'Pending'),
      'a new job being Pending is no news',
    ).to.deep.equal([]);
    expect(h.events.filter((e) => e.reason === 'Running')).to.have.length(1);

    const before = h.api.writes().length;
    await h.reconcile();
    await h.reconcile();
    expect(h.api.writes().slice(before), 'nothing changed: no write at all (no status poke)').to.deep.equal([]);
  });

  it('elastic jobs get no ConfigMap', async () => {
    const h = setup();
    h.add(collectiveJob(2, { elastic: 1 }));
    await h.reconcile();
    runAll(h);
    await h.reconcile();
    expect(h.configMaps.list()).to.have.length(0);
    expect(h.jobs.get('job', 'ns')!.status!.phase).to.equal('Running');
  });

  it('does not create pods twice while the cache has not caught up', async () => {
    const h = setup();
    h.api.reflect = false;
    h.add(collectiveJob(4));
    await h.reconcile();
    await h.reconcile();
    expect(h.api.writes().filter((c) => c.verb === 'create' && c.plural === 'pods')).to.have.length(4);
  });

  it('reports pod creation failures as an event and an error (backoff retry)', async () => {
    const h = setup();
    const { ApiError } = await import('../../../../src/kube/api-error.js');
    h.api.failNext = {
      match: (c) => c.verb === 'create' && c.plural === 'pods',
      count: Infinity,
      error: () => new ApiError(403, 'Forbidden', 'exceeded quota'),
    };
    h.add(collectiveJob(2));
    let err: unknown;
    await h.reconcile().catch((e: unknown) => {
      err = e;
    });
    expect((err as Error).message).to.equal('exceeded quota');
    expect(h.events.find((e) => e.reason === 'FailedCreate')!.message).to.match(/exceeded quota/);
  });

  it('scales up and down: pods and ConfigMap follow', async () => {
    const h = setup();
    const job = collectiveJob(3);
    h.add(job);
    await h.reconcile();
    runAll(h);
    await h.reconcile();
    expect(h.configMaps.get('job', 'ns')!.data!.PADDLE_TRAINERS_NUM).to.equal('3');

    h.add({
      ...job,
      metadata: { ...job.metadata, generation: 2 },
      spec: { ...job.spec, worker: { ...job.spec.worker!, replicas: 5 } },
      status: h.jobs.get('job', 'ns')!.status,
    });
    await h.reconcile();
    expect(names(h.pods.list())).to.have.length(5);
    runAll(h);
    await h.reconcile();
    expect(h.configMaps.get('job', 'ns')!.data!.PADDLE_TRAINERS_NUM).to.equal('5');

    h.add({
      ...job,
      metadata: { ...job.metadata, generation: 3 },
      spec: { ...job.spec, worker: { ...job.spec.worker!, replicas: 2 } },
      status: h.jobs.get('job', 'ns')!.status,
    });
    await h.reconcile();
    expect(names(h.pods.list())).to.deep.equal(['job-worker-0', 'job-worker-1']);
    const data = h.configMaps.get('job', 'ns')!.data!;
    expect(data.PADDLE_TRAINERS_NUM).to.equal('2');
    expect(data.PADDLE_TRAINER_ENDPOINTS.split(',')).to.have.length(2);
    expect(h.jobs.get('job', 'ns')!.status).to.deep.include({ phase: 'Running', observedGeneration: 3 });
  });

  it('records Completed before cleaning up, and never recreates cleaned pods from a stale cache', async () => {
    const h = setup();
    h.add(psJob(1, 2));
    await h.reconcile();
    runAll(h);
    await h.reconcile();
    runAll(h, 'Succeeded', (p) => p.metadata!.name!.includes('worker'));
    const stale = h.jobs.get('job', 'ns')!;
    await h.reconcile();
    const writes = h.api.writes();
    const statusWrite = writes.findIndex(
      (c) => c.subresource === 'status' && (c.body as { status: { phase: string } }).status.phase === 'Completed',
    );
    const firstDelete = writes.findIndex((c) => c.verb === 'delete');
    expect(statusWrite).to.be.greaterThan(-1);
    expect(firstDelete).to.be.greaterThan(statusWrite);
    expect(h.pods.list(), 'OnCompletion deletes every pod, parameter servers included').to.have.length(0);
    expect(h.configMaps.get('job', 'ns'), 'the ConfigMap stays').to.not.equal(undefined);

    // a reconcile that still sees the job as Running (its status event not delivered yet)
    h.jobs.put(stale);
    const before = h.api.writes().length;
    await h.reconcile();
    expect(
      h.api
        .writes()
        .slice(before)
        .filter((c) => c.verb === 'create'),
    ).to.deep.equal([]);
  });

  it('OnFailure: a failed worker fails the job and its pods are deleted', async () => {
    const h = setup();
    h.add(collectiveJob(3, { cleanPodPolicy: 'OnFailure' }));
    await h.reconcile();
    runAll(h);
    await h.reconcile();
    runAll(h, 'Failed', (p) => p.metadata!.name === 'job-worker-1');
    await h.reconcile();
    const st = h.jobs.get('job', 'ns')!.status!;
    expect(st.phase).to.equal('Failed');
    expect(st.conditions!.find((c) => c.type === 'Failed')!.message).to.match(/job-worker-1/);
    expect(h.pods.list()).to.have.length(0);
    expect(h.events.some((e) => e.type === 'Warning' && e.reason === 'Failed')).to.equal(true);
  });

  it('Never keeps the pods of an ended job', async () => {
    const h = setup();
    h.add(collectiveJob(2, { cleanPodPolicy: 'Never' }));
    await h.reconcile();
    runAll(h, 'Succeeded');
    await h.reconcile();
    expect(h.jobs.get('job', 'ns')!.status!.phase).to.equal('Completed');
    expect(h.pods.list()).to.have.length(2);
  });

  it('Service intranet: a headless Service per pod and the ConfigMap by name, before the pods run', async () => {
    const h = setup();
    h.add(psJob(1, 2, { intranet: 'Service' }));
    await h.reconcile();
    expect(names(h.services.list())).to.deep.equal(['job-ps-0', 'job-worker-0', 'job-worker-1']);
    const svc = h.services.get('job-worker-1', 'ns') as { spec: { clusterIP: string; selector: Record<string, string> } };
    expect(svc.spec.clusterIP).to.equal('None');
    expect(svc.spec.selector).to.deep.equal({ 'paddle-job-name': 'job', 'paddle-res-name': 'job-worker-1' });
    expect(h.configMaps.get('job', 'ns')!.data).to.deep.include({
      PADDLE_PSERVERS_IP_PORT_LIST: 'job-ps-0:2379',
      PADDLE_TRAINER_ENDPOINTS: 'job-worker-0:2379,job-worker-1:2379',
    });
  });

  it('Host intranet: port blocks persisted in the annotation and restored by a new operator', async () => {
    const h = setup({ hostPortRange: { min: 40000, max: 40199 } });
    h.add(psJob(1, 2, { intranet: 'Host' }));
    await h.reconcile();
    const table = parseHostPorts(h.jobs.get('job', 'ns')!.metadata.annotations!['paddlepaddle.org/host-ports']);
    expect(Object.keys(table).sort()).to.deep.equal(['ps-0', 'worker-0', 'worker-1']);
    const pod = h.pods.get('job-worker-1', 'ns')!;
    expect(pod.spec!.hostNetwork).to.equal(true);
    expect(pod.spec!.containers[0].env!.find((e) => e.name === 'PADDLE_PORT')!.value).to.equal(String(table['worker-1']));
    runAll(h);
    await h.reconcile();
    const ip = h.pods.get('job-ps-0', 'ns')!.status!.podIP;
    expect(h.configMaps.get('job', 'ns')!.data!.PADDLE_PSERVERS_IP_PORT_LIST).to.equal(`${ip}:${table['ps-0']}`);

    // a restarted operator rebuilds the table from the annotations and allocates around it
    const fresh = new FakeCluster();
    const again = setup({ hostPortRange: { min: 40000, max: 40199 } }, fresh);
    again.add(h.jobs.get('job', 'ns')!);
    expect(again.op.hostPortAllocator.tableOf('ns/job')).to.deep.equal(table);
    again.add({ ...psJob(1, 4, { intranet: 'Host' }), metadata: { ...psJob().metadata, name: 'other', uid: 'uid-other' } });
    await again.reconcile('other');
    const other = parseHostPorts(again.jobs.get('other', 'ns')!.metadata.annotations!['paddlepaddle.org/host-ports']);
    const used = new Set(Object.values(table));
    for (const p of Object.values(other)) expect(used.has(p)).to.equal(false);
    expect(Object.keys(other)).to.have.length(5);
    expect(again.op.hostPortAllocator.freeBlocks).to.equal(2);

    // when the range is exhausted the job waits with a condition
    again.add({ ...psJob(2, 2, { intranet: 'Host' }), metadata: { ...psJob().metadata, name: 'third', uid: 'uid-third' } });
    const res = await again.reconcile('third');
    expect(res).to.deep.equal({ requeueAfterMs: 30_000 });
    expect(again.pods.list('ns', (p) => p.metadata!.name!.startsWith('third'))).to.have.length(0);
    expect(again.jobs.get('third', 'ns')!.status!.conditions!.find((c) => c.type === 'HostPortsAllocated')).to.include({
      status: 'False',
      reason: 'HostPortsExhausted',
    });
  });

  it('sampleSetRef: waits with a condition until the SampleSet is Ready, then pins pods to cache nodes', async () => {
    const h = setup();
    h.add(collectiveJob(3, { sampleSetRef: { name: 'imagenet', mountPath: '/mnt/imagenet' } }));
    await h.reconcile();
    expect(h.pods.list()).to.have.length(0);
    expect(h.jobs.get('job', 'ns')!.status!.conditions!.find((c) => c.type === 'SampleSetReady')).to.include({
      status: 'False',
      reason: 'SampleSetNotFound',
    });

    h.sampleSets.put(makeSampleSet('imagenet', 2, 'Syncing'));
    expect(h.op.jobsUsingSampleSet(makeSampleSet('imagenet'))).to.deep.equal([{ namespace: 'ns', name: 'job' }]);
    expect(h.op.jobsUsingSampleSet(makeSampleSet('other'))).to.deep.equal([]);
    await h.reconcile();
    expect(h.pods.list()).to.have.length(0);
    expect(h.jobs.get('job', 'ns')!.status!.conditions!.find((c) => c.type === 'SampleSetReady')).to.include({
      reason: 'SampleSetNotReady',
    });

    h.sampleSets.put(makeSampleSet('imagenet', 2, 'Ready'));
    await h.reconcile();
    expect(h.pods.list()).to.have.length(3);
    await h.reconcile();
    const w0 = h.pods.get('job-worker-0', 'ns')!;
    expect(w0.spec!.volumes).to.deep.include({ name: 'paddle-sampleset', persistentVolumeClaim: { claimName: 'imagenet' } });
    expect(
      w0.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0].matchExpressions,
    ).to.deep.equal([{ key: 'paddlepaddle.org/juicefs-imagenet', operator: 'In', values: ['imagenet-runtime-0'] }]);
    expect(h.pods.get('job-worker-2', 'ns')!.spec!.affinity).to.equal(undefined);
    expect(h.jobs.get('job', 'ns')!.status!.conditions!.find((c) => c.type === 'SampleSetReady')).to.include({ status: 'True' });
    expect(
      h.api.writes().some((c) => c.plural === 'samplesets'),
      'the SampleSet is never written',
    ).to.equal(false);
  });

  it('sampleSetRef: a SampleSet whose cache engine is not installed holds the job with a condition naming it, no guessed names', async () => {
    const h = setup();
    h.add(collectiveJob(2, { sampleSetRef: { name: 'imagenet', mountPath: '/mnt/imagenet' } }));
    h.sampleSets.put(makeSampleSet('imagenet', 2, 'Ready', 'ns', 'alluxio'));
    await h.reconcile();
    await h.reconcile();
    expect(h.pods.list(), 'no pod is created with names the engine did not give').to.have.length(0);
    const cond = h.jobs.get('job', 'ns')!.status!.conditions!.find((c) => c.type === 'SampleSetReady')!;
    expect(cond).to.include({ status: 'False', reason: 'CacheEngineNotInstalled' });
    expect(cond.message).to.contain('"alluxio"').and.to.contain('installed: juicefs');
  });

  it('gang scheduling without the PodGroup API: a condition, and pods with the default scheduler', async () => {
    const h = setup();
    h.add(collectiveJob(2, { schedulingPolicy: { minAvailable: 2 } }));
    await h.reconcile();
    await h.reconcile();
    expect(h.jobs.get('job', 'ns')!.status!.conditions!.find((c) => c.type === 'GangScheduling')).to.include({
      status: 'False',
      reason: 'GangSchedulingUnavailable',
    });
    expect(h.pods.list()).to.have.length(2);
    expect(h.pods.get('job-worker-0', 'ns')!.spec!.schedulerName).to.equal(undefined);
  });

  it('gang scheduling required without the PodGroup API: the job waits', async () => {
    const h = setup({ requireGangScheduling: true, apiCheckTtlMs: 5000 });
    h.add(collectiveJob(2, { schedulingPolicy: {} }));
    expect(await h.reconcile()).to.deep.equal({ requeueAfterMs: 5000 });
    expect(h.pods.list()).to.have.length(0);
  });

  it('gang scheduling with the PodGroup API: a PodGroup owned by the job and Volcano on the pods', async () => {
    const h = setup();
    h.api.objects.set('customresourcedefinitions/podgroups.scheduling.volcano.sh', {
      metadata: { name: 'podgroups.scheduling.volcano.sh' },
      spec: { versions: [{ name: 'v1beta1', served: true }] },
    } as KubernetesObject);
    h.add(psJob(2, 3, { schedulingPolicy: { queue: 'q' } }));
    await h.reconcile();
    const pg = h.api.objects.get('podgroups/ns/job') as unknown as {
      spec: { minMember: number; queue: string };
      metadata: { ownerReferences: { uid: string }[] };
    };
    expect(pg.spec).to.deep.include({ minMember: 5, queue: 'q' });
    expect(pg.metadata.ownerReferences[0].uid).to.equal('uid-job');
    const pod = h.pods.get('job-ps-0', 'ns')!;
    expect(pod.spec!.schedulerName).to.equal('volcano');
    expect(pod.metadata!.annotations!['scheduling.k8s.io/group-name']).to.equal('job');
    // read once per generation, not on every pass
    const gets = () => h.api.calls.filter((c) => c.plural === 'podgroups').length;
    const n = gets();
    await h.reconcile();
    expect(gets()).to.equal(n);
  });

  it('rejects names that cannot become pod labels with a condition, creating nothing', async () => {
    const h = setup();
    const job = collectiveJob(2);
    job.metadata.name = 'x'.repeat(55);
    h.add(job);
    await h.reconcile(job.metadata.name);
    expect(h.pods.list()).to.have.length(0);
    expect(h.jobs.get(job.metadata.name, 'ns')!.status!.conditions!.find((c) => c.type === 'SpecValid')).to.include({
      status: 'False',
      reason: 'NameTooLong',
    });
  });

  it('removes the legacy finalizer of a deleted job and forgets a vanished one', async () => {
    const h = setup();
    const job = collectiveJob(1);
    job.metadata.finalizers = ['finalizers.paddlepaddle.org'];
    job.metadata.deletionTimestamp = new Date();
    h.add(job);
    await h.reconcile();
    expect(h.api.writes()).to.have.length(1);
    expect(h.jobs.get('job', 'ns')!.metadata.finalizers).to.deep.equal([]);
    h.jobs.remove('job', 'ns');
    expect(await h.reconcile()).to.equal(undefined);
  });
});
