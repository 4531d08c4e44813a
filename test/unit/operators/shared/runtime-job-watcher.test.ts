import { expect } from 'chai';
import type { RuntimeJobRequest, RuntimeJobState } from '../../../../src/api/runtime-protocol.js';
import { ManualClock } from '../../../../src/kube/clock.js';
import type { RuntimeCalls } from '../../../../src/operators/shared/runtime-calls.js';
import { RuntimeJobWatcher, type WatchTarget } from '../../../../src/operators/shared/runtime-job-watcher.js';
import { FakeRuntime } from '../samplejob/fake-runtime.js';

const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
};
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A runtime that answers GETs from a script of states (or errors), one per call; the last one repeats. */
class ScriptedRuntime implements Pick<RuntimeCalls, 'submit' | 'get'> {
  calls: Array<{ baseUrl: string; id: string; waitSeconds?: number }> = [];
  constructor(private readonly script: Array<RuntimeJobState | undefined | Error>) {}
  async submit(): Promise<RuntimeJobState> {
    throw new Error('not scripted');
  }
  async get(baseUrl: string, _token: string, id: string, waitSeconds?: number): Promise<RuntimeJobState | undefined> {
    this.calls.push({ baseUrl, id, waitSeconds });
    await pause(5);
    const next = this.script.length > 1 ? this.script.shift() : this.script[0];
    if (next instanceof Error) throw next;
    return next;
  }
}

const st = (status: RuntimeJobState['status'], filesDone?: number): RuntimeJobState => ({
  id: 'j',
  type: 'sync',
  status,
  progress: filesDone === undefined ? undefined : { filesDone },
});
const req: RuntimeJobRequest = { id: 'j1', type: 'rmr', options: { paths: ['/x'] } };

