/**
 * Submits jobs to runtime pods and follows them with long-polls, OUTSIDE the reconcile — the
 * SampleSet's initial sync and SampleJob runs alike. One entry per (runtime job id, runtime pod),
 * owned by the object whose queue key is re-queued (`notify(key)`) when there is something new:
 *
 *  - `submit` POSTs the job in the background; success starts following it, a failure is recorded
 *    with the time the next try is due. A refusal with 429 (the runtime's queue is full) is `busy`:
 *    not a failed attempt, and the next try waits at least as long as the runtime asked.
 *  - `track` asks a pod about a job (at once, then long-polls): after an operator restart, at a
 *    pod's new address, or to find out which pod holds a job.
 *  - one loop per entry keeps exactly one `GET /jobs/{id}?waitSeconds=N` in flight. A terminal
 *    state or "unknown job" ends it (the reconcile decides what happens next: resubmission re-arms
 *    it). Transport errors are retried with capped backoff and reported with the time they started,
 *    so the reconcile can give up on a runtime that stays unreachable. Re-targeting (a new pod UID
 *    or address) abandons the old in-flight request at once.
 *
 * Reconciles never wait on a runtime here: they read `get` / `entriesOf`, decide, and return
 * (level-triggered; after a restart the watcher is empty and the reconcile asks again). Entries go
 * with `release`, `untrack`, `untrackKey` and `stop`, so nothing outlives the object or run.
 */
import { isTerminalJobStatus, type RuntimeJobRequest, type RuntimeJobState } from '../../api/runtime-protocol.js';
import { systemClock, type Clock } from '../../kube/clock.js';
import type { RuntimeCalls } from './runtime-calls.js';
import { isRuntimeBusy } from './runtime-client.js';
import { cancelledByShutdown } from './runtime-job-phase.js';
import {
  exponentialSubmitBackoff,
  sameState,
  type RuntimeJobWatcherOptions,
  type SubmitBackoff,
  type WatchedJob,
  type WatchTarget,
} from './watched-job.js';
import { withTimeout } from './with-timeout.js';

export type { RuntimeBusyState, RuntimeJobWatcherOptions, SubmitBackoff, SubmitFailure, WatchedJob, WatchTarget } from './watched-job.js';

interface Entry extends WatchedJob {
  token: string;
  /** Incremented on every (re)start and halt; a loop or submission of a stale generation gives up. */
  gen: number;
  wake?: () => void;
  lastNotify: number;
  /** A held-back progress notification. */
  deferred?: NodeJS.Timeout;
}

