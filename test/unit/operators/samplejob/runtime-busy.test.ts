// Issue 12, class 5 (operator side): a runtime pod whose job queue is full answers 429. The
// SampleJob waits with the condition reason RuntimeBusy and a Warning Event, and submits again
// with backoff; that is neither a failed attempt nor a reason to give up on the pod.
import { expect } from 'chai';
import { CacheStatsNotifier } from '../../../../src/operators/shared/cache-stats-notifier.js';
import { RuntimeJobWatcher, type WatchTarget } from '../../../../src/operators/shared/runtime-job-watcher.js';
import { decideNode, jobPhaseOf, runtimeBusyMessage, type NodeContext } from '../../../../src/operators/samplejob/run-state.js';
import { SampleJobOperator } from '../../../../src/operators/samplejob/samplejob-operator.js';
import { ManualClock } from '../../../../src/kube/clock.js';
import { RuntimeBusyError } from '../../../../src/operators/shared/runtime-client.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { FakeRuntime } from './fake-runtime.js';
import { baseUrl, getJob, registry, runtimePod, sampleJob, sampleSet, until } from './fixtures.js';

const NOW = 1_000_000;
const readyPod = { name: 'ds-runtime-0', uid: 'pod-a', ready: true, podIP: '10.0.0.1', nodeName: 'n1' };