describe('RuntimeJobWatcher', () => {
  describe('following a job (SampleJob runs)', () => {
    let rt: FakeRuntime;
    let notified: string[];
    let watcher: RuntimeJobWatcher;
    const target = (over: Partial<WatchTarget> = {}): WatchTarget => ({
      key: 'ns/job',
      jobId: 'j1',
      pod: 'p-0',
      podUid: 'u0',
      baseUrl: 'http://a',
      token: 't',
      ...over,
    });

    beforeEach(() => {
      rt = new FakeRuntime();
      notified = [];
      watcher = new RuntimeJobWatcher(rt, (k) => notified.push(k), { waitSeconds: 20, minRetryMs: 5, maxRetryMs: 20 });
    });
    afterEach(() => watcher.stop());

    it('keeps one long-poll in flight and re-queues the job on every change until it ends', async () => {
      await rt.submit('http://a', 't', { id: 'j1', type: 'warmup', options: { shard: 0, shards: 1 } });
      watcher.track(target());
      await until(() => rt.count('get') >= 2); // first answer at once, then a long-poll
      expect(
        rt.calls
          .filter((c) => c.op === 'get')
          .map((c) => c.waitSeconds)
          .slice(0, 2),
      ).to.deep.equal([0, 20]);
      expect(watcher.activeLoops).to.equal(1);
      rt.update('http://a', 'j1', 'running', { progress: { filesDone: 1, filesTotal: 4 } });
      await until(() => watcher.get('j1', 'p-0')?.state?.status === 'running');
      const n = notified.length;
      expect(n).to.be.greaterThan(0);
      rt.update('http://a', 'j1', 'running', { progress: { filesDone: 2, filesTotal: 4 } });
      await until(() => watcher.get('j1', 'p-0')?.state?.progress?.filesDone === 2);
      expect(notified.length).to.be.greaterThan(n);
      rt.update('http://a', 'j1', 'succeeded');
      await until(() => watcher.get('j1', 'p-0')?.state?.status === 'succeeded');
      await until(() => watcher.activeLoops === 0);
      // tracking the same target again does not restart a finished loop
      const gets = rt.count('get');
      watcher.track(target());
      await pause(30);
      expect(rt.count('get')).to.equal(gets);
    });

    it('reports a job the runtime does not know and stops polling it', async () => {
      watcher.track(target());
      await until(() => watcher.get('j1', 'p-0')?.unknown === true);
      expect(notified).to.deep.equal(['ns/job']);
      await until(() => watcher.activeLoops === 0);
    });

    it('retries through transport errors, remembering since when they fail', async () => {
      await rt.submit('http://a', 't', { id: 'j1', type: 'rmr', options: { paths: ['/x'] } });
      rt.setDown('http://a', true);
      watcher.track(target());
      await until(() => watcher.get('j1', 'p-0')?.error !== undefined);
      const since = watcher.get('j1', 'p-0')!.errorSince;
      await until(() => rt.count('get') >= 3);
      expect(watcher.get('j1', 'p-0')!.errorSince).to.equal(since);
      expect(notified.length).to.equal(1); // once, when the errors started
      rt.setDown('http://a', false);
      await until(() => watcher.get('j1', 'p-0')?.error === undefined && watcher.get('j1', 'p-0')?.state?.status === 'pending');
      expect(notified.length).to.equal(2);
    });

    it('asks the replaced pod (new UID, new address) at once, reports the job unknown there, and follows the resubmission', async () => {
      await rt.submit('http://a', 't', { id: 'j1', type: 'rmr', options: { paths: ['/x'] } });
      watcher.track(target());
      await until(() => watcher.get('j1', 'p-0')?.state?.status === 'pending');
      watcher.track(target({ podUid: 'u1', baseUrl: 'http://b' }));
      await until(() => watcher.get('j1', 'p-0')?.unknown === true);
      watcher.beginSubmit(target({ podUid: 'u1', baseUrl: 'http://b' }));
      expect(watcher.get('j1', 'p-0')).to.include({ submitPending: true, unknown: false, podUid: 'u1' });
      const answer = await rt.submit('http://b', 't', { id: 'j1', type: 'rmr', options: { paths: ['/x'] } });
      watcher.submitted('j1', 'p-0', answer);
      rt.update('http://b', 'j1', 'succeeded');
      await until(() => watcher.get('j1', 'p-0')?.state?.status === 'succeeded');
      expect(watcher.get('j1', 'p-0')?.baseUrl).to.equal('http://b');
    });

    it('records failed submissions and forgets everything of a job on untrack', async () => {
      watcher.beginSubmit(target());
      watcher.submitFailed('j1', 'p-0', new Error('ECONNREFUSED'));
      expect(watcher.get('j1', 'p-0')).to.include({ submitPending: true, submitError: 'ECONNREFUSED', submitFailures: 1 });
      watcher.track(target({ pod: 'p-1' }));
      expect(watcher.jobIdsOf('ns/job')).to.deep.equal(['j1']);
      watcher.untrack('j1');
      expect(watcher.size).to.equal(0);
    });
  });

  describe('submitting in the background', () => {
    const target: WatchTarget = { key: 'ns/x', jobId: 'j1', pod: 'p-0', podUid: 'u0', baseUrl: 'http://a', token: 't' };
    let watcher: RuntimeJobWatcher | undefined;
    afterEach(() => watcher?.stop());

    it('returns at once; an accepted job is followed (asked at once, then long-polled) with a notification and onSubmitted', async () => {
      const rt = new FakeRuntime();
      const notified: string[] = [];
      let accepted: RuntimeJobState | undefined;
      watcher = new RuntimeJobWatcher(rt, (k) => notified.push(k), { waitSeconds: 20 });
      watcher.submit(
        target,
        async () => req,
        (s) => (accepted = s),
      );
      expect(watcher.get('j1', 'p-0')).to.include({ submitPending: true, submitting: true });
      expect(rt.count('submit')).to.equal(0); // nothing sent yet: the caller did not wait
      await until(() => watcher!.get('j1', 'p-0')?.submitPending === false);
      expect(accepted).to.include({ id: 'j1', status: 'pending' });
      expect(notified).to.deep.equal(['ns/x']);
      await until(() => rt.count('get') >= 2);
      expect(
        rt.calls
          .filter((c) => c.op === 'get')
          .map((c) => c.waitSeconds)
          .slice(0, 2),
      ).to.deep.equal([0, 20]);
      expect(watcher.activeLoops).to.equal(1);
    });

    it('a refused submission stays pending, due again after its backoff, and notifies; a busy runtime is not a failure', async () => {
      const rt = new FakeRuntime();
      const clock = new ManualClock();
      const notified: string[] = [];
      watcher = new RuntimeJobWatcher(rt, (k) => notified.push(k), { minRetryMs: 100, maxRetryMs: 1000, clock });
      rt.setDown('http://a', true);
      watcher.submit(target, async () => req);
      await until(() => watcher!.get('j1', 'p-0')?.submitting === false);
      expect(watcher.get('j1', 'p-0')).to.include({ submitPending: true, submitFailures: 1, nextSubmitAt: clock.now() + 100 });
      expect(watcher.get('j1', 'p-0')!.submitError).to.include('ECONNREFUSED');
      expect(notified).to.deep.equal(['ns/x']);
      rt.setDown('http://a', false);
      rt.full.set('http://a', { limit: 7, retryAfterMs: 3000 });
      watcher.submit(target, async () => req);
      await until(() => watcher!.get('j1', 'p-0')?.submitting === false);
      expect(watcher.get('j1', 'p-0')).to.deep.include({
        submitFailures: 1,
        nextSubmitAt: clock.now() + 3000,
        busy: { queueLimit: 7, retryAfterMs: 3000, refusals: 1, since: clock.now() },
      });
    });

    it('a request that cannot be built, a submission that does not answer in time and an old runtime shutting down are refusals', async () => {
      const answers: Array<() => Promise<RuntimeJobState>> = [
        () => new Promise<RuntimeJobState>(() => undefined),
        async () => ({ id: 'j1', type: 'rmr', status: 'cancelled', message: 'runtime shutting down' }),
      ];
      const client: Pick<RuntimeCalls, 'submit' | 'get'> = { submit: () => answers.shift()!(), get: async () => undefined };
      watcher = new RuntimeJobWatcher(client, () => undefined, { submitTimeoutMs: 30 });
      watcher.submit(target, async () => {
        throw new Error('the runtime server does not answer /healthz yet');
      });
      await until(() => watcher!.get('j1', 'p-0')?.submitting === false);
      expect(watcher.get('j1', 'p-0')).to.include({
        submitPending: true,
        submitFailures: 1,
        submitError: 'the runtime server does not answer /healthz yet',
      });
      watcher.submit(target, async () => req);
      await until(() => watcher!.get('j1', 'p-0')?.submitting === false);
      expect(watcher.get('j1', 'p-0')!.submitError).to.match(/no answer within 30 ms/);
      watcher.submit(target, async () => req);
      await until(() => watcher!.get('j1', 'p-0')?.submitting === false);
      expect(watcher.get('j1', 'p-0')).to.include({ submitPending: true, submitFailures: 3 });
      expect(watcher.get('j1', 'p-0')!.submitError).to.match(/shutting down/);
    });

    it('waits as long as a custom backoff says', async () => {
      const rt = new FakeRuntime();
      const clock = new ManualClock();
      const seen: unknown[] = [];
      watcher = new RuntimeJobWatcher(rt, () => undefined, { clock, submitBackoff: (f) => (seen.push(f), f.busy ? 42 : 7) });
      watcher.beginSubmit(target);
      watcher.submitFailed('j1', 'p-0', new Error('boom'));
      expect(watcher.get('j1', 'p-0')!.nextSubmitAt).to.equal(clock.now() + 7);
      expect(seen).to.deep.equal([{ busy: false, refusals: 0, failures: 1, message: 'boom' }]);
    });

    it('a submission answering after its entry was released neither notifies nor brings it back', async () => {
      const rt = new FakeRuntime();
      const notified: string[] = [];
      let build!: () => void;
      watcher = new RuntimeJobWatcher(rt, (k) => notified.push(k));
      watcher.submit(target, () => new Promise<RuntimeJobRequest>((r) => (build = () => r(req))));
      watcher.release('j1', 'p-0');
      expect(watcher.size).to.equal(0);
      build();
      await pause(20);
      expect(watcher.size).to.equal(0);
      expect(notified).to.deep.equal([]);
      expect(watcher.activeLoops).to.equal(0);
    });
  });

  describe('notifications (SampleSet initial syncs)', () => {
    const target: WatchTarget = { key: 'ns/x', jobId: 'j', pod: 'x-runtime-0', podUid: 'u0', baseUrl: 'http://127.0.0.1:7716', token: 't' };
    const fast = { minPollIntervalMs: 1, progressIntervalMs: 30, minRetryMs: 1, maxRetryMs: 5 };
    let watcher: RuntimeJobWatcher | undefined;
    afterEach(() => watcher?.stop());

    it('follows a job to its end, notifying on status changes, and long-polls after the first answer', async () => {
      const rt = new ScriptedRuntime([st('pending'), st('running', 1), st('succeeded', 2)]);
      const keys: string[] = [];
      watcher = new RuntimeJobWatcher(rt, (k) => keys.push(k), { ...fast, waitSeconds: 7 });
      watcher.track(target);
      await until(() => watcher!.get('j', target.pod)?.state?.status === 'succeeded' && !watcher!.get('j', target.pod)!.following);
      expect(keys.length).to.be.greaterThanOrEqual(3);
      expect(rt.calls[0].waitSeconds).to.equal(0);
      expect(rt.calls[1].waitSeconds).to.equal(7);
    });

    it('throttles progress-only notifications', async () => {
      const script: RuntimeJobState[] = [st('running', 0)];
      for (let i = 1; i <= 20; i++) script.push(st('running', i));
      script.push(st('succeeded', 21));
      const keys: string[] = [];
      watcher = new RuntimeJobWatcher(new ScriptedRuntime(script), (k) => keys.push(k), { ...fast, progressIntervalMs: 1000 });
      watcher.track(target);
      await until(() => watcher!.get('j', target.pod)?.state?.status === 'succeeded');
      // 20 progress changes within well under a second: the first answer, at most one throttled notification, and the end
      expect(keys.length).to.be.lessThanOrEqual(3);
    });

    it('reports a job the runtime forgot (pod restarted) as unknown', async () => {
      watcher = new RuntimeJobWatcher(new ScriptedRuntime([undefined]), () => undefined, fast);
      watcher.track(target);
      await until(() => watcher!.get('j', target.pod)?.unknown === true);
      expect(watcher.get('j', target.pod)!.following).to.equal(false);
    });

    it('keeps trying through transport errors and tells the owner once the pod has stopped answering (errorsBeforeNotify)', async () => {
      const err = (): Error => new Error('ECONNREFUSED');
      const rt = new ScriptedRuntime([st('running'), err(), err(), err(), err(), st('succeeded')]);
      const keys: string[] = [];
      watcher = new RuntimeJobWatcher(rt, (k) => keys.push(k), { ...fast, errorsBeforeNotify: 3 });
      watcher.track(target);
      await until(() => keys.length >= 2); // the first answer, then the third error
      expect(rt.calls).to.have.length(4);
      expect(watcher.get('j', target.pod)!.error).to.equal('ECONNREFUSED');
      await until(() => watcher!.get('j', target.pod)?.state?.status === 'succeeded');
      expect(watcher.get('j', target.pod)!.error).to.equal(undefined);
      expect(keys).to.have.length(3);
    });

    it('does not restart an identical target; another job of the same owner is another entry; release and untrackKey forget them', async () => {
      const rt = new ScriptedRuntime([st('running', 1)]);
      watcher = new RuntimeJobWatcher(rt, () => undefined, { ...fast, minPollIntervalMs: 20 });
      watcher.track(target);
      watcher.track(target);
      await until(() => rt.calls.length >= 1);
      expect(watcher.activeLoops).to.equal(1);
      watcher.track({ ...target, jobId: 'k' });
      await until(() => rt.calls.some((c) => c.id === 'k'));
      expect(watcher.entriesOf('ns/x').map((e) => e.jobId)).to.deep.equal(['j', 'k']);
      watcher.release('j', target.pod);
      expect(watcher.get('j', target.pod)).to.equal(undefined);
      watcher.untrackKey('ns/x');
      expect(watcher.size).to.equal(0);
      expect(watcher.activeLoops).to.equal(0);
    });
  });
});