function errMsg(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

export class RuntimeJobWatcher {
  private readonly entries = new Map<string, Entry>();
  private readonly waitSeconds: number;
  private readonly progressIntervalMs: number;
  private readonly minPollIntervalMs: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly errorsBeforeNotify: number;
  private readonly submitTimeoutMs: number;
  private readonly backoff: SubmitBackoff;
  private readonly clock: Clock;
  private stopped = false;

  constructor(
    private readonly client: Pick<RuntimeCalls, 'submit' | 'get'>,
    /** Called with the owner's key whenever there is something new to look at. */
    private readonly notifyKey: (key: string) => void,
    private readonly opts: RuntimeJobWatcherOptions = {},
  ) {
    this.waitSeconds = opts.waitSeconds ?? 20;
    this.progressIntervalMs = opts.progressIntervalMs ?? 0;
    this.minPollIntervalMs = opts.minPollIntervalMs ?? 0;
    this.minRetryMs = opts.minRetryMs ?? 250;
    this.maxRetryMs = opts.maxRetryMs ?? 5000;
    this.errorsBeforeNotify = Math.max(1, opts.errorsBeforeNotify ?? 1);
    this.submitTimeoutMs = opts.submitTimeoutMs ?? 60_000;
    this.backoff = opts.submitBackoff ?? exponentialSubmitBackoff(this.minRetryMs, this.maxRetryMs, opts.maxBusyRetryMs ?? 60_000);
    this.clock = opts.clock ?? systemClock;
  }

  private static id(jobId: string, pod: string): string {
    return `${jobId}\u0000${pod}`;
  }

  get(jobId: string, pod: string): Readonly<WatchedJob> | undefined {
    return this.entries.get(RuntimeJobWatcher.id(jobId, pod));
  }

  /** Everything watched for the owner `key`. */
  entriesOf(key: string): Readonly<WatchedJob>[] {
    return [...this.entries.values()].filter((e) => e.key === key);
  }

  /** Job ids watched for `key`. */
  jobIdsOf(key: string): string[] {
    return [...new Set(this.entriesOf(key).map((e) => e.jobId))];
  }

  /** Entries with a poll loop running (tests, metrics). */
  get activeLoops(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.following) n++;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Makes sure (jobId, pod) is followed at `target` (idempotent). A changed base URL or pod UID
   * asks there at once; a loop that ended (terminal, unknown) or a pending submission is not
   * restarted here.
   */
  track(target: WatchTarget): Readonly<WatchedJob> {
    const { entry: e, created } = this.ensure(target);
    if (created) {
      this.start(e);
      return e;
    }
    e.token = target.token;
    const replaced = target.podUid !== undefined && e.podUid !== undefined && e.podUid !== target.podUid;
    const moved = e.baseUrl !== target.baseUrl || replaced;
    if (e.podUid === undefined) e.podUid = target.podUid;
    const ended = e.submitPending || e.unknown || isTerminalJobStatus(e.state?.status);
    if (moved) {
      // a new address or a new pod: the runtime there tells whether it knows the job
      e.baseUrl = target.baseUrl;
      e.podUid = target.podUid ?? e.podUid;
      e.error = undefined;
      e.errorSince = undefined;
      if (!ended) this.start(e);
    } else if (!e.following && !ended) {
      this.start(e);
    }
    return e;
  }

  private ensure(target: WatchTarget): { entry: Entry; created: boolean } {
    const k = RuntimeJobWatcher.id(target.jobId, target.pod);
    const existing = this.entries.get(k);
    if (existing) return { entry: existing, created: false };
    const now = this.clock.now();
    const e: Entry = {
      key: target.key,
      jobId: target.jobId,
      pod: target.pod,
      podUid: target.podUid,
      baseUrl: target.baseUrl,
      token: target.token,
      unknown: false,
      following: false,
      submitPending: false,
      submitting: false,
      submitFailures: 0,
      updatedAt: now,
      gen: 0,
      lastNotify: now,
    };
    this.entries.set(k, e);
    return { entry: e, created: true };
  }

  /**
   * Submits in the background: `request` builds the request (it may read Secrets or check that the
   * server listens), then POST /jobs, both within `submitTimeoutMs`. Success follows the job and
   * notifies; failure is recorded with its backoff and notifies, so the reconcile retries or gives up.
   */
  submit(target: WatchTarget, request: () => Promise<RuntimeJobRequest>, onSubmitted?: (state: RuntimeJobState) => void): void {
    this.beginSubmit(target);
    const e = this.entries.get(RuntimeJobWatcher.id(target.jobId, target.pod))!;
    const gen = e.gen;
    const current = (): boolean => !this.stopped && e.gen === gen && this.entries.get(RuntimeJobWatcher.id(target.jobId, target.pod)) === e;
    e.submitting = true;
    void (async () => {
      try {
        const post = async (): Promise<RuntimeJobState> => this.client.submit(target.baseUrl, target.token, await request());
        const st = await withTimeout(post(), this.submitTimeoutMs, `submit to ${target.pod}`);
        if (!current()) return;
        // an old runtime process still answering on the address while it shuts down: not accepted, retry
        if (cancelledByShutdown(st)) throw new Error(`runtime on ${target.pod} is shutting down`);
        e.submitting = false;
        this.submitted(target.jobId, target.pod, st);
        onSubmitted?.(st);
      } catch (err) {
        if (!current()) return;
        e.submitting = false;
        this.submitFailed(target.jobId, target.pod, err);
        this.opts.onError?.(err, e);
      }
      this.notify(e);
    })();
  }

  /** Records that a submission to (target.jobId, target.pod) is about to be made. */
  beginSubmit(target: WatchTarget): void {
    const { entry } = this.ensure(target);
    this.halt(entry); // abandon a poll of the previous incarnation
    entry.submitPending = true;
    entry.podUid = target.podUid;
    entry.baseUrl = target.baseUrl;
    entry.token = target.token;
    entry.unknown = false;
    entry.state = undefined;
  }

  /** The submission succeeded: follow the job from now on. */
  submitted(jobId: string, pod: string, state?: RuntimeJobState): void {
    const e = this.entries.get(RuntimeJobWatcher.id(jobId, pod));
    if (!e) return;
    e.submitPending = false;
    e.submitError = undefined;
    e.submitFailures = 0;
    e.nextSubmitAt = undefined;
    e.busy = undefined;
    e.unknown = false;
    e.error = undefined;
    e.errorSince = undefined;
    if (state) e.state = state;
    e.updatedAt = this.clock.now();
    if (!isTerminalJobStatus(e.state?.status)) this.start(e);
  }

  /** The submission failed; it stays pending (the reconcile retries it once `nextSubmitAt` has passed). */
  submitFailed(jobId: string, pod: string, err: unknown): void {
    const e = this.entries.get(RuntimeJobWatcher.id(jobId, pod));
    if (!e) return;
    const now = this.clock.now();
    e.submitPending = true;
    e.submitError = errMsg(err);
    if (isRuntimeBusy(err)) {
      // the runtime answered: it is only full. Not a failed attempt; wait as long as it asks.
      const refusals = (e.busy?.refusals ?? 0) + 1;
      e.busy = { queueLimit: err.queueLimit, retryAfterMs: err.retryAfterMs, refusals, since: e.busy?.since ?? now };
      e.nextSubmitAt =
        now +
        this.backoff({
          busy: true,
          retryAfterMs: err.retryAfterMs,
          queueLimit: err.queueLimit,
          refusals,
          failures: e.submitFailures,
          message: e.submitError,
        });
    } else {
      e.busy = undefined;
      e.submitFailures++;
      e.nextSubmitAt = now + this.backoff({ busy: false, refusals: 0, failures: e.submitFailures, message: e.submitError });
    }
    e.updatedAt = now;
  }

  /** Stops following (jobId, pod) and forgets it. */
  release(jobId: string, pod: string): void {
    const k = RuntimeJobWatcher.id(jobId, pod);
    const e = this.entries.get(k);
    if (!e) return;
    this.drop(e);
    this.entries.delete(k);
  }

  /** Stops following every pod of `jobId`. */
  untrack(jobId: string): void {
    for (const e of [...this.entries.values()]) if (e.jobId === jobId) this.release(e.jobId, e.pod);
  }

  /** Stops following everything of the owner `key` (deleted object, or a new job replacing its old one). */
  untrackKey(key: string): void {
    for (const e of [...this.entries.values()]) if (e.key === key) this.release(e.jobId, e.pod);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.drop(e);
    this.entries.clear();
  }

  /** Ends the loop (and abandons an in-flight submission) of `e`. */
  private halt(e: Entry): void {
    e.gen++;
    e.following = false;
    e.wake?.();
  }

  private drop(e: Entry): void {
    this.halt(e);
    if (e.deferred) clearTimeout(e.deferred);
    e.deferred = undefined;
  }

  /**
   * (Re)starts the loop. Its first request answers at once: a long-poll waits for a change after
   * it arrives, so one sent right after a submission would miss a change made in between.
   */
  private start(e: Entry): void {
    if (this.stopped) return;
    this.halt(e);
    e.following = true;
    void this.loop(e, e.gen);
  }

  private notify(e: Entry): void {
    if (this.stopped || this.entries.get(RuntimeJobWatcher.id(e.jobId, e.pod)) !== e) return;
    if (e.deferred) clearTimeout(e.deferred);
    e.deferred = undefined;
    e.lastNotify = this.clock.now();
    this.notifyKey(e.key);
  }

  /** A change of progress or message alone: at most every `progressIntervalMs`, the last one held back. */
  private notifyThrottled(e: Entry): void {
    const wait = e.lastNotify + this.progressIntervalMs - this.clock.now();
    if (wait <= 0) return this.notify(e);
    if (e.deferred) return;
    e.deferred = setTimeout(() => {
      e.deferred = undefined;
      this.notify(e);
    }, wait);
    e.deferred.unref?.();
  }

  private sleep(e: Entry, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        e.wake = undefined;
        resolve();
      }, ms);
      t.unref?.();
      e.wake = () => {
        clearTimeout(t);
        e.wake = undefined;
        resolve();
      };
    });
  }

  private async loop(e: Entry, gen: number): Promise<void> {
    let wait = 0;
    let backoff = this.minRetryMs;
    let errors = 0;
    const current = (): boolean => !this.stopped && e.gen === gen;
    while (current()) {
      const started = this.clock.now();
      let st: RuntimeJobState | undefined;
      try {
        st = await this.client.get(e.baseUrl, e.token, e.jobId, wait);
      } catch (err) {
        if (!current()) return;
        errors++;
        e.error = errMsg(err);
        e.errorSince ??= this.clock.now();
        e.updatedAt = this.clock.now();
        this.opts.onError?.(err, e);
        // told once, when the pod has stopped answering (the reconcile may give up on it or pick another)
        if (errors === this.errorsBeforeNotify) this.notify(e);
        await this.sleep(e, backoff);
        backoff = Math.min(this.maxRetryMs, backoff * 2);
        wait = 0;
        continue;
      }
      if (!current()) return;
      const recovered = errors >= this.errorsBeforeNotify;
      errors = 0;
      backoff = this.minRetryMs;
      e.error = undefined;
      e.errorSince = undefined;
      if (st === undefined) {
        e.unknown = true;
        e.state = undefined;
        e.following = false;
        e.updatedAt = this.clock.now();
        this.notify(e);
        return;
      }
      const prev = e.state;
      const wasUnknown = e.unknown;
      e.state = st;
      e.unknown = false;
      const terminal = isTerminalJobStatus(st.status);
      if (!sameState(prev, st)) e.updatedAt = this.clock.now();
      if (terminal || recovered || wasUnknown || prev?.status !== st.status) this.notify(e);
      else if (!sameState(prev, st)) this.notifyThrottled(e);
      if (terminal) {
        e.following = false;
        return;
      }
      wait = this.waitSeconds;
      const elapsed = this.clock.now() - started;
      if (elapsed < this.minPollIntervalMs) await this.sleep(e, this.minPollIntervalMs - elapsed);
    }
  }
}
