/**
 * Marks a SampleSet's cache statistics stale when a SampleJob ends: at once, and once more
 * `settleMs` after the last job of that SampleSet ended. An engine may publish the usage of fresh
 * writes with a short delay, so a collection right at the end can miss the last files. One timer
 * per SampleSet at most, however many of its jobs end together.
 */
import type { CacheStatsNotifier } from '../shared/cache-stats-notifier.js';

export class SettledInvalidation {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly notifier: CacheStatsNotifier,
    private readonly settleMs: number,
  ) {}

  invalidate(namespace: string, sampleSet: string): void {
    this.notifier.invalidate(namespace, sampleSet);
    if (this.settleMs <= 0) return;
    const key = `${namespace}/${sampleSet}`;
    clearTimeout(this.timers.get(key));
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.notifier.invalidate(namespace, sampleSet);
    }, this.settleMs);
    t.unref?.();
    this.timers.set(key, t);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
