/**
 * Follows a SampleSet's initial sync on its runtime pod OUTSIDE the reconcile: one background loop
 * per SampleSet long-polls `GET /jobs/{id}?waitSeconds=N` and re-queues the SampleSet when the job's
 * status changes (at once) or its progress changes (at most every `progressIntervalMs`). Reconciles
 * only read the latest state from here; they never wait on the runtime.
 */
import { systemClock, type Clock } from '../../kube/clock.js';
import { isTerminalJobStatus, type RuntimeJobState } from '../../api/runtime-protocol.js';
import { jsonEqual } from '../../kube/merge-patch.js';

export interface JobPoller {
  get(baseUrl: string, token: string, id: string, waitSeconds?: number): Promise<RuntimeJobState | undefined>;
}

export interface SyncTarget {
  id: string;
  pod: string;
  podUid?: string;
  baseUrl: string;
  token: string;
}

/** What the loop knows about a tracked sync. */
export interface TrackedSync extends Omit<SyncTarget, 'token'> {
  /** Latest state the runtime reported. */
  state?: RuntimeJobState;
  /** The runtime answered "no such job" (pod restarted): the job must be submitted again. */
  unknown: boolean;
  /** Last transport error, cleared by the next answer. */
  error?: string;
  /** The loop ended (terminal state, unknown job, or stopped). */
  finished: boolean;
}

export interface SyncTrackerOptions {
  /** Long-poll wait per request (default 10 s). */
  waitSeconds?: number;
  /** Minimum spacing of "progress changed" notifications (default 2 s). */
  progressIntervalMs?: number;
  /** Minimum spacing of two requests, a guard against a server that answers at once (default 250 ms). */
  minPollIntervalMs?: number;
  /** Backoff after transport errors: starts here, doubles, capped (defaults 500 ms → 10 s). */
  errorBackoffMs?: number;
  maxErrorBackoffMs?: number;
  /** The time source (the system clock by default). */
  clock?: Clock;
}

interface Entry {
  target: SyncTarget;
  info: TrackedSync;
  stopped: boolean;
  lastNotify: number;
  deferred?: NodeJS.Timeout;
  wake?: () => void;
}


export class SyncTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: Required<Omit<SyncTrackerOptions, 'clock'>>;
  private readonly clock: Clock;

  constructor(
    private readonly poller: JobPoller,
    /** Called with the SampleSet key whenever there is something new to look at. */
    private readonly onChange: (key: string) => void,
    opts: SyncTrackerOptions = {},
  ) {
    this.opts = {
      waitSeconds: opts.waitSeconds ?? 10,
      progressIntervalMs: opts.progressIntervalMs ?? 2000,
      minPollIntervalMs: opts.minPollIntervalMs ?? 250,
      errorBackoffMs: opts.errorBackoffMs ?? 500,
      maxErrorBackoffMs: opts.maxErrorBackoffMs ?? 10_000,
    };
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Follows `target` for `key` (replacing whatever was followed for it unless it is the same job on
   * the same pod). `initial` is the state the submit answered, if any.
   */
  track(key: string, target: SyncTarget, initial?: RuntimeJobState): void {
    const cur = this.entries.get(key);
    if (cur && !cur.stopped && cur.target.id === target.id && cur.target.pod === target.pod && cur.target.podUid === target.podUid && cur.target.baseUrl === target.baseUrl) {
      if (!cur.info.finished) return;
    }
    this.stop(key);
    const { token: _token, ...rest } = target;
    const entry: Entry = { target, info: { ...rest, state: initial, unknown: false, finished: false }, stopped: false, lastNotify: this.clock.now() };
    this.entries.set(key, entry);
    void this.loop(key, entry);
  }

  /** A snapshot of what is known about `key`'s sync, if it is (or was) followed. */
  get(key: string): TrackedSync | undefined {
    const e = this.entries.get(key);
    return e ? { ...e.info } : undefined;
  }

  stop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.stopped = true;
    e.info.finished = true;
    if (e.deferred) clearTimeout(e.deferred);
    e.wake?.();
    this.entries.delete(key);
  }

  stopAll(): void {
    for (const k of [...this.entries.keys()]) this.stop(k);
  }

  get size(): number {
    return this.entries.size;
  }

  private notify(key: string, e: Entry): void {
    if (e.stopped) return;
    if (e.deferred) {
      clearTimeout(e.deferred);
      e.deferred = undefined;
    }
    e.lastNotify = this.clock.now();
    this.onChange(key);
  }

  private notifyThrottled(key: string, e: Entry): void {
    const wait = e.lastNotify + this.opts.progressIntervalMs - this.clock.now();
    if (wait <= 0) return this.notify(key, e);
    if (e.deferred) return;
    e.deferred = setTimeout(() => {
      e.deferred = undefined;
      this.notify(key, e);
    }, wait);
    e.deferred.unref?.();
  }

  private sleep(e: Entry, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref?.();
      e.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async loop(key: string, e: Entry): Promise<void> {
    let backoff = this.opts.errorBackoffMs;
    let errors = 0;
    while (!e.stopped) {
      const started = this.clock.now();
      let st: RuntimeJobState | undefined;
      try {
        // the first request answers at once (the state right now); later ones wait for a change
        st = await this.poller.get(e.target.baseUrl, e.target.token, e.target.id, e.info.state ? this.opts.waitSeconds : 0);
      } catch (err) {
        if (e.stopped) break;
        errors++;
        e.info.error = (err as Error)?.message ?? String(err);
        // one notification when the pod stops answering (the reconcile may pick another pod)
        if (errors === 3) this.notify(key, e);
        await this.sleep(e, backoff);
        backoff = Math.min(this.opts.maxErrorBackoffMs, backoff * 2);
        continue;
      }
      if (e.stopped) break;
      if (errors >= 3) this.notify(key, e);
      errors = 0;
      backoff = this.opts.errorBackoffMs;
      e.info.error = undefined;
      if (!st) {
        e.info.unknown = true;
        e.info.finished = true;
        this.notify(key, e);
        break;
      }
      const prev = e.info.state;
      e.info.state = st;
      if (isTerminalJobStatus(st.status)) {
        e.info.finished = true;
        this.notify(key, e);
        break;
      }
      if (prev?.status !== st.status) this.notify(key, e);
      else if (!jsonEqual(prev?.progress, st.progress) || prev?.message !== st.message) this.notifyThrottled(key, e);
      const elapsed = this.clock.now() - started;
      if (elapsed < this.opts.minPollIntervalMs) await this.sleep(e, this.opts.minPollIntervalMs - elapsed);
    }
  }
}
