import { expect } from 'chai';
import { JobTracker, type TrackTarget } from '../../../../src/operators/samplejob/job-tracker.js';
import { FakeRuntime } from './fake-runtime.js';

const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('samplejob job tracker', () => {
  let rt: FakeRuntime;
  let notified: string[];
  let tracker: JobTracker;
  const target = (over: Partial<TrackTarget> = {}): TrackTarget => ({ key: 'ns/job', jobId: 'j1', pod: 'p-0', podUid: 'u0', baseUrl: 'http://a', token: 't', ...over });

  beforeEach(() => {
    rt = new FakeRuntime();
    notified = [];
    tracker = new JobTracker(rt, (k) => notified.push(k), { waitSeconds: 20, minRetryMs: 5, maxRetryMs: 20 });
  });
  afterEach(() => tracker.stop());

  it('keeps one long-poll in flight and re-queues the job on every change until it ends', async () => {
    await rt.submit('http://a', 't', { id: 'j1', type: 'warmup', options: { shard: 0, shards: 1 } });
    tracker.track(target());
    await until(() => rt.count('get') >= 2); // first answer at once, then a long-poll
    expect(rt.calls.filter((c) => c.op === 'get').map((c) => c.waitSeconds).slice(0, 2)).to.deep.equal([0, 20]);
    expect(tracker.activeLoops).to.equal(1);
    rt.update('http://a', 'j1', 'running', { progress: { filesDone: 1, filesTotal: 4 } });
    await until(() => tracker.get('j1', 'p-0')?.state?.status === 'running');
    const n = notified.length;
    expect(n).to.be.greaterThan(0);
    rt.update('http://a', 'j1', 'running', { progress: { filesDone: 2, filesTotal: 4 } });
    await until(() => tracker.get('j1', 'p-0')?.state?.progress?.filesDone === 2);
    expect(notified.length).to.be.greaterThan(n);
    rt.update('http://a', 'j1', 'succeeded');
    await until(() => tracker.get('j1', 'p-0')?.state?.status === 'succeeded');
    await until(() => tracker.activeLoops === 0);
    // tracking the same target again does not restart a finished loop
    const gets = rt.count('get');
    tracker.track(target());
    await new Promise((r) => setTimeout(r, 30));
    expect(rt.count('get')).to.equal(gets);
  });

  it('reports a job the runtime does not know and stops polling it', async () => {
    tracker.track(target());
    await until(() => tracker.get('j1', 'p-0')?.unknown === true);
    expect(notified).to.deep.equal(['ns/job']);
    await until(() => tracker.activeLoops === 0);
  });

  it('retries through transport errors, remembering since when they fail', async () => {
    await rt.submit('http://a', 't', { id: 'j1', type: 'rmr', options: { paths: ['/x'] } });
    rt.setDown('http://a', true);
    tracker.track(target());
    await until(() => tracker.get('j1', 'p-0')?.error !== undefined);
    const since = tracker.get('j1', 'p-0')!.errorSince;
    await until(() => rt.count('get') >= 3);
    expect(tracker.get('j1', 'p-0')!.errorSince).to.equal(since);
    expect(notified.length).to.equal(1); // once, when the errors started
    rt.setDown('http://a', false);
    await until(() => tracker.get('j1', 'p-0')?.error === undefined && tracker.get('j1', 'p-0')?.state?.status === 'pending');
    expect(notified.length).to.equal(2);
  });

  it('asks the replaced pod (new UID, new address) at once, reports the job unknown there, and follows the resubmission', async () => {
    await rt.submit('http://a', 't', { id: 'j1', type: 'rmr', options: { paths: ['/x'] } });
    tracker.track(target());
    await until(() => tracker.get('j1', 'p-0')?.state?.status === 'pending');
    tracker.track(target({ podUid: 'u1', baseUrl: 'http://b' }));
    await until(() => tracker.get('j1', 'p-0')?.unknown === true);
    tracker.beginSubmit(target({ podUid: 'u1', baseUrl: 'http://b' }));
    expect(tracker.get('j1', 'p-0')).to.include({ submitPending: true, unknown: false, podUid: 'u1' });
    const st = await rt.submit('http://b', 't', { id: 'j1', type: 'rmr', options: { paths: ['/x'] } });
    tracker.submitted('j1', 'p-0', st);
    rt.update('http://b', 'j1', 'succeeded');
    await until(() => tracker.get('j1', 'p-0')?.state?.status === 'succeeded');
    expect(tracker.get('j1', 'p-0')?.baseUrl).to.equal('http://b');
  });

  it('records failed submissions and forgets everything of a job on untrack', async () => {
    tracker.beginSubmit(target());
    tracker.submitFailed('j1', 'p-0', new Error('ECONNREFUSED'));
    expect(tracker.get('j1', 'p-0')).to.include({ submitPending: true, submitError: 'ECONNREFUSED', submitFailures: 1 });
    tracker.track(target({ pod: 'p-1' }));
    expect(tracker.jobIdsOf('ns/job')).to.deep.equal(['j1']);
    tracker.untrack('j1');
    expect(tracker.size).to.equal(0);
  });
});
