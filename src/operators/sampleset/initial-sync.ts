/**
 * The initial sync of a SampleSet, one reconcile step at a time: whether one is wanted, cancelling
 * one whose spec changed, finding it again on the runtime pods after an operator restart, submitting
 * it (a full runtime queue waits for its Retry-After), and how its state shows in status and Events.
 *
 * A step never waits on a runtime: it reads what the RuntimeJobWatcher knows, starts what is
 * missing there (the submission, asking the pods, following the sync — all in the background) and
 * returns; the watcher re-queues the SampleSet on every change. Cancels are sent fire-and-forget.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { SampleSet, SyncJobStatus } from '../../api/sampleset.js';
import { kubeTime } from '../../api/time.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { Clock } from '../../kube/clock.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { SampleSetRuntimeCalls } from '../shared/runtime-calls.js';
import type { RuntimeJobWatcher, WatchedJob } from '../shared/runtime-job-watcher.js';
import { runtimeBaseUrl, type RuntimePod } from '../shared/runtime-pods.js';
import { withTimeout } from '../shared/with-timeout.js';
import { CONDITION, type StatusDraft } from './status-draft.js';
import { formatProgress, isTerminalSyncPhase, submitRetry, syncIdFor, syncJobStatusFrom, type SyncPhase } from './sync.js';

/** Timeout of a cancel sent to a runtime pod (best effort, in the background). */
const CANCEL_MS = 5_000;
/** Safety re-check while the watcher works for the sync (it re-queues on every change). */
const SAFETY_NET_MS = 60_000;

/** What the operator lends the initial sync. */
export interface InitialSyncDeps {
  runtime: Pick<SampleSetRuntimeCalls, 'cancel' | 'healthz'>;
  /** Submits, finds and follows the sync; keyed by the SampleSet's queue key. */
  watcher: RuntimeJobWatcher;
  event(ss: SampleSet, type: EventType, reason: string, message: string): Promise<void>;
  /** Told when a sync succeeded (the cache statistics are stale). */
  onSucceeded(key: string): void;
  clock: Clock;
  /** First retry of a submission the runtime did not accept (what the watcher's submit backoff starts from). */
  submitRetryMs: number;
}

/** One pass's view of a SampleSet's initial sync. */
export interface SyncStepInput {
  /** The SampleSet's queue key. */
  key: string;
  sampleSet: SampleSet;
  engine: CacheEngine;
  status: StatusDraft;
  /** Ready partition pods. */
  ready: RuntimePod[];
  token: string;
  /** Source credentials (see CheckedSpec). */
  sourceSecret?: V1Secret;
  wantsSync: boolean;
}

export interface SyncStepResult {
  phase: SyncPhase;
  requeueAfterMs?: number;
}

/** The sync of one step: its id, and what status showed of it (when it is the same sync). */
interface Sync {
  id: string;
  inStatus?: SyncJobStatus;
  /** The phase while nothing newer is known. */
  current: SyncPhase;
}

export class InitialSync {
  private readonly watcher: RuntimeJobWatcher;

  constructor(private readonly deps: InitialSyncDeps) {
    this.watcher = deps.watcher;
  }

  /** Drops what is known of SampleSet `k` (it is gone). */
  forget(k: string): void {
    this.watcher.untrackKey(k);
  }

