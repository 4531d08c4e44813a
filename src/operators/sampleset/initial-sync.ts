/**
 * The initial sync of a SampleSet, one reconcile step at a time: whether one is wanted, cancelling
 * one whose spec changed, finding it again on a runtime pod after an operator restart, submitting
 * it (a full runtime queue waits for its Retry-After), and how its state shows in status and
 * Events. The long-poll following a submitted sync is the SyncTracker's.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { SampleSet, SyncJobStatus } from '../../api/sampleset.js';
import { kubeTime } from '../../api/time.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { Clock } from '../../kube/clock.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { RuntimeJobState } from '../../api/runtime-protocol.js';
import { RuntimeBusyError } from '../shared/runtime-client.js';
import { runtimeBaseUrl, type RuntimePod } from '../shared/runtime-pods.js';
import { withTimeout } from '../shared/with-timeout.js';
import type { SampleSetRuntimeClient } from './runtime-calls.js';
import { CONDITION, type StatusDraft } from './status-draft.js';
import { formatProgress, isTerminalSyncPhase, submitRetry, syncIdFor, syncJobStatusFrom, type SyncPhase } from './sync.js';
import type { SyncTracker, TrackedSync } from './sync-tracker.js';

/** Timeout of the short runtime calls a reconcile makes itself (locate a job, cancel one). */
const QUICK_CALL_MS = 5_000;
/** Timeout of submitting the sync from a reconcile. */
const SUBMIT_MS = 15_000;

