/**
 * Marks a SampleSet's cache statistics stale when a SampleJob ends: at once, and once more after
 * `settleMs`. An engine may publish the usage of fresh writes with a short delay, so a collection
 * right at the end can miss the last files.
 */
import type { CacheStatsNotifier } from '../shared/cache-stats-notifier.js';

export class SettledInvalidation {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly notifier: CacheStatsNotifier,
    private readonly settleMs: number,
  ) {}

  invalidate(namespace: string, sampleSet: string): void {
    this.notifier.invalidate(namespace, sampleSet);
    if (this.settleMs <= 0) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.notifier.invalidate(namespace, sampleSet);
    }, this.settleMs);
    t.unref?.();
    this.timers.add(t);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
