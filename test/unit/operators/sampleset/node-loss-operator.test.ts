import { expect } from 'chai';
import type { V1Node, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { NODE, POD, PVC, SAMPLESET, SECRET, STATEFULSET } from '../../../../src/api/constants.js';
import type { Condition } from '../../../../src/api/conditions.js';
import type { SampleSet, SampleSetSpec } from '../../../../src/api/sampleset.js';
import { ExampleEngine } from '../../../../src/engines/example/example-engine.js';
import { EngineRegistry } from '../../../../src/engines/registry.js';
import { kubeTime } from '../../../../src/api/time.js';
import type { Clock } from '../../../../src/kube/clock.js';
import { CacheStatsNotifier } from '../../../../src/operators/shared/cache-stats-notifier.js';
import { SampleSetOperator } from '../../../../src/operators/sampleset/sampleset-operator.js';
import { UNREACHABLE_TAINT } from '../../../../src/operators/sampleset/node-loss.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { NS, runtimePod, until } from '../samplejob/fixtures.js';
import { FakeSampleSetRuntime } from './fake-runtime.js';

/**
 * The SampleSet operator when a cache node goes away: reported (phase, conditions, node entries,
 * one Event per loss), and replaced only when spec.nodeLossPolicy says so, at the time it says.
 */
/**
 * Real time plus what a test adds (a clock that stands still starves the statistics collections,
 * whose results are told apart by the time they finished).
 */
class SkippingClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

describe('SampleSetOperator: lost cache nodes', () => {
  let kube: FakeCluster;
  let clock: SkippingClock;
  let op: SampleSetOperator | undefined;
  let rt: FakeSampleSetRuntime;

  const get = (): SampleSet | undefined => kube.get<SampleSet>(SAMPLESET, 'ds', NS);
  const phase = (): string | undefined => get()?.status?.phase;
  const cond = (type: string): Condition | undefined => get()?.status?.conditions?.find((c) => c.type === type);
  const events = (reason: string): string[] => kube.events.filter((e) => e.reason === reason).map((e) => e.message);
  const podDeletes = (): string[] =>
    kube.api
      .writes()
      .filter((c) => c.verb === 'delete' && c.plural === 'pods')
      .map((c) => c.name!);

  function putNode(name: string, ready: 'True' | 'False' | 'Unknown' = 'True', taint?: string): void {
    const labels = kube.get<V1Node>(NODE, name)?.metadata?.labels ?? {};
    kube.put(NODE, {
      metadata: { name, labels },
      spec: taint ? { taints: [{ key: taint, effect: 'NoExecute' }] } : {},
      status: { conditions: [{ type: 'Ready', status: ready, lastTransitionTime: new Date(clock.now()) }] },
    });
  }

  async function readySampleSet(spec: Partial<SampleSetSpec> = {}): Promise<void> {
    kube.put(SECRET, { metadata: { name: 'vol', namespace: NS }, data: {} });
    kube.put(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'ds', namespace: NS, generation: 1 },
      spec: { partitions: 2, secretRef: { name: 'vol' }, csi: { driver: 'example' }, noSync: true, ...spec },
    });
    op = new SampleSetOperator(
      kube.context(4, clock),
      new EngineRegistry([new ExampleEngine()]),
      (rt = new FakeSampleSetRuntime()),
      { runtimeImage: 'img', conflictRetryMs: 50, statsRetryMs: 10 },
      new CacheStatsNotifier(),
    );
    await op.start();
    await until(() => !!kube.get(STATEFULSET, 'ds-runtime', NS), 2000, 'runtime StatefulSet');
    const pvc = kube.get<V1PersistentVolumeClaim>(PVC, 'ds', NS)!;
    kube.put(PVC, { ...pvc, status: { phase: 'Bound' } });
    runtimePod(kube, 'ds', 0);
    runtimePod(kube, 'ds', 1);
    await until(() => phase() === 'Ready', 2000, 'Ready');
    expect(cond('CacheNodesAvailable')).to.include({ status: 'True', observedGeneration: 1 });
  }

  /** What the StatefulSet controller and the scheduler do after a deletion: partition 1 again, on node-2. */
  function recreatedOnNode2(): void {
    const p = runtimePod(kube, 'ds', 1, { uid: 'pod-ds-runtime-1-2' });
    kube.put<V1Pod>(POD, { ...p, spec: { ...p.spec!, nodeName: 'node-2' } });
  }

  beforeEach(() => {
    kube = new FakeCluster();
    clock = new SkippingClock();
    for (let i = 0; i < 3; i++) putNode(`node-${i}`);
  });
  afterEach(async () => {
    await op?.stop(1000);
    op = undefined;
  });

  it('a NotReady node: PartialReady, CacheNodesAvailable=False NodeLost naming partition and node, the node entry says so, one Event; nothing deleted by default', async () => {
    await readySampleSet();
    await until(() => get()?.status?.cacheStatus?.cachedBytes === 2048, 2000, 'statistics from both pods');
    // from now on no collection finishes: what status shows comes from the last one
    rt.cacheStats = () => new Promise(() => undefined);
    const lostAt = clock.now();
    putNode('node-1', 'Unknown');
    await until(() => phase() === 'PartialReady', 2000, 'PartialReady');
    const since = get()!.status!.nodes![1].nodeLostSince!;
    expect(Date.parse(since)).to.be.within(lostAt - 1000, lostAt + 1000);
    expect(since).to.equal(kubeTime(Date.parse(since)));
    expect(cond('CacheNodesAvailable')).to.include({ status: 'False', reason: 'NodeLost', observedGeneration: 1 });
    expect(cond('CacheNodesAvailable')!.message).to.match(/^partition 1 \(pod ds-runtime-1\) on node node-1: node node-1 is Ready=Unknown/);
    expect(cond('Ready')).to.include({ status: 'False', reason: 'NodeLost' });
    expect(cond('RuntimeReady')).to.include({ status: 'False', reason: 'NodeLost' });
    expect(cond('CacheStatsAvailable')).to.include({ status: 'False', reason: 'NodeLost' });
    // the cache of the lost node is not counted (each pod reports 1024 cached bytes of an 8192-byte tier)
    expect(get()!.status!.cacheStatus).to.include({ cachedBytes: 1024, diskSizeBytes: 8192 });
    expect(get()!.status!.nodes![1]).to.include({ ready: false, node: 'node-1' });
    expect(get()!.status!.nodes![1].message).to.match(/^node lost: node node-1 is Ready=Unknown/);
    expect(get()!.status!.runtimeStatus).to.deep.equal({ specReplicas: 2, readyReplicas: 1, runtimeReady: '1/2' });

    // later passes (the node updates again, time goes by) neither repeat the Event nor replace the pod
    clock.advance(3_600_000);
    putNode('node-1', 'Unknown', UNREACHABLE_TAINT);
    await new Promise((r) => setTimeout(r, 100));
    expect(events('NodeLost')).to.have.length(1);
    expect(events('NodeLost')[0]).to.include('not replaced automatically');
    expect(podDeletes()).to.deep.equal([]);
    expect(get()!.status!.nodes![1].nodeLostSince).to.equal(since);

    // the node comes back: Ready again
    putNode('node-1', 'True');
    await until(() => phase() === 'Ready', 2000, 'Ready again');
    expect(cond('CacheNodesAvailable')).to.include({ status: 'True' });
    expect(get()!.status!.nodes![1]).to.not.have.property('nodeLostSince');
  });

  it('every partition lost: the totals say that no cache is reachable (the dataset size stays)', async () => {
    await readySampleSet();
    await until(() => get()?.status?.cacheStatus?.cachedBytes === 2048, 2000, 'statistics from both pods');
    putNode('node-0', 'Unknown');
    putNode('node-1', 'False');
    await until(() => get()?.status?.cacheStatus?.cachedBytes === 0, 2000, 'nothing cached is reachable');
    expect(get()!.status!.cacheStatus).to.include({ totalBytes: 4096, cachedPercentage: '0.0%', diskSizeBytes: 0 });
    expect(phase()).to.equal('Bound');
    expect(cond('CacheStatsAvailable')).to.include({ status: 'False', reason: 'NodeLost' });
  });

  it('nodeLossPolicy.replaceAfterSeconds: the pod is force-deleted once that long has passed (not before), a PartitionReplaced Event, Ready again on another node', async () => {
    await readySampleSet({ nodeLossPolicy: { replaceAfterSeconds: 30 } });
    putNode('node-1', 'False');
    await until(() => phase() === 'PartialReady', 2000, 'PartialReady');
    expect(cond('CacheNodesAvailable')!.message).to.include('replaced 30s after');
    clock.advance(28_000);
    putNode('node-1', 'False'); // any event: a pass
    await new Promise((r) => setTimeout(r, 100));
    expect(podDeletes()).to.deep.equal([]);

    clock.advance(3_000);
    putNode('node-1', 'False');
    await until(() => podDeletes().length > 0, 2000, 'the pod deleted');
    expect(podDeletes()).to.deep.equal(['ds-runtime-1']);
    expect(events('PartitionReplaced')).to.have.length(1);
    expect(events('PartitionReplaced')[0]).to.include('ds-runtime-1 of partition 1 on lost node node-1');

    recreatedOnNode2();
    await until(() => phase() === 'Ready', 2000, 'Ready on node-2');
    expect(get()!.status!.nodes![1]).to.include({ node: 'node-2', ready: true });
    expect(cond('CacheNodesAvailable')).to.include({ status: 'True' });
  });

  it('a deleted Node: lost at once; with a policy its pod is replaced at once, without one it is left to pod garbage collection', async () => {
    await readySampleSet();
    kube.remove(NODE, 'node-1');
    await until(() => cond('CacheNodesAvailable')?.reason === 'NodeLost', 2000, 'NodeLost');
    expect(cond('CacheNodesAvailable')!.message).to.include('node node-1 no longer exists');
    await new Promise((r) => setTimeout(r, 100));
    expect(podDeletes()).to.deep.equal([]);

    const ss = get()!;
    kube.put(SAMPLESET, { ...ss, spec: { ...ss.spec, nodeLossPolicy: { replaceAfterSeconds: 3600 } } });
    await until(() => podDeletes().length > 0, 2000, 'the pod deleted');
    expect(podDeletes()).to.deep.equal(['ds-runtime-1']);
  });
});
