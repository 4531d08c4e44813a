import { kubeTime } from '../../api/time.js';
/** Time source of the SampleJob operator; injectable so tests control "now" without waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to (unit tests). */
export class ManualClock implements Clock {
  constructor(private ms: number = Date.parse('2024-01-01T00:00:00Z')) {}
  now(): number {
    return this.ms;
  }
  set(t: Date | number | string): void {
    this.ms = typeof t === 'number' ? t : new Date(t).getTime();
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** RFC 3339 with second precision, as Kubernetes writes `metav1.Time`. */
export function rfc3339(ms: number | Date): string {
  return kubeTime(ms);
}