  /**
   * One step of the initial sync of SampleSet `k`: cancel, report, look for or submit it, and say
   * what the status shows.
   */
  async step(input: SyncStepInput): Promise<SyncStepResult> {
    const { key: k, sampleSet: ss, status, ready, token, wantsSync } = input;
    const prev = ss.status?.syncJob;
    const inFlight = prev && !isTerminalSyncPhase(prev.phase) && prev.id;

    if (!wantsSync) {
      // noSync (or nothing to sync): cancel a running sync; forget a failed one so that turning
      // noSync off later starts afresh
      if (inFlight) this.cancelSync(k, prev.id!, ready, token);
      this.watcher.untrackKey(k);
      if (prev && prev.phase !== 'Succeeded') status.set('syncJob', undefined);
      status.condition(
        CONDITION.synced,
        'True',
        ss.spec.noSync ? 'SyncSkipped' : 'NoSource',
        ss.spec.noSync ? 'spec.noSync is set: the volume already holds the data' : 'no spec.source: nothing to sync',
      );
      return { phase: 'Skipped' };
    }

    const id = syncIdFor(ss);
    if (inFlight && prev.id !== id) {
      // the sync-relevant spec changed under a running sync: cancel it, start the new one
      this.cancelSync(k, prev.id!, ready, token);
      this.watcher.untrackKey(k);
    }
    if (prev?.id === id && isTerminalSyncPhase(prev.phase)) {
      this.watcher.untrackKey(k);
      if (prev.phase === 'Succeeded') {
        status.condition(
          CONDITION.synced,
          'True',
          'SyncSucceeded',
          prev.message ? `initial sync done: ${prev.message}` : 'initial sync done',
        );
        return { phase: 'Succeeded' };
      }
      status.condition(CONDITION.synced, 'False', 'SyncFailed', prev.message || 'the initial sync failed');
      return { phase: 'Failed' };
    }

    const inStatus = prev?.id === id ? prev : undefined;
    const sync: Sync = { id, inStatus, current: inStatus ? (inStatus.phase === 'Running' ? 'Running' : 'Pending') : 'NotStarted' };
    if (ready.length === 0) {
      status.condition(
        CONDITION.synced,
        'False',
        sync.current === 'NotStarted' ? 'SyncPending' : 'SyncWaitingForRuntime',
        'waiting for a runtime pod to be ready',
      );
      return { phase: sync.current };
    }

    // what the watcher knows of this sync on the ready pods; anything else of this SampleSet goes
    // (an earlier sync, a pod that is no longer ready or was replaced)
    const known: Readonly<WatchedJob>[] = [];
    for (const e of this.watcher.entriesOf(k)) {
      if (e.jobId === id && ready.some((p) => p.name === e.pod && (e.podUid === undefined || p.uid === e.podUid))) known.push(e);
      else this.watcher.release(e.jobId, e.pod);
    }

    const followed = known.find((e) => e.state !== undefined && !e.unknown && !e.submitPending);
    if (followed) {
      // found (or accepted) on one pod: the others need not be asked any longer
      for (const e of known) if (e !== followed) this.watcher.release(e.jobId, e.pod);
      return this.report(input, sync, followed);
    }

    const now = this.deps.clock.now();
    const pending = known.find((e) => e.submitPending);
    if (pending && (pending.submitting || (pending.nextSubmitAt ?? 0) > now)) return this.submission(status, sync, pending, now);

    if (known.some((e) => !e.submitPending && !e.unknown && e.error === undefined)) {
      status.condition(CONDITION.synced, 'False', 'SyncPending', `looking for sync ${id} on the runtime pods`);
      return { phase: sync.current, requeueAfterMs: SAFETY_NET_MS };
    }
    // a sync status names: ask every ready pod not asked yet whether it has it (the operator
    // restarted, or the pod that had it lost it), so that it is not started twice
    const unasked = pending ? [] : ready.filter((p) => !known.some((e) => e.pod === p.name));
    if (inStatus && unasked.length > 0) {
      for (const p of unasked) this.watcher.track({ key: k, jobId: id, pod: p.name, podUid: p.uid, baseUrl: runtimeBaseUrl(p)!, token });
      status.condition(CONDITION.synced, 'False', 'SyncPending', `looking for sync ${id} on the runtime pods`);
      return { phase: sync.current, requeueAfterMs: SAFETY_NET_MS };
    }
    return this.submit(input, sync, known);
  }

  /** Submits the sync to the first ready pod, in the background; the watcher re-queues when it is accepted or refused. */
  private submit(input: SyncStepInput, sync: Sync, known: Readonly<WatchedJob>[]): SyncStepResult {
    const { key: k, sampleSet: ss, engine, status, ready, token, sourceSecret } = input;
    const { id, inStatus } = sync;
    const pod = ready[0];
    const base = runtimeBaseUrl(pod)!;
    // the sync goes to one pod: stop asking the others
    for (const e of known) if (e.pod !== pod.name) this.watcher.release(e.jobId, e.pod);
    const req = engine.initialSyncRequest(ss, id, sourceSecret);
    this.watcher.submit(
      { key: k, jobId: id, pod: pod.name, podUid: pod.uid, baseUrl: base, token },
      async () => {
        // a pod is Ready before its server listens (KWOK, or a slow start): ask cheaply first
        if (!(await this.deps.runtime.healthz(base))) throw new Error('the runtime server does not answer /healthz yet');
        return req;
      },
      () =>
        void this.deps.event(
          ss,
          'Normal',
          inStatus ? 'SyncResubmitted' : 'SyncStarted',
          inStatus
            ? `runtime pod ${pod.name} did not know sync ${id}; submitted it again`
            : `submitted the initial sync ${id} from ${ss.spec.source?.uri} to runtime pod ${pod.name}`,
        ),
    );
    status.condition(CONDITION.synced, 'False', 'SyncPending', `submitting the initial sync to runtime pod ${pod.name}`);
    return { phase: sync.current, requeueAfterMs: SAFETY_NET_MS };
  }

