import { expect } from 'chai';
import type { V1Node, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { NODE, POD, PVC, SAMPLEJOB, SAMPLESET, SECRET, STATEFULSET } from '../../../../src/api/constants.js';
import type { SampleJob } from '../../../../src/api/samplejob.js';
import type { CacheNodeRewarm, SampleSet } from '../../../../src/api/sampleset.js';
import { kubeTime } from '../../../../src/api/time.js';
import { ExampleEngine } from '../../../../src/engines/example/example-engine.js';
import { EngineRegistry } from '../../../../src/engines/registry.js';
import { CacheStatsNotifier } from '../../../../src/operators/shared/cache-stats-notifier.js';
import { SampleSetOperator } from '../../../../src/operators/sampleset/sampleset-operator.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { NS, baseUrl, runtimePod, until } from '../samplejob/fixtures.js';
import { FakeSampleSetRuntime } from './fake-runtime.js';

/**
 * The SampleSet operator warms a partition's shard again when the last warmup did not warm what its
 * runtime pod holds now: a pod replaced on another node, or added by a scale-up.
 */
describe('SampleSetOperator: automatic re-warm of replaced and added partitions', () => {
  let kube: FakeCluster;
  let op: SampleSetOperator | undefined;
  let rt: FakeSampleSetRuntime;

  const get = (): SampleSet => kube.get<SampleSet>(SAMPLESET, 'ds', NS)!;
  const rewarmOf = (i: number): CacheNodeRewarm | undefined => get().status?.nodes?.[i]?.rewarm;
  const events = (reason: string): string[] => kube.events.filter((e) => e.reason === reason).map((e) => e.message);
  const rewarmSubmits = (): { baseUrl: string; id?: string; options?: unknown }[] =>
    rt.calls
      .filter((c) => c.op === 'submit' && c.id?.startsWith('rewarm-'))
      .map((c) => ({ baseUrl: c.baseUrl, id: c.id, options: c.req?.options }));

  async function startOperator(): Promise<void> {
    op = new SampleSetOperator(
      kube.context(4),
      new EngineRegistry([new ExampleEngine()]),
      rt,
      { runtimeImage: 'img', conflictRetryMs: 50, statsRetryMs: 10 },
      new CacheStatsNotifier(),
    );
    await op.start();
  }

  /** Partition i's pod, made (again) on `node` now. */
  function podOn(i: number, node: string, uid: string): void {
    const p = runtimePod(kube, 'ds', i, { uid });
    kube.put<V1Pod>(POD, {
      ...p,
      metadata: { ...p.metadata, creationTimestamp: new Date().toISOString() as unknown as Date },
      spec: { ...p.spec!, nodeName: node },
    });
  }

  /** A warmup SampleJob that succeeded on both partitions' current nodes, a moment from now. */
  function warmupSucceeded(name: string, partitions = 2): SampleJob {
    return kube.put<SampleJob>(SAMPLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name, namespace: NS },
      spec: { type: 'warmup', sampleSetRef: { name: 'ds' }, warmupOptions: { paths: ['/train'] } },
      status: {
        phase: 'Succeeded',
        sampleSetUID: get().metadata.uid,
        completionTime: kubeTime(Date.now() + 2000),
        nodes: Array.from({ length: partitions }, (_, i) => ({ pod: `ds-runtime-${i}`, node: `node-${i}`, phase: 'Succeeded' })),
      },
    });
  }

  beforeEach(async () => {
    kube = new FakeCluster();
    rt = new FakeSampleSetRuntime();
    for (let i = 0; i < 4; i++) {
      kube.put<V1Node>(NODE, { metadata: { name: `node-${i}` }, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
    }
    kube.put(SECRET, { metadata: { name: 'vol', namespace: NS }, data: {} });
    kube.put(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'ds', namespace: NS, generation: 1 },
      spec: { partitions: 2, secretRef: { name: 'vol' }, csi: { driver: 'example' }, noSync: true },
    });
    await startOperator();
    await until(() => !!kube.get(STATEFULSET, 'ds-runtime', NS), 2000, 'runtime StatefulSet');
    const pvc = kube.get<V1PersistentVolumeClaim>(PVC, 'ds', NS)!;
    kube.put(PVC, { ...pvc, status: { phase: 'Bound' } });
    runtimePod(kube, 'ds', 0);
    runtimePod(kube, 'ds', 1);
    await until(() => get().status?.phase === 'Ready', 2000, 'Ready');
  });
  afterEach(async () => {
    await op?.stop(1000);
    op = undefined;
  });

  it('a partition replaced on another node gets its shard warmed once with the last warmup; an operator restart neither repeats nor loses it', async () => {
    warmupSucceeded('warm');
    await new Promise((r) => setTimeout(r, 150));
    expect(rewarmSubmits(), 'nothing while the warmup covers every pod').to.deep.equal([]);

    podOn(1, 'node-2', 'pod-ds-runtime-1-2');
    await until(() => rewarmSubmits().length === 1, 2000, 'a re-warm submitted');
    const [sub] = rewarmSubmits();
    expect(sub.baseUrl).to.equal(baseUrl(1));
    expect(sub.options).to.deep.equal({ shard: 1, shards: 2, paths: ['/train'] });
    await until(() => rewarmOf(1)?.phase === 'Pending', 2000, 'the re-warm in status');
    expect(rewarmOf(1)).to.include({ warmup: 'warm', id: sub.id, shard: 1, shards: 2, podUID: 'pod-ds-runtime-1-2' });
    expect(rewarmOf(0)).to.equal(undefined);
    await until(() => events('RewarmStarted').length === 1, 2000, 'RewarmStarted');
    expect(events('RewarmStarted')[0]).to.equal(
      'warming shard 2/2 on runtime pod ds-runtime-1 again with warmup SampleJob warm: warmup warm warmed partition 1 on node node-1',
    );

    // the operator restarts while it runs: the new one asks the pod instead of submitting again
    await op!.stop(1000);
    await startOperator();
    await until(() => rt.calls.some((c) => c.op === 'get' && c.id === sub.id), 2000, 'the re-warm looked up');
    rt.update(baseUrl(1), sub.id!, 'running');
    await until(() => rewarmOf(1)?.phase === 'Running', 2000, 'Running');
    rt.update(baseUrl(1), sub.id!, 'succeeded');
    await until(() => rewarmOf(1)?.phase === 'Succeeded', 2000, 'Succeeded');
    expect(rewarmOf(1)?.completionTime).to.be.a('string');
    await until(() => events('RewarmSucceeded').length === 1, 2000, 'RewarmSucceeded');
    expect(events('RewarmSucceeded')[0]).to.equal('re-warm of shard 2/2 on runtime pod ds-runtime-1 (warmup SampleJob warm) succeeded');

    // later passes and another restart leave it done
    await op!.stop(1000);
    await startOperator();
    podOn(0, 'node-0', 'pod-ds-runtime-0-1'); // an update of pod 0 wakes the SampleSet (same uid: not a new pod)
    await new Promise((r) => setTimeout(r, 200));
    expect(rewarmSubmits()).to.have.length(1);
    expect(get().status?.phase).to.equal('Ready');
  });

  it('a scale-up warms every partition for the new sharding; a failure is shown with a Warning and not retried', async () => {
    warmupSucceeded('warm');
    kube.put(SAMPLESET, { ...get(), spec: { ...get().spec, partitions: 3 } });
    podOn(2, 'node-2', 'pod-ds-runtime-2-1');
    await until(() => rewarmSubmits().length === 3, 2000, 'three re-warms');
    expect(rewarmSubmits().map((s) => [s.baseUrl, s.options])).to.have.deep.members([
      [baseUrl(0), { shard: 0, shards: 3, paths: ['/train'] }],
      [baseUrl(1), { shard: 1, shards: 3, paths: ['/train'] }],
      [baseUrl(2), { shard: 2, shards: 3, paths: ['/train'] }],
    ]);
    for (const s of rewarmSubmits()) rt.update(s.baseUrl, s.id!, s.baseUrl === baseUrl(2) ? 'failed' : 'succeeded', { message: 'boom' });
    await until(() => [0, 1, 2].every((i) => ['Succeeded', 'Failed'].includes(rewarmOf(i)?.phase ?? '')), 2000, 'all finished');
    expect(rewarmOf(2)).to.include({ phase: 'Failed', message: 'boom' });
    await until(() => events('RewarmFailed').length === 1, 2000, 'RewarmFailed');
    expect(events('RewarmFailed')[0]).to.contain('run a warmup SampleJob to warm the shard again');
    await new Promise((r) => setTimeout(r, 200));
    expect(rewarmSubmits()).to.have.length(3);
  });

  it('no re-warm after a clear that finished later, nor while a warmup runs', async () => {
    warmupSucceeded('warm');
    kube.put<SampleJob>(SAMPLEJOB, {
      metadata: { name: 'clear', namespace: NS },
      spec: { type: 'clear', sampleSetRef: { name: 'ds' } },
      status: { phase: 'Succeeded', sampleSetUID: get().metadata.uid, completionTime: kubeTime(Date.now() + 4000) },
    } as SampleJob);
    podOn(1, 'node-2', 'pod-ds-runtime-1-2');
    await new Promise((r) => setTimeout(r, 200));
    expect(rewarmSubmits()).to.deep.equal([]);

    warmupSucceeded('warm-again'); // completes before the clear: still nothing
    kube.put<SampleJob>(SAMPLEJOB, {
      metadata: { name: 'running', namespace: NS },
      spec: { type: 'warmup', sampleSetRef: { name: 'ds' } },
      status: { phase: 'Running', sampleSetUID: get().metadata.uid },
    } as SampleJob);
    podOn(0, 'node-3', 'pod-ds-runtime-0-2');
    await new Promise((r) => setTimeout(r, 200));
    expect(rewarmSubmits()).to.deep.equal([]);
  });

  it('a re-warm cancelled because its runtime shut down is run again, not shown as failed', async () => {
    warmupSucceeded('warm');
    podOn(1, 'node-2', 'pod-ds-runtime-1-2');
    await until(() => rewarmSubmits().length === 1, 2000, 'a re-warm submitted');
    const id = rewarmSubmits()[0].id!;
    rt.update(baseUrl(1), id, 'cancelled', { message: 'runtime shutting down' });
    await new Promise((r) => setTimeout(r, 100));
    rt.restart(baseUrl(1));
    await until(() => rt.job(baseUrl(1), id)?.state.status === 'pending', 3000, 'submitted again');
    expect(rewarmOf(1)?.phase).to.not.equal('Failed');
    rt.update(baseUrl(1), id, 'succeeded');
    await until(() => rewarmOf(1)?.phase === 'Succeeded', 2000, 'Succeeded');
    expect(events('RewarmFailed')).to.deep.equal([]);
  });
});
