import { expect } from 'chai';
import { SyncTracker, type JobPoller } from '../../../../src/operators/sampleset/sync-tracker.js';
import type { RuntimeJobState } from '../../../../src/api/runtime-protocol.js';

/** A poller that answers from a script of states (or errors), one per call. */
class ScriptedPoller implements JobPoller {
  calls: Array<{ baseUrl: string; id: string; waitSeconds?: number }> = [];
  constructor(private readonly script: Array<RuntimeJobState | undefined | Error>) {}
  async get(baseUrl: string, _token: string, id: string, waitSeconds?: number): Promise<RuntimeJobState | undefined> {
    this.calls.push({ baseUrl, id, waitSeconds });
    await new Promise((r) => setTimeout(r, 5));
    const next = this.script.length > 1 ? this.script.shift() : this.script[0];
    if (next instanceof Error) throw next;
    return next;
  }
}

const st = (status: RuntimeJobState['status'], filesDone?: number): RuntimeJobState => ({ id: 'j', type: 'sync', status, progress: filesDone === undefined ? undefined : { filesDone } });
const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};
const target = { id: 'j', pod: 'x-runtime-0', podUid: 'u0', baseUrl: 'http://127.0.0.1:7716', token: 't' };
const fast = { minPollIntervalMs: 1, progressIntervalMs: 30, errorBackoffMs: 1, maxErrorBackoffMs: 5 };

describe('sampleset/sync-tracker', () => {
  it('follows a job to its end, notifying on status changes, and long-polls after the first answer', async () => {
    const poller = new ScriptedPoller([st('pending'), st('running', 1), st('succeeded', 2)]);
    const keys: string[] = [];
    const t = new SyncTracker(poller, (k) => keys.push(k), { ...fast, waitSeconds: 7 });
    t.track('ns/x', target);
    await until(() => t.get('ns/x')?.finished === true);
    expect(t.get('ns/x')!.state!.status).to.equal('succeeded');
    expect(keys.length).to.be.greaterThanOrEqual(3);
    expect(poller.calls[0].waitSeconds).to.equal(0);
    expect(poller.calls[1].waitSeconds).to.equal(7);
    t.stopAll();
  });

  it('throttles progress-only notifications', async () => {
    const script: RuntimeJobState[] = [st('running', 0)];
    for (let i = 1; i <= 20; i++) script.push(st('running', i));
    script.push(st('succeeded', 21));
    const poller = new ScriptedPoller(script);
    const keys: string[] = [];
    const t = new SyncTracker(poller, (k) => keys.push(k), { ...fast, progressIntervalMs: 1000 });
    t.track('ns/x', target, st('running', 0));
    await until(() => t.get('ns/x')?.finished === true);
    // 20 progress changes within well under a second: one throttled notification at most, plus the end
    expect(keys.length).to.be.lessThanOrEqual(2);
    t.stopAll();
  });

  it('reports a job the runtime forgot (pod restarted) as unknown', async () => {
    const t = new SyncTracker(new ScriptedPoller([undefined]), () => undefined, fast);
    t.track('ns/x', target, st('running', 1));
    await until(() => t.get('ns/x')?.finished === true);
    expect(t.get('ns/x')!.unknown).to.equal(true);
    t.stopAll();
  });

  it('keeps trying through transport errors and tells the reconciler once the pod stops answering', async () => {
    const poller = new ScriptedPoller([new Error('ECONNREFUSED'), new Error('ECONNREFUSED'), new Error('ECONNREFUSED'), st('succeeded')]);
    const keys: string[] = [];
    const t = new SyncTracker(poller, (k) => keys.push(k), fast);
    t.track('ns/x', target, st('running'));
    await until(() => t.get('ns/x')?.finished === true);
    expect(t.get('ns/x')!.error).to.equal(undefined);
    expect(keys.length).to.be.greaterThanOrEqual(2);
    t.stopAll();
  });

  it('does not restart an identical target and replaces a different one', async () => {
    const poller = new ScriptedPoller([st('running', 1)]);
    const t = new SyncTracker(poller, () => undefined, { ...fast, minPollIntervalMs: 20 });
    t.track('ns/x', target);
    t.track('ns/x', target);
    await until(() => poller.calls.length >= 1);
    t.track('ns/x', { ...target, id: 'k' });
    await until(() => poller.calls.some((c) => c.id === 'k'));
    expect(t.get('ns/x')!.id).to.equal('k');
    t.stop('ns/x');
    expect(t.get('ns/x')).to.equal(undefined);
    expect(t.size).to.equal(0);
  });
});
