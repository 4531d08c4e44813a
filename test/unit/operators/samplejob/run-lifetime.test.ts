// How long a SampleJob run lives and what it runs against: the active deadline (time spent
// Pending counts; a schedule bounds its children by default) and the SampleSet's identity (a
// SampleSet deleted and created again under the same name never receives an old run).
import { expect } from 'chai';
import { SAMPLESET } from '../../../../src/api/constants.js';
import type { SampleJob } from '../../../../src/api/samplejob.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import {
  defaultChildDeadlineSeconds,
  runDeadline,
  untilDeadline,
  MIN_DEFAULT_CHILD_DEADLINE_SECONDS,
} from '../../../../src/operators/samplejob/run-deadline.js';
import { buildChild, decideSchedule } from '../../../../src/operators/samplejob/schedule.js';
import { SampleJobOperator } from '../../../../src/operators/samplejob/samplejob-operator.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { FakeRuntime } from './fake-runtime.js';
import { baseUrl, getJob, NS, runtimePod, sampleJob, sampleSet, startedOperator, until } from './fixtures.js';

const job = (spec: Partial<SampleJob['spec']>, created = '2026-12-03T10:00:00Z'): SampleJob => ({
  apiVersion: 'batch.paddlepaddle.org/v1alpha1',
  kind: 'SampleJob',
  metadata: { name: 'j', namespace: NS, uid: 'u1', creationTimestamp: created as unknown as Date },
  spec: { type: 'warmup', sampleSetRef: { name: 'ds' }, ...spec },
});

describe('SampleJob run lifetime (pure)', () => {
  it('the deadline counts from creation; none without activeDeadlineSeconds', () => {
    expect(runDeadline(job({ activeDeadlineSeconds: 90 }))).to.equal(Date.parse('2026-12-03T10:01:30Z'));
    expect(runDeadline(job({}))).to.equal(undefined);
  });

  it('a requeue is brought forward to the deadline, never later', () => {
    expect(untilDeadline({ requeueAfterMs: 5000 }, 1000 + 2000, 1000)).to.deep.equal({ requeueAfterMs: 2000 });
    expect(untilDeadline({ requeueAfterMs: 500 }, 1000 + 2000, 1000)).to.deep.equal({ requeueAfterMs: 500 });
    expect(untilDeadline(undefined, 1000 + 2000, 1000)).to.deep.equal({ requeueAfterMs: 2000 });
    expect(untilDeadline(undefined, undefined, 1000)).to.equal(undefined);
    expect(untilDeadline(undefined, 500, 1000)).to.deep.equal({ requeueAfterMs: 0 });
  });

  it('a schedule gives each child the time until the next run (at least a minute) unless the parent sets a deadline', () => {
    expect(defaultChildDeadlineSeconds(0, 3_600_000)).to.equal(3600);
    expect(defaultChildDeadlineSeconds(0, 1000)).to.equal(MIN_DEFAULT_CHILD_DEADLINE_SECONDS);
    expect(defaultChildDeadlineSeconds(0, undefined)).to.equal(undefined);
    const parent = (extra: Partial<SampleJob['spec']>): SampleJob => ({
      ...job({ schedule: '0 * * * *', ...extra }, '2026-12-03T09:30:00Z'),
      status: { lastScheduleTime: '2026-12-03T09:00:00Z' },
    });
    const now = Date.parse('2026-12-03T10:00:05Z');
    const hourly = decideSchedule(parent({}), [], now);
    expect(hourly.toCreate).to.include({ activeDeadlineSeconds: 3600 });
    const own = decideSchedule(parent({ activeDeadlineSeconds: 600 }), [], now);
    expect(own.toCreate).to.include({ activeDeadlineSeconds: 600 });
    const forbid = decideSchedule(parent({ concurrencyPolicy: 'Forbid' }), [], now);
    expect(forbid.toCreate).to.not.have.property('activeDeadlineSeconds');
    const child = buildChild(parent({}), 'j-1', new Date('2026-12-03T10:00:00Z'), 3600);
    expect(child.spec.activeDeadlineSeconds).to.equal(3600);
    expect(child.spec.schedule).to.equal(undefined);
  });
});

describe('SampleJob run lifetime (operator on the fake cluster)', () => {
  let kube: FakeCluster;
  let rt: FakeRuntime;
  let op: SampleJobOperator;

  beforeEach(async () => {
    kube = new FakeCluster();
    rt = new FakeRuntime();
    op = await startedOperator(kube, rt);
  });
  afterEach(async () => {
    await op.stop(1000);
  });

  const condition = (name: string) => getJob(kube, name)?.status?.conditions?.find((c) => c.type === 'Succeeded');

  it('a run still Pending at its active deadline fails with DeadlineExceeded (it never waits without bound)', async () => {
    sampleSet(kube, 'ds', 1, 'Bound');
    sampleJob(kube, 'late', { type: 'warmup', activeDeadlineSeconds: 1 });
    await until(() => getJob(kube, 'late')?.status?.phase === 'Pending', 2000, 'Pending');
    await until(() => getJob(kube, 'late')?.status?.phase === 'Failed', 4000, 'Failed at the deadline');
    expect(condition('late')).to.include({ status: 'False', reason: 'DeadlineExceeded' });
    expect(kube.events.some((e) => e.reason === 'DeadlineExceeded')).to.equal(true);
    expect(getJob(kube, 'late')?.metadata?.finalizers ?? []).to.deep.equal([]);
  });

  it('a running run at its deadline is cancelled on the runtime pods and fails', async () => {
    sampleSet(kube, 'ds', 1);
    runtimePod(kube, 'ds', 0);
    sampleJob(kube, 'slow', { type: 'warmup', activeDeadlineSeconds: 1 });
    await until(() => rt.count('submit') === 1, 2000, 'submission');
    const id = getJob(kube, 'slow')!.status!.jobName!;
    rt.update(baseUrl(0), id, 'running');
    await until(() => getJob(kube, 'slow')?.status?.phase === 'Failed', 4000, 'Failed at the deadline');
    expect(condition('slow')?.reason).to.equal('DeadlineExceeded');
    expect(rt.calls.filter((c) => c.op === 'cancel').map((c) => [c.baseUrl, c.id])).to.deep.equal([[baseUrl(0), id]]);
  });

  it('records the SampleSet UID; a SampleSet created again under the same name fails the old run (SampleSetReplaced)', async () => {
    sampleSet(kube, 'ds', 1);
    runtimePod(kube, 'ds', 0);
    sampleJob(kube, 'warm', { type: 'warmup' });
    await until(() => rt.count('submit') === 1, 2000, 'submission');
    const first = kube.get<SampleSet>(SAMPLESET, 'ds', NS)!;
    expect(getJob(kube, 'warm')!.status!.sampleSetUID).to.equal(first.metadata.uid);
    const id = getJob(kube, 'warm')!.status!.jobName!;
    rt.update(baseUrl(0), id, 'running');
    // deleted and created again between two looks of the operator: same name, new UID
    kube.put(SAMPLESET, { ...first, metadata: { ...first.metadata, uid: 'a-new-sampleset', resourceVersion: undefined } });
    await until(() => getJob(kube, 'warm')?.status?.phase === 'Failed', 3000, 'Failed');
    expect(condition('warm')).to.include({ reason: 'SampleSetReplaced' });
    expect(condition('warm')!.message).to.match(/created again/);
    expect(rt.count('submit')).to.equal(1);
    expect(rt.count('cancel')).to.equal(1);
  });
});