function errMsg(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

function isJobState(v: unknown): v is RuntimeJobState {
  return !!v && typeof v === 'object' && typeof (v as RuntimeJobState).id === 'string' && typeof (v as RuntimeJobState).status === 'string';
}

/** What the operator lends the initial sync. */
export interface InitialSyncDeps {
  runtime: SampleSetRuntimeClient;
  tracker: SyncTracker;
  /** First retry of a submission the runtime did not accept. */
  submitRetryMs: number;
  event(ss: SampleSet, type: EventType, reason: string, message: string): Promise<void>;
  /** Told when a sync succeeded (the cache statistics are stale). */
  onSucceeded(key: string): void;
  clock: Clock;
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

export class InitialSync {
  /** Consecutive failed submissions per SampleSet (a busy runtime does not count). */
  private readonly submitFailures = new Map<string, number>();
  private readonly runtime: SampleSetRuntimeClient;
  private readonly tracker: SyncTracker;
  private readonly event: InitialSyncDeps['event'];

  constructor(private readonly deps: InitialSyncDeps) {
    this.runtime = deps.runtime;
    this.tracker = deps.tracker;
    this.event = deps.event;
  }

  /** Drops what is known of SampleSet `k` (it is gone). */
  forget(k: string): void {
    this.tracker.stop(k);
    this.submitFailures.delete(k);
  }

  /**
   * One step of the initial sync of SampleSet `k`: cancel, report, locate or submit, and say what
   * the status shows (the background tracker re-queues the SampleSet on every change).
   */
  async step(input: SyncStepInput): Promise<SyncStepResult> {
    const { key: k, sampleSet: ss, engine, status, ready, token, sourceSecret, wantsSync } = input;
    const prev = ss.status?.syncJob;
    const inFlight = prev && !isTerminalSyncPhase(prev.phase) && prev.id;

    if (!wantsSync) {
      // noSync (or nothing to sync): cancel a running sync; forget a failed one so that turning
      // noSync off later starts afresh
      if (inFlight) await this.cancelSync(k, prev.id!, ready, token);
      this.tracker.stop(k);
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
      await this.cancelSync(k, prev.id!, ready, token);
      this.tracker.stop(k);
    }
    if (prev?.id === id && isTerminalSyncPhase(prev.phase)) {
      this.tracker.stop(k);
      if (prev.phase === 'Succeeded') {
        status.condition(CONDITION.synced, 'True', 'SyncSucceeded', prev.message ? `initial sync done: ${prev.message}` : 'initial sync done');
        return { phase: 'Succeeded' };
      }
      status.condition(CONDITION.synced, 'False', 'SyncFailed', prev.message || 'the initial sync failed');
      return { phase: 'Failed' };
    }

    const sameInStatus = prev?.id === id ? prev : undefined;
    const current: SyncPhase = sameInStatus ? (sameInStatus.phase === 'Running' ? 'Running' : 'Pending') : 'NotStarted';
    if (ready.length === 0) {
      status.condition(CONDITION.synced, 'False', current === 'NotStarted' ? 'SyncPending' : 'SyncWaitingForRuntime', 'waiting for a runtime pod to be ready');
      return { phase: current };
    }

    // what the background tracker knows
    let tracked: TrackedSync | undefined = this.tracker.get(k);
    const holder = tracked && tracked.id === id ? ready.find((p) => p.name === tracked!.pod && p.uid === tracked!.podUid) : undefined;
    if (!holder || tracked?.unknown) tracked = undefined;

    if (!tracked) {
      // look for a pod that already has the job (operator restarted), else submit (again)
      let found: { pod: RuntimePod; state: RuntimeJobState } | undefined;
      if (sameInStatus) found = await this.locateJob(id, ready, token);
      if (found) {
        this.tracker.track(k, { id, pod: found.pod.name, podUid: found.pod.uid, baseUrl: runtimeBaseUrl(found.pod)!, token }, found.state);
        tracked = this.tracker.get(k);
      } else {
        const target = ready[0];
        const req = engine.initialSyncRequest(ss, id, sourceSecret);
        const base = runtimeBaseUrl(target)!;
        let answer: unknown;
        try {
          // a pod is Ready before its server listens (KWOK, or a slow start): ask cheaply first
          if (!(await this.runtime.healthz(base))) throw new Error('the runtime server does not answer /healthz yet');
          answer = await withTimeout(Promise.resolve(this.runtime.submit(base, token, req)), SUBMIT_MS, `submit to ${target.name}`);
        } catch (e) {
          const busy = e instanceof RuntimeBusyError;
          const r = submitRetry({ busy, retryAfterMs: busy ? e.retryAfterMs : undefined, queueLimit: busy ? e.queueLimit : undefined, message: errMsg(e) }, this.submitFailures.get(k) ?? 0, target.name, this.deps.submitRetryMs);
          if (r.countsAsFailure) this.submitFailures.set(k, (this.submitFailures.get(k) ?? 0) + 1);
          status.condition(CONDITION.synced, 'False', r.reason, r.message);
          return { phase: current, requeueAfterMs: r.retryMs };
        }
        this.submitFailures.delete(k);
        const st = isJobState(answer) && answer.id === id ? answer : undefined;
        this.tracker.track(k, { id, pod: target.name, podUid: target.uid, baseUrl: base, token }, st);
        tracked = this.tracker.get(k);
        await this.event(
          ss,
          'Normal',
          sameInStatus ? 'SyncResubmitted' : 'SyncStarted',
          sameInStatus ? `runtime pod ${target.name} did not know sync ${id}; submitted it again` : `submitted the initial sync ${id} from ${ss.spec.source?.uri} to runtime pod ${target.name}`,
        );
      }
    }

    const state = tracked?.state;
    const now = kubeTime(this.deps.clock.now());
    const job: SyncJobStatus = state ? syncJobStatusFrom(sameInStatus, id, state, now) : { id, phase: 'Pending', startTime: sameInStatus?.startTime || now, message: 'submitted to the runtime' };
    status.set('syncJob', job);
    if (job.phase === 'Succeeded') {
      this.tracker.stop(k);
      this.deps.onSucceeded(k);
      status.condition(CONDITION.synced, 'True', 'SyncSucceeded', job.message ? `initial sync done: ${job.message}` : 'initial sync done');
      await this.event(ss, 'Normal', 'SyncSucceeded', `initial sync ${id} succeeded${job.message ? `: ${job.message}` : ''}`);
      return { phase: 'Succeeded' };
    }
    if (job.phase === 'Failed') {
      this.tracker.stop(k);
      status.condition(CONDITION.synced, 'False', 'SyncFailed', job.message || 'the initial sync failed');
      await this.event(ss, 'Warning', 'SyncFailed', `initial sync ${id} failed: ${job.message ?? 'no message'}; edit spec.source (or its Secret reference) to retry`);
      return { phase: 'Failed' };
    }
    const progress = state ? formatProgress(state.progress) : '';
    const err = tracked?.error ? ` (runtime pod ${tracked.pod} not answering: ${tracked.error})` : '';
    status.condition(
      CONDITION.synced,
      'False',
      job.phase === 'Running' ? 'SyncRunning' : 'SyncPending',
      `${job.phase === 'Running' ? 'syncing' : 'sync queued'} on ${tracked?.pod ?? ready[0].name}${progress ? `: ${progress}` : ''}${err}`,
    );
    // the tracker re-queues on every change; this is only a safety net
    return { phase: job.phase === 'Running' ? 'Running' : 'Pending', requeueAfterMs: 60_000 };
  }

  /** Asks every ready pod (in parallel, briefly) whether it knows job `id`; the first that does. */
  private async locateJob(id: string, ready: RuntimePod[], token: string): Promise<{ pod: RuntimePod; state: RuntimeJobState } | undefined> {
    const answers = await Promise.all(
      ready.map(async (pod) => {
        try {
          const st = await withTimeout(this.runtime.get(runtimeBaseUrl(pod)!, token, id, 0), QUICK_CALL_MS, `get job from ${pod.name}`);
          return st ? { pod, state: st } : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return answers.find((a) => a !== undefined);
  }

  /** Best effort: a pod that is gone or does not answer has nothing to cancel anyway. */
  private async cancelSync(k: string, id: string, ready: RuntimePod[], token: string): Promise<void> {
    const tracked = this.tracker.get(k);
    const pods = tracked?.id === id ? ready.filter((p) => p.name === tracked.pod) : ready;
    await Promise.all(
      pods.map((p) => withTimeout(Promise.resolve(this.runtime.cancel(runtimeBaseUrl(p)!, token, id)), QUICK_CALL_MS, 'cancel').catch(() => undefined)),
    );
  }
}
