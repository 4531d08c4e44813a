/**
 * Follows SampleJob runs on the runtime pods with long-polls, OUTSIDE the reconcile.
 *
 * One loop per (runtime job id, runtime pod) keeps exactly one `GET /jobs/{id}?waitSeconds=N` in
 * flight; every change it sees (status, progress, message, "unknown job", a transport error) is
 * stored in memory and the owning SampleJob is re-queued (`notify(key)`), so the reconcile only
 * reads `get(id, pod)` and writes status. A terminal state or "unknown job" ends the loop (the
 * reconcile decides what happens next: resubmission re-arms it with `submitted`). Transport errors
 * are retried with capped backoff and reported with the time they started, so the reconcile can
 * give up on a runtime that stays unreachable. Re-targeting (the pod got a new IP or UID) abandons
 * the old in-flight poll at once.
 *
 * A submission refused with 429 (the runtime's queue is full) is not a failure: it is recorded as
 * `busy` and retried after the runtime's Retry-After (or a capped exponential backoff), without
 * counting towards `submitFailures`.
 */
import { isTerminalJobStatus, type RuntimeJobRequest, type RuntimeJobState } from '../../api/runtime-protocol.js';
import { isRuntimeBusy } from '../shared/runtime-client.js';
import { systemClock, type Clock } from '../../kube/clock.js';

/** The RuntimeClient calls the SampleJob operator uses (src/operators/shared/runtime-client.ts implements them). */
export interface RuntimeJobsClient {
  submit(baseUrl: string, token: string, req: RuntimeJobRequest): Promise<unknown>;
  /** undefined = the runtime does not know the job (e.g. the pod restarted). */
  get(baseUrl: string, token: string, id: string, waitSeconds?: number): Promise<RuntimeJobState | undefined>;
  cancel(baseUrl: string, token: string, id: string): Promise<unknown>;
  terminate(baseUrl: string, token: string): Promise<unknown>;
}

export interface TrackTarget {
  /** `namespace/name` of the SampleJob to re-queue on changes. */
  key: string;
  jobId: string;
  pod: string;
  podUid?: string;
  baseUrl: string;
  token: string;
}

export interface RuntimeBusyState {
  /** The runtime's pending-queue bound, when it said so. */
  queueLimit?: number;
  /** Consecutive 429 answers. */
  refusals: number;
  since: number;
}

export interface TrackedState {
  readonly key: string;
  readonly jobId: string;
  readonly pod: string;
  /** UID of the pod the job was submitted to / is polled on. */
  podUid?: string;
  baseUrl: string;
  token: string;
  /** Latest state reported by the runtime. */
  state?: RuntimeJobState;
  /** The runtime answered "no such job". */
  unknown: boolean;
  /** A submission to this pod is in progress or failed in this process and must be retried. */
  submitPending: boolean;
  /** A POST /jobs is in flight. */
  submitting: boolean;
  submitError?: string;
  submitFailures: number;
  /** After a failed submission: not before this time (capped exponential backoff). */
  nextSubmitAt?: number;
  /** The last submission was refused because the runtime's queue is full (429); cleared on success or another error. */
  busy?: RuntimeBusyState;
  /** Consecutive transport errors of the poll loop, since when. */
  error?: string;
  errorSince?: number;
  updatedAt: number;
}

interface Entry extends TrackedState {
  /** Incremented on every (re)start; a loop whose generation is stale exits. */
  gen: number;
  looping: boolean;
  wake?: () => void;
}

export interface JobTrackerOptions {
  /** Long-poll duration passed to the runtime. */
  waitSeconds?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Longest wait before submitting again to a busy runtime (default 60 s). */
  maxBusyRetryMs?: number;
  clock?: Clock;
  onError?: (e: unknown, t: TrackedState) => void;
}


function sameState(a: RuntimeJobState | undefined, b: RuntimeJobState): boolean {
  if (!a) return false;
  const pa = a.progress ?? {};
  const pb = b.progress ?? {};
  return (
    a.status === b.status &&
    a.message === b.message &&
    pa.filesDone === pb.filesDone &&
    pa.filesTotal === pb.filesTotal &&
    pa.bytesDone === pb.bytesDone &&
    pa.bytesTotal === pb.bytesTotal
  );
}

