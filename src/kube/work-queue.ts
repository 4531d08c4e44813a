/**
 * A keyed work queue with the semantics of client-go's rate-limited queue:
 * - adding a key that is already waiting coalesces (one reconcile for a burst of events);
 * - at most one handler runs per key; a key added while it runs is run again afterwards;
 * - up to `concurrency` different keys run in parallel;
 * - a thrown error re-queues the key with per-key exponential backoff (`baseDelayMs` doubling up
 *   to `maxDelayMs`); a returned `requeueAfterMs` re-queues after that delay; success resets backoff;
 *   delayed keys wait behind one timer (`DelayedKeys`), not a timer each;
 * - `stop()` stops taking work, lets in-flight handlers finish (up to a deadline) and returns.
 */
import { DelayedKeys } from './delayed-keys.js';

export interface WorkResult {
  /** Run the key again after this many milliseconds (level-triggered "check again later"). */
  requeueAfterMs?: number;
}

export type WorkHandler = (key: string) => Promise<WorkResult | void>;

export interface WorkQueueOptions {
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called after every handler run, for metrics. */
  onProcessed?: (key: string, outcome: 'success' | 'error' | 'requeue', durationMs: number, error?: unknown) => void;
  /** Called when a key is taken off the queue, with how long it waited there. */
  onDequeue?: (key: string, waitedMs: number) => void;
  /** Injectable timer functions (unit tests). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  /** Milliseconds for delays and wait times (default: the monotonic `performance.now()`). */
  now?: () => number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirtyWhileProcessing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed: DelayedKeys;
  private readonly addedAt = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private stopped = false;
  private paused = true;
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;

  constructor(
    private readonly handler: WorkHandler,
    private readonly opts: WorkQueueOptions = {},
  ) {
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.baseDelayMs = opts.baseDelayMs ?? 200;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    // delays on a monotonic clock: a step of the wall clock must not release or hold delayed keys
    this.now = opts.now ?? (() => performance.now());
    this.delayed = new DelayedKeys((key) => this.add(key), {
      setTimer:
        opts.setTimer ??
        ((fn, ms) => {
          const t = setTimeout(fn, ms);
          t.unref?.();
          return t;
        }),
      clearTimer: opts.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout)),
      now: this.now,
    });
  }

  /** Starts (or resumes) dispatching. Keys may be added before. */
  start(): void {
    if (this.stopped) return;
    this.paused = false;
    this.pump();
  }

  /** Number of keys waiting to run (not counting delayed or running ones). */
  get depth(): number {
    return this.queue.length;
  }
  get inFlight(): number {
    return this.processing.size;
  }

  add(key: string): void {
    if (this.stopped) return;
    this.delayed.cancel(key);
    if (this.processing.has(key)) {
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.addedAt.set(key, this.now());
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after `ms`; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    this.delayed.schedule(key, this.now() + ms);
  }

  /** Milliseconds until a delayed key is added, or undefined when it is not delayed. */
  delayedFor(key: string): number | undefined {
    return this.delayed.dueIn(key);
  }

  /** Re-queues with this key's next backoff delay and returns that delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  /** Forgets the key's failure history (its next backoff starts from the base delay). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Stops dispatching, cancels delayed keys, and waits for running handlers (at most `timeoutMs`). */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopped = true;
    this.delayed.clear();
    this.queue.length = 0;
    this.queued.clear();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref?.();
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves when nothing is queued or running (delayed keys don't count). For tests. */
  async idle(): Promise<void> {
    if (this.queue.length === 0 && this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.paused && !this.stopped && this.processing.size < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.opts.onDequeue?.(key, this.now() - (this.addedAt.get(key) ?? this.now()));
      this.addedAt.delete(key);
      this.processing.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    const started = this.now();
    let outcome: 'success' | 'error' | 'requeue' = 'success';
    let err: unknown;
    try {
      const r = await this.handler(key);
      if (r && r.requeueAfterMs !== undefined && r.requeueAfterMs >= 0) {
        outcome = 'requeue';
        this.forget(key);
        if (!this.stopped) this.addAfter(key, r.requeueAfterMs);
      } else {
        this.forget(key);
      }
    } catch (e) {
      outcome = 'error';
      err = e;
      if (!this.stopped) this.addRateLimited(key);
    } finally {
      this.processing.delete(key);
      this.opts.onProcessed?.(key, outcome, this.now() - started, err);
      if (this.dirtyWhileProcessing.delete(key) && !this.stopped) this.add(key);
      if (this.queue.length === 0 && this.processing.size === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
      this.pump();
    }
  }
}
