/**
 * The time source of the operators: bound once in the container (TYPES.Clock) and handed to every
 * operator in its OperatorContext, so tests control "now" without waiting and no reconcile reads
 * the system time directly.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Milliseconds on a monotonic clock (any origin), for waits such as requeue delays: a step of the
   * wall clock must neither cut them short nor stretch them. A clock without it is waited on by now().
   */
  elapsed?(): number;
}

export const systemClock: Clock = { now: () => Date.now(), elapsed: () => performance.now() };

/** A clock that only moves when told to (unit tests). */
export class ManualClock implements Clock {
  constructor(private ms: number = Date.parse('2024-01-01T00:00:00Z')) {}
  now(): number {
    return this.ms;
  }
  elapsed(): number {
    return this.ms;
  }
  set(t: Date | number | string): void {
    this.ms = typeof t === 'number' ? t : new Date(t).getTime();
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