export class JobTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly waitSeconds: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly maxBusyRetryMs: number;
  private readonly clock: Clock;
  private stopped = false;

  constructor(
    private readonly client: RuntimeJobsClient,
    private readonly notify: (key: string) => void,
    private readonly opts: JobTrackerOptions = {},
  ) {
    this.waitSeconds = opts.waitSeconds ?? 20;
    this.minRetryMs = opts.minRetryMs ?? 250;
    this.maxRetryMs = opts.maxRetryMs ?? 5000;
    this.maxBusyRetryMs = opts.maxBusyRetryMs ?? 60_000;
    this.clock = opts.clock ?? systemClock;
  }

  private static id(jobId: string, pod: string): string {
    return `${jobId}\u0000${pod}`;
  }

  get(jobId: string, pod: string): TrackedState | undefined {
    return this.entries.get(JobTracker.id(jobId, pod));
  }

  /** Number of loops with a request in flight or waiting to retry (tests, metrics). */
  get activeLoops(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.looping) n++;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Makes sure (id, pod) is followed at `target` (idempotent). A changed base URL or pod UID
   * restarts the loop; a loop that ended (terminal / unknown) is not restarted here.
   */
  track(target: TrackTarget): TrackedState {
    const { entry: e, created } = this.ensure(target);
    if (created) {
      this.start(e);
      return e;
    }
    e.token = target.token;
    const replaced = target.podUid !== undefined && e.podUid !== undefined && e.podUid !== target.podUid;
    const moved = e.baseUrl !== target.baseUrl || replaced;
    if (e.podUid === undefined) e.podUid = target.podUid;
    if (moved) {
      // a new address or a new pod: ask again at once (the runtime there tells whether it knows the job)
      e.baseUrl = target.baseUrl;
      e.podUid = target.podUid ?? e.podUid;
      e.error = undefined;
      e.errorSince = undefined;
      if (!e.submitPending && !e.unknown && !isTerminalJobStatus(e.state?.status)) this.start(e);
    } else if (!e.looping && !e.unknown && !e.submitPending && !isTerminalJobStatus(e.state?.status)) {
      this.start(e);
    }
    return e;
  }

  private ensure(target: TrackTarget): { entry: Entry; created: boolean } {
    const k = JobTracker.id(target.jobId, target.pod);
    const existing = this.entries.get(k);
    if (existing) return { entry: existing, created: false };
    const e: Entry = {
      key: target.key,
      jobId: target.jobId,
      pod: target.pod,
      podUid: target.podUid,
      baseUrl: target.baseUrl,
      token: target.token,
      unknown: false,
      submitPending: false,
      submitting: false,
      submitFailures: 0,
      updatedAt: this.clock.now(),
      gen: 0,
      looping: false,
    };
    this.entries.set(k, e);
    return { entry: e, created: true };
  }

  /**
   * Submits in the background (the reconcile never waits on a runtime): `request` builds the
   * request (it may read Secrets), then POST /jobs. Success starts following the run; failure is
   * recorded with a backoff and the job re-queued, so the reconcile retries (or gives up).
   */
  submit(target: TrackTarget, request: () => Promise<RuntimeJobRequest>, onSubmitted?: () => void): void {
    this.beginSubmit(target);
    const e = this.entries.get(JobTracker.id(target.jobId, target.pod))!;
    const gen = e.gen;
    e.submitting = true;
    void (async () => {
      try {
        const req = await request();
        const st = (await this.client.submit(target.baseUrl, target.token, req)) as RuntimeJobState | undefined;
        if (e.gen !== gen || this.entries.get(JobTracker.id(target.jobId, target.pod)) !== e) return;
        // an old runtime process still answering on the address while it shuts down: not accepted, retry
        if (st?.status === 'cancelled' && /runtime (is )?shutting down/i.test(st.message ?? '')) throw new Error(`runtime on ${target.pod} is shutting down`);
        e.submitting = false;
        this.submitted(target.jobId, target.pod, st);
        onSubmitted?.();
      } catch (err) {
        if (e.gen !== gen || this.entries.get(JobTracker.id(target.jobId, target.pod)) !== e) return;
        e.submitting = false;
        this.submitFailed(target.jobId, target.pod, err);
        this.opts.onError?.(err, e);
        this.notify(e.key);
      }
    })();
  }

  /** Records that a submission to (target.jobId, target.pod) is about to be made. */
  beginSubmit(target: TrackTarget): void {
    const { entry } = this.ensure(target);
    entry.gen++; // abandon a poll of the previous incarnation
    entry.wake?.();
    entry.looping = false;
    entry.submitPending = true;
    entry.podUid = target.podUid;
    entry.baseUrl = target.baseUrl;
    entry.token = target.token;
    entry.unknown = false;
    entry.state = undefined;
  }

  /** The submission succeeded: follow the job from now on. */
  submitted(jobId: string, pod: string, state?: RuntimeJobState): void {
    const e = this.entries.get(JobTracker.id(jobId, pod));
    if (!e) return;
    e.submitPending = false;
    e.submitError = undefined;
    e.submitFailures = 0;
    e.nextSubmitAt = undefined;
    e.busy = undefined;
    e.unknown = false;
    e.error = undefined;
    e.errorSince = undefined;
    if (state && typeof state === 'object' && 'status' in state) e.state = state;
    e.updatedAt = this.clock.now();
    this.start(e);
  }

  /** The submission failed; it stays pending (the reconcile retries it). */
  submitFailed(jobId: string, pod: string, err: unknown): void {
    const e = this.entries.get(JobTracker.id(jobId, pod));
    if (!e) return;
    const now = this.clock.now();
    e.submitPending = true;
    e.submitError = (err as Error)?.message ?? String(err);
    if (isRuntimeBusy(err)) {
      // the runtime answered: it is only full. Not a failed attempt; wait as long as it asks.
      const refusals = (e.busy?.refusals ?? 0) + 1;
      e.busy = { queueLimit: err.queueLimit, refusals, since: e.busy?.since ?? now };
      const backoff = Math.min(this.maxBusyRetryMs, this.minRetryMs * 2 ** Math.min(10, refusals - 1));
      e.nextSubmitAt = now + Math.min(this.maxBusyRetryMs, Math.max(backoff, err.retryAfterMs ?? 0));
    } else {
      e.busy = undefined;
      e.submitFailures++;
      e.nextSubmitAt = now + Math.min(this.maxRetryMs, this.minRetryMs * 2 ** Math.min(10, e.submitFailures - 1));
    }
    e.updatedAt = now;
  }

  /** Stops following every pod of `jobId`. */
  untrack(jobId: string): void {
    for (const [k, e] of this.entries) {
      if (e.jobId === jobId) {
        this.halt(e);
        this.entries.delete(k);
      }
    }
  }

  /** Stops following everything of the SampleJob `key` (deleted object). */
  untrackKey(key: string): void {
    for (const [k, e] of this.entries) {
      if (e.key === key) {
        this.halt(e);
        this.entries.delete(k);
      }
    }
  }

  /** Job ids tracked for `key`. */
  jobIdsOf(key: string): string[] {
    return [...new Set([...this.entries.values()].filter((e) => e.key === key).map((e) => e.jobId))];
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.halt(e);
    this.entries.clear();
  }

  private halt(e: Entry): void {
    e.gen++;
    e.looping = false;
    e.wake?.();
  }

  private start(e: Entry): void {
    if (this.stopped) return;
    e.gen++;
    e.wake?.();
    e.looping = true;
    void this.loop(e, e.gen);
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
    let wait = 0; // the first request answers at once with the current state
    let backoff = this.minRetryMs;
    const current = (): boolean => !this.stopped && e.gen === gen;
    while (current()) {
      try {
        const st = await this.client.get(e.baseUrl, e.token, e.jobId, wait);
        if (!current()) return;
        backoff = this.minRetryMs;
        const hadError = e.error !== undefined;
        e.error = undefined;
        e.errorSince = undefined;
        if (st === undefined) {
          e.unknown = true;
          e.state = undefined;
          e.looping = false;
          e.updatedAt = this.clock.now();
          this.notify(e.key);
          return;
        }
        const changed = !sameState(e.state, st) || hadError || e.unknown;
        e.state = st;
        e.unknown = false;
        if (changed) {
          e.updatedAt = this.clock.now();
          this.notify(e.key);
        }
        if (isTerminalJobStatus(st.status)) {
          e.looping = false;
          return;
        }
        wait = this.waitSeconds;
      } catch (err) {
        if (!current()) return;
        const first = e.error === undefined;
        e.error = (err as Error)?.message ?? String(err);
        e.errorSince ??= this.clock.now();
        e.updatedAt = this.clock.now();
        this.opts.onError?.(err, e);
        if (first) this.notify(e.key);
        await this.sleep(e, backoff);
        backoff = Math.min(this.maxRetryMs, backoff * 2);
        wait = 0;
      }
    }
  }
}