describe('SampleJob and a busy runtime (429)', () => {
  describe('decideNode / jobPhaseOf', () => {
    const ctx = (more: Partial<NodeContext>): NodeContext => ({
      entry: { pod: 'ds-runtime-0', phase: 'Pending', attempts: 1 },
      pod: readyPod,
      now: NOW,
      maxAttempts: 3,
      podWaitTimeoutMs: 60_000,
      ...more,
    });
    const busyTrack = (nextSubmitAt: number) => ({
      unknown: false,
      submitPending: true,
      submitFailures: 0,
      submitError: '429',
      nextSubmitAt,
      busy: { queueLimit: 100, refusals: 4 },
    });

    it('waits without a deadline while the runtime asks to, then submits again (same attempt)', () => {
      const step = decideNode(ctx({ track: busyTrack(NOW + 5000), waitingSince: NOW - 3_600_000 }));
      expect(step).to.deep.equal({ action: 'observe', phase: 'Pending', message: runtimeBusyMessage('ds-runtime-0', 100), busy: true });
      expect(decideNode(ctx({ track: busyTrack(NOW - 1) }))).to.deep.equal({ action: 'retry-submit' });
    });

    it('names the pod and the queue size, and makes RuntimeBusy the job reason while nothing runs', () => {
      expect(runtimeBusyMessage('ds-runtime-0', 100)).to.equal(
        'RuntimeBusy: runtime pod ds-runtime-0 has a full job queue (100 pending jobs); submitting again with backoff',
      );
      const busy = { pod: 'ds-runtime-1', phase: 'Pending', attempts: 1, message: runtimeBusyMessage('ds-runtime-1', 100) };
      expect(jobPhaseOf([{ pod: 'ds-runtime-0', phase: 'Pending', attempts: 1 }, busy])).to.deep.equal({
        phase: 'Pending',
        reason: 'RuntimeBusy',
        message: 'runtime pod ds-runtime-1 has a full job queue (100 pending jobs); submitting again with backoff',
      });
      expect(jobPhaseOf([{ pod: 'ds-runtime-0', phase: 'Running', attempts: 1 }, busy]).phase).to.equal('Running');
    });
  });

  describe('RuntimeJobWatcher', () => {
    it('records a 429 as busy (not a failed submission) and waits at least Retry-After', async () => {
      const clock = new ManualClock();
      const rt = new FakeRuntime();
      const watcher = new RuntimeJobWatcher(rt, () => {}, { minRetryMs: 10, maxRetryMs: 100, maxBusyRetryMs: 30_000, clock });
      const target: WatchTarget = { key: 'ns/j', jobId: 'j1', pod: 'p-0', baseUrl: 'http://a', token: 't' };
      watcher.beginSubmit(target);
      watcher.submitFailed('j1', 'p-0', new RuntimeBusyError('full', 7000, 100));
      let t = watcher.get('j1', 'p-0')!;
      expect(t.submitFailures).to.equal(0);
      expect(t.busy).to.include({ queueLimit: 100, refusals: 1 });
      expect(t.nextSubmitAt! - clock.now()).to.equal(7000);
      watcher.submitFailed('j1', 'p-0', new RuntimeBusyError('full', undefined, 100));
      t = watcher.get('j1', 'p-0')!;
      expect(t.busy?.refusals).to.equal(2);
      expect(t.nextSubmitAt! - clock.now()).to.equal(20); // exponential without Retry-After
      // another kind of failure is a failed submission again
      watcher.submitFailed('j1', 'p-0', new Error('ECONNREFUSED'));
      t = watcher.get('j1', 'p-0')!;
      expect(t.busy).to.equal(undefined);
      expect(t.submitFailures).to.equal(1);
      watcher.submitFailed('j1', 'p-0', new RuntimeBusyError('full', 1000, 100));
      watcher.submitted('j1', 'p-0', { id: 'j1', type: 'rmr', status: 'pending' });
      expect(watcher.get('j1', 'p-0')!.busy).to.equal(undefined);
      watcher.stop();
    });
  });

  describe('SampleJobOperator', () => {
    let kube: FakeCluster;
    let rt: FakeRuntime;
    let op: SampleJobOperator;

    beforeEach(() => {
      kube = new FakeCluster();
      rt = new FakeRuntime();
    });
    afterEach(async () => {
      await op?.stop(1000);
    });

    it('sets RuntimeBusy with a Warning Event, keeps submitting with backoff past the pod wait deadline, and runs the job once there is room', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      rt.full.set(baseUrl(0), { limit: 100, retryAfterMs: 40 });
      // a short pod wait deadline: a busy runtime must not run into it
      op = new SampleJobOperator(kube.context(), registry(), rt, new CacheStatsNotifier(), {
        longPollSeconds: 20,
        progressIntervalMs: 50,
        resyncMs: 500,
        statsSettleMs: 0,
        podWaitTimeoutMs: 200,
      });
      await op.start();
      sampleJob(kube, 'rm', { type: 'rmr', rmrOptions: { paths: ['/a'] } });
      const cond = () => getJob(kube, 'rm')?.status?.conditions?.find((c) => c.type === 'Succeeded');
      await until(() => cond()?.reason === 'RuntimeBusy', 3000, 'RuntimeBusy');
      expect(cond()).to.include({ status: 'Unknown' });
      expect(cond()!.message).to.include('ds-runtime-0').and.include('100 pending jobs');
      const submissions = () => rt.calls.filter((c) => c.op === 'submit').length;
      await until(() => submissions() >= 3, 5000, 'resubmissions with backoff');
      await new Promise((r) => setTimeout(r, 300)); // past podWaitTimeoutMs
      const job = getJob(kube, 'rm')!;
      expect(job.status?.phase).to.equal('Pending');
      expect(cond()?.reason).to.equal('RuntimeBusy');
      expect(job.status?.nodes?.[0]).to.include({ phase: 'Pending', attempts: 1 });
      const busyEvents = kube.events.filter((e) => e.reason === 'RuntimeBusy');
      expect(busyEvents).to.have.length(1);
      expect(busyEvents[0]).to.include({ type: 'Warning', name: 'rm' });
      expect(busyEvents[0].message).to.include('ds-runtime-0').and.include('100 pending jobs');
      // room again: the same run is accepted and finishes, still on its first attempt
      rt.full.delete(baseUrl(0));
      const id = job.status!.jobName!;
      await until(() => rt.job(baseUrl(0), id) !== undefined, 5000, 'accepted');
      rt.update(baseUrl(0), id, 'succeeded');
      await until(() => getJob(kube, 'rm')?.status?.phase === 'Succeeded', 3000, 'Succeeded');
      expect(getJob(kube, 'rm')!.status?.nodes?.[0]).to.include({ phase: 'Succeeded', attempts: 1 });
    });
  });
});
