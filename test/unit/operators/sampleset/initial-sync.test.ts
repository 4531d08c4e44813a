import { expect } from 'chai';
import type { Condition } from '../../../../src/api/conditions.js';
import type { RuntimeJobRequest, RuntimeJobState } from '../../../../src/api/runtime-protocol.js';
import type { SampleSet, SyncJobStatus } from '../../../../src/api/sampleset.js';
import { ExampleEngine } from '../../../../src/engines/example/example-engine.js';
import { ManualClock } from '../../../../src/kube/clock.js';
import { InitialSync, type SyncStepResult } from '../../../../src/operators/sampleset/initial-sync.js';
import { StatusDraft } from '../../../../src/operators/sampleset/status-draft.js';
import { syncIdFor, syncSubmitBackoff } from '../../../../src/operators/sampleset/sync.js';
import { RuntimeJobWatcher } from '../../../../src/operators/shared/runtime-job-watcher.js';
import type { RuntimePod } from '../../../../src/operators/shared/runtime-pods.js';
import { baseUrl, until } from '../samplejob/fixtures.js';
import { FakeSampleSetRuntime } from './fake-runtime.js';

/** A runtime whose submissions wait until the test lets them through. */
class GatedRuntime extends FakeSampleSetRuntime {
  private gate?: Promise<void>;
  private open?: () => void;
  /** Submissions that arrived while held. */
  held = 0;
  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  override async submit(url: string, token: string, req: RuntimeJobRequest): Promise<RuntimeJobState> {
    if (this.gate) {
      this.held++;
      await this.gate;
    }
    return super.submit(url, token, req);
  }
}

const KEY = 'ns/ds';
const SUBMIT_RETRY_MS = 500;

function pods(n: number): RuntimePod[] {
  return Array.from({ length: n }, (_, i) => ({
    pod: {},
    name: `ds-runtime-${i}`,
    ordinal: i,
    ready: true,
    podIP: `10.0.0.${i + 1}`,
    uid: `u${i}`,
    nodeName: `node-${i}`,
  }));
}

function sampleSet(syncJob?: SyncJobStatus): SampleSet {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name: 'ds', namespace: 'ns', uid: 'abcdef12-0000', generation: 1 },
    spec: { partitions: 2, secretRef: { name: 'vol' }, source: { uri: 'file:///data/in' } },
    status: syncJob ? { syncJob } : {},
  };
}