  /** A submission in flight, or refused and waiting for its next try. */
  private submission(status: StatusDraft, sync: Sync, e: Readonly<WatchedJob>, now: number): SyncStepResult {
    if (e.submitting) {
      status.condition(CONDITION.synced, 'False', 'SyncPending', `submitting the initial sync to runtime pod ${e.pod}`);
      return { phase: sync.current, requeueAfterMs: SAFETY_NET_MS };
    }
    const busy = e.busy !== undefined;
    const r = submitRetry(
      { busy, retryAfterMs: e.busy?.retryAfterMs, queueLimit: e.busy?.queueLimit, message: e.submitError ?? 'no answer' },
      busy ? 0 : e.submitFailures - 1,
      e.pod,
      this.deps.submitRetryMs,
    );
    status.condition(CONDITION.synced, 'False', r.reason, r.message);
    return { phase: sync.current, requeueAfterMs: Math.max(0, (e.nextSubmitAt ?? now) - now) };
  }

  /** What the runtime says of the sync, in status, conditions and Events. */
  private async report(input: SyncStepInput, sync: Sync, e: Readonly<WatchedJob>): Promise<SyncStepResult> {
    const { key: k, sampleSet: ss, status } = input;
    const { id, inStatus } = sync;
    const state = e.state!;
    const job: SyncJobStatus = syncJobStatusFrom(inStatus, id, state, kubeTime(this.deps.clock.now()));
    status.set('syncJob', job);
    if (job.phase === 'Succeeded') {
      this.watcher.untrackKey(k);
      this.deps.onSucceeded(k);
      status.condition(CONDITION.synced, 'True', 'SyncSucceeded', job.message ? `initial sync done: ${job.message}` : 'initial sync done');
      await this.deps.event(ss, 'Normal', 'SyncSucceeded', `initial sync ${id} succeeded${job.message ? `: ${job.message}` : ''}`);
      return { phase: 'Succeeded' };
    }
    if (job.phase === 'Failed') {
      this.watcher.untrackKey(k);
      status.condition(CONDITION.synced, 'False', 'SyncFailed', job.message || 'the initial sync failed');
      await this.deps.event(
        ss,
        'Warning',
        'SyncFailed',
        `initial sync ${id} failed: ${job.message ?? 'no message'}; edit spec.source (or its Secret reference) to retry`,
      );
      return { phase: 'Failed' };
    }
    const progress = formatProgress(state.progress);
    const err = e.error ? ` (runtime pod ${e.pod} not answering: ${e.error})` : '';
    status.condition(
      CONDITION.synced,
      'False',
      job.phase === 'Running' ? 'SyncRunning' : 'SyncPending',
      `${job.phase === 'Running' ? 'syncing' : 'sync queued'} on ${e.pod}${progress ? `: ${progress}` : ''}${err}`,
    );
    return { phase: job.phase === 'Running' ? 'Running' : 'Pending', requeueAfterMs: SAFETY_NET_MS };
  }

  /** Best effort, in the background: a pod that is gone or does not answer has nothing to cancel anyway. */
  private cancelSync(k: string, id: string, ready: RuntimePod[], token: string): void {
    const holders = this.watcher
      .entriesOf(k)
      .filter((e) => e.jobId === id && !e.unknown)
      .map((e) => e.pod);
    const pods = holders.length > 0 ? ready.filter((p) => holders.includes(p.name)) : ready;
    for (const p of pods)
      void withTimeout(this.deps.runtime.cancel(runtimeBaseUrl(p)!, token, id), CANCEL_MS, `cancel on ${p.name}`).catch(() => undefined);
  }
}
