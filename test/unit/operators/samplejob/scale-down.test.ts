// A SampleSet scaled down under a run on every partition: the removed partitions leave the run at
// once (phase Removed, an Event, said in the Succeeded condition) instead of holding it until the
// pod-wait deadline fails it with RuntimeUnavailable.
import { expect } from 'chai';
import { POD, SAMPLESET } from '../../../../src/api/constants.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { aggregateProgress } from '../../../../src/operators/samplejob/progress.js';
import { decideNode, jobPhaseOf } from '../../../../src/operators/samplejob/run-state.js';
import { SampleJobOperator } from '../../../../src/operators/samplejob/samplejob-operator.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { FakeRuntime } from './fake-runtime.js';
import { baseUrl, getJob, NS, runtimePod, sampleJob, sampleSet, startedOperator, until } from './fixtures.js';

describe('SampleJob runs and a SampleSet scale-down (pure)', () => {
  const ctx = { now: 0, maxAttempts: 3, podWaitTimeoutMs: 1000 };

  it('a node of a removed partition leaves the run, whatever it was doing; a finished one stays as it was', () => {
    const running = decideNode({ ...ctx, entry: { pod: 'ds-runtime-1', phase: 'Running', attempts: 1 }, partitionRemoved: true });
    expect(running).to.include({ action: 'remove' });
    const done = decideNode({ ...ctx, entry: { pod: 'ds-runtime-1', phase: 'Succeeded', attempts: 1 }, partitionRemoved: true });
    expect(done).to.deep.equal({ action: 'done' });
  });

  it('the run succeeds on what is left and says which partitions left it; progress ignores them', () => {
    const nodes = [
      { pod: 'ds-runtime-0', phase: 'Succeeded', attempts: 1 },
      { pod: 'ds-runtime-1', phase: 'Removed', attempts: 1, message: 'removed' },
    ];
    const r = jobPhaseOf(nodes);
    expect(r.phase).to.equal('Succeeded');
    expect(r.message).to.equal('succeeded on ds-runtime-0; ds-runtime-1 left the run when the SampleSet was scaled down');
    expect(aggregateProgress([{ phase: 'Succeeded' }, { phase: 'Removed', progress: { filesDone: 1, filesTotal: 10 } }]).percent).to.equal(
      '100%',
    );
  });
});

describe('SampleJob runs and a SampleSet scale-down (operator on the fake cluster)', () => {
  let kube: FakeCluster;
  let rt: FakeRuntime;
  let op: SampleJobOperator;

  beforeEach(async () => {
    kube = new FakeCluster();
    rt = new FakeRuntime();
    op = await startedOperator(kube, rt, { resyncMs: 300, podWaitTimeoutMs: 60_000 });
  });
  afterEach(async () => {
    await op.stop(1000);
  });

  it('a warmup on 2 partitions scaled to 1: partition 1 leaves at once, the run succeeds on partition 0', async () => {
    sampleSet(kube, 'ds', 2);
    runtimePod(kube, 'ds', 0);
    runtimePod(kube, 'ds', 1);
    sampleJob(kube, 'warm', { type: 'warmup' });
    await until(() => rt.count('submit') === 2, 2000, 'two submissions');
    const id = getJob(kube, 'warm')!.status!.jobName!;
    rt.update(baseUrl(0), id, 'running');
    rt.update(baseUrl(1), id, 'running');
    // scale down: the StatefulSet removes runtime pod 1 (and with it its node's cache)
    const ss = kube.get<SampleSet>(SAMPLESET, 'ds', NS)!;
    kube.put(SAMPLESET, { ...ss, spec: { ...ss.spec, partitions: 1 } });
    kube.remove(POD, 'ds-runtime-1', NS);
    await until(() => getJob(kube, 'warm')?.status?.nodes?.[1]?.phase === 'Removed', 2000, 'partition 1 removed from the run');
    rt.update(baseUrl(0), id, 'succeeded');
    await until(() => getJob(kube, 'warm')?.status?.phase === 'Succeeded', 2000, 'Succeeded');
    const cond = getJob(kube, 'warm')!.status!.conditions!.find((c) => c.type === 'Succeeded')!;
    expect(cond.message).to.contain('ds-runtime-1 left the run when the SampleSet was scaled down');
    expect(kube.events.some((e) => e.reason === 'PartitionRemoved')).to.equal(true);
  });
});
