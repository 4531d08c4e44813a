/**
 * Keys waiting for a due time, earliest first, behind a single timer (the work queue's delayed
 * adds: requeue-after and error backoff).
 *
 * One timer per queue rather than one per key, and only a few distinct timer durations: Node keeps a
 * timer list per distinct duration, and the list of a cleared unref'd timer stays allocated until
 * that duration would have elapsed. With a timer per key, every watch event that ran a key before
 * its requeue-after (a duration in milliseconds, different for every object) left such a list
 * behind: 43,000 of them, 5 MiB of heap, with 1,000 SampleSets. Here the timer fires after the
 * largest power of two milliseconds not beyond the earliest due time (exactly for the last 32 ms)
 * and re-arms, so the durations come from a set of about 60, shared by every queue in the process.
 */
export interface Clock {
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (t: unknown) => void;
  now: () => number;
}

interface Entry {
  at: number;
  key: string;
}

/** Waits above this are taken in power-of-two steps. */
const EXACT_BELOW_MS = 32;
/** Node's timers take at most 2^31 − 1 ms. */
const LONGEST_STEP_MS = 2 ** 30;

/** How long to arm the timer for a wait of `ms`: never beyond it, from a small set of durations. */
export function timerStep(ms: number): number {
  if (ms <= EXACT_BELOW_MS) return Math.max(0, Math.ceil(ms));
  return Math.min(LONGEST_STEP_MS, 2 ** Math.floor(Math.log2(ms)));
}

export class DelayedKeys {
  /** The due time of every waiting key; heap entries that disagree with it are stale. */
  private readonly due = new Map<string, number>();
  private heap: Entry[] = [];
  private timer: unknown;
  private timerAt = Infinity;

  constructor(
    private readonly onDue: (key: string) => void,
    private readonly clock: Clock,
  ) {}

  get size(): number {
    return this.due.size;
  }

  /** Milliseconds until `key` is due, or undefined when it is not waiting. */
  dueIn(key: string): number | undefined {
    const at = this.due.get(key);
    return at === undefined ? undefined : at - this.clock.now();
  }

  /** Makes `key` due at `at`, unless it is already due at that time or earlier. */
  schedule(key: string, at: number): void {
    const existing = this.due.get(key);
    if (existing !== undefined && existing <= at) return;
    this.due.set(key, at);
    this.push({ at, key });
    this.compactIfStale();
    this.arm();
  }

  /** Forgets `key`'s due time (it runs now, or never). */
  cancel(key: string): void {
    if (this.due.delete(key)) this.compactIfStale();
  }

  /** Forgets every key and disarms the timer. */
  clear(): void {
    this.due.clear();
    this.heap = [];
    this.disarm();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const { at, key } = this.pop();
      if (this.due.get(key) !== at) continue;
      this.due.delete(key);
      this.onDue(key);
    }
    this.arm();
  }

  /** Keeps a timer armed for the earliest live entry (one that fires early re-arms when it does). */
  private arm(): void {
    while (this.heap.length > 0 && this.due.get(this.heap[0].key) !== this.heap[0].at) this.pop();
    if (this.heap.length === 0) return this.disarm();
    const at = this.heap[0].at;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.disarm();
    const now = this.clock.now();
    const step = timerStep(at - now);
    this.timerAt = now + step;
    this.timer = this.clock.setTimer(() => this.fire(), step);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Rebuilds the heap from the live keys once stale entries outnumber them. */
  private compactIfStale(): void {
    if (this.heap.length <= 2 * this.due.size + 32) return;
    this.heap = [...this.due].map(([key, at]) => ({ at, key }));
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].at <= e.at) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const e = h[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= h.length) break;
      if (child + 1 < h.length && h[child + 1].at < h[child].at) child++;
      if (h[child].at >= e.at) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = e;
  }
}