describe('sampleset/initial-sync (submitted and followed by the runtime job watcher)', () => {
  let rt: GatedRuntime;
  let clock: ManualClock;
  let notified: string[];
  let events: Array<{ reason: string; message: string }>;
  let watcher: RuntimeJobWatcher;
  let sync: InitialSync;

  beforeEach(() => {
    rt = new GatedRuntime();
    clock = new ManualClock();
    notified = [];
    events = [];
    watcher = new RuntimeJobWatcher(rt, (k) => notified.push(k), {
      waitSeconds: 1,
      clock,
      submitBackoff: syncSubmitBackoff(SUBMIT_RETRY_MS),
      minRetryMs: 5,
      maxRetryMs: 20,
    });
    sync = new InitialSync({
      runtime: rt,
      watcher,
      submitRetryMs: SUBMIT_RETRY_MS,
      event: async (_ss, _type, reason, message) => void events.push({ reason, message }),
      onSucceeded: () => undefined,
      clock,
    });
  });
  afterEach(() => watcher.stop());

  async function step(ss: SampleSet, ready = pods(2)): Promise<SyncStepResult & { status: StatusDraft; synced?: Condition }> {
    const status = new StatusDraft(ss, clock);
    const r = await sync.step({ key: KEY, sampleSet: ss, engine: new ExampleEngine(), status, ready, token: 't', wantsSync: true });
    return { ...r, status, synced: status.get<Condition[]>('conditions')?.find((c) => c.type === 'Synced') };
  }

  it('submits in the background: the step returns before the runtime answers, does not submit twice, and the next step follows the accepted sync', async () => {
    rt.hold();
    const ss = sampleSet();
    const first = await step(ss);
    expect(first).to.include({ phase: 'NotStarted' });
    expect(first.synced).to.include({
      status: 'False',
      reason: 'SyncPending',
      message: 'submitting the initial sync to runtime pod ds-runtime-0',
    });
    expect(first.status.get('syncJob')).to.equal(undefined);
    await until(() => rt.held === 1, 2000, 'the POST');
    expect((await step(ss)).phase).to.equal('NotStarted'); // still in flight: nothing new is sent
    await new Promise((r) => setTimeout(r, 20));
    expect(rt.held).to.equal(1);
    rt.release();
    await until(() => notified.includes(KEY), 2000, 'accepted');
    expect(events.map((e) => e.reason)).to.deep.equal(['SyncStarted']);
    expect(events[0].message).to.include('to runtime pod ds-runtime-0');
    const next = await step(ss);
    expect(next.phase).to.equal('Pending');
    expect(next.status.get<SyncJobStatus>('syncJob')).to.include({ id: syncIdFor(ss), phase: 'Pending' });
    expect(next.synced?.message).to.equal('sync queued on ds-runtime-0');
    expect(rt.count('submit')).to.equal(1);
  });

  it('a busy runtime: RuntimeBusy until its Retry-After (not a failed submission), then submitted again', async () => {
    rt.full.set(baseUrl(0), { limit: 100, retryAfterMs: 7000 });
    const ss = sampleSet();
    await step(ss);
    await until(() => notified.length === 1, 2000, 'refused');
    const busy = await step(ss);
    expect(busy).to.include({ phase: 'NotStarted', requeueAfterMs: 7000 });
    expect(busy.synced).to.include({
      reason: 'RuntimeBusy',
      message: 'runtime pod ds-runtime-0 has a full job queue (100 pending); the sync is submitted again in 7 s',
    });
    expect(watcher.get(syncIdFor(ss), 'ds-runtime-0')).to.include({ submitFailures: 0 });
    clock.advance(6000);
    expect((await step(ss)).requeueAfterMs).to.equal(1000);
    expect(rt.count('submit')).to.equal(1);
    clock.advance(1000);
    rt.full.delete(baseUrl(0));
    await step(ss);
    await until(() => notified.length === 2, 2000, 'accepted');
    expect(rt.count('submit')).to.equal(2);
    expect((await step(ss)).phase).to.equal('Pending');
  });

  it('a pod whose server does not listen yet: SyncSubmitFailed, retried after submitRetryMs', async () => {
    rt.setDown(baseUrl(0), true);
    const ss = sampleSet();
    await step(ss);
    await until(() => notified.length === 1, 2000, 'refused');
    const failed = await step(ss);
    expect(failed).to.include({ phase: 'NotStarted', requeueAfterMs: SUBMIT_RETRY_MS });
    expect(failed.synced?.reason).to.equal('SyncSubmitFailed');
    expect(failed.synced?.message).to.match(/does not answer \/healthz yet$/);
    expect(rt.count('submit')).to.equal(0);
  });

  it('after an operator restart, looks for the sync in status on every ready pod and follows it where it is, without submitting it again', async () => {
    const id = syncIdFor(sampleSet());
    await rt.submit(baseUrl(1), 't', { id, type: 'sync', options: { source: 'file:///data/in' } });
    rt.update(baseUrl(1), id, 'running', { progress: { filesDone: 1, filesTotal: 4 } });
    const ss = sampleSet({ id, phase: 'Pending', startTime: '2026-01-01T00:00:00Z' });
    const looking = await step(ss);
    expect(looking).to.include({ phase: 'Pending' });
    expect(looking.synced?.message).to.equal(`looking for sync ${id} on the runtime pods`);
    await until(
      () => watcher.get(id, 'ds-runtime-0')?.unknown === true && watcher.get(id, 'ds-runtime-1')?.state !== undefined,
      2000,
      'both pods answered',
    );
    const found = await step(ss);
    expect(found.phase).to.equal('Running');
    expect(found.synced?.message).to.equal('syncing on ds-runtime-1: 1/4 files (25.0%)');
    expect(rt.count('submit')).to.equal(1); // the test's own
    expect(watcher.entriesOf(KEY).map((e) => e.pod)).to.deep.equal(['ds-runtime-1']);
    expect(events).to.deep.equal([]);
  });

  it('a sync in status that no pod knows any more is submitted again (SyncResubmitted)', async () => {
    const id = syncIdFor(sampleSet());
    const ss = sampleSet({ id, phase: 'Running', startTime: '2026-01-01T00:00:00Z' });
    await step(ss);
    await until(() => watcher.entriesOf(KEY).every((e) => e.unknown) && watcher.size === 2, 2000, 'both pods answered');
    const resubmitting = await step(ss);
    expect(resubmitting.synced?.message).to.equal('submitting the initial sync to runtime pod ds-runtime-0');
    await until(() => events.length === 1, 2000, 'accepted');
    expect(events[0]).to.deep.equal({
      reason: 'SyncResubmitted',
      message: `runtime pod ds-runtime-0 did not know sync ${id}; submitted it again`,
    });
    expect(rt.job(baseUrl(0), id)).to.not.equal(undefined);
    expect(watcher.entriesOf(KEY).map((e) => e.pod)).to.deep.equal(['ds-runtime-0']);
  });

  it('a spec change under a running sync cancels it in the background and lets the watcher forget it; forget releases everything', async () => {
    const ss = sampleSet();
    await step(ss);
    await until(() => notified.length === 1, 2000, 'accepted');
    const oldId = syncIdFor(ss);
    const changed = {
      ...sampleSet({ id: oldId, phase: 'Running', startTime: '2026-01-01T00:00:00Z' }),
      spec: { ...ss.spec, source: { uri: 'file:///data/other' } },
    } as SampleSet;
    const r = await step(changed);
    expect(r.phase).to.equal('NotStarted');
    await until(() => rt.job(baseUrl(0), oldId)?.state.status === 'cancelled', 2000, 'cancelled');
    expect(watcher.jobIdsOf(KEY)).to.deep.equal([syncIdFor(changed)]);
    sync.forget(KEY);
    expect(watcher.size).to.equal(0);
  });
});
