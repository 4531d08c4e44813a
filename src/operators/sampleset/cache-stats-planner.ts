/**
 * When a SampleSet's cache statistics are refreshed, and how the latest ones show in its status.
 * Collections run in the background (StatsCollector); this keeps, per SampleSet, what was applied
 * and when the next refresh is due.
 */
import type { SampleSet } from '../../api/sampleset.js';
import { kubeTime } from '../../api/time.js';
import { runtimeBaseUrl, type RuntimePod } from '../shared/runtime-pods.js';
import type { CacheReadFigures } from '../../api/sampleset.js';
import { aggregateCacheStats, isFullyCached, withoutReads, type AggregatedStats } from './stats.js';
import type { Collection, StatsCollector } from './stats-collector.js';
import { CONDITION, type StatusDraft } from './status-draft.js';
import { systemClock, type Clock } from '../../kube/clock.js';
import { jsonEqual } from '../../kube/merge-patch.js';

/** How the statistics of one SampleSet are being refreshed. */
interface StatsMemory {
  /** The collection whose figures status shows, and when it finished. */
  applied?: Collection;
  appliedAt: number;
  /** When the next periodic refresh is due, and the interval that led there. */
  nextAt: number;
  interval: number;
  /** Consecutive collections in which some pod did not answer. */
  misses: number;
  /** Last invalidation (a SampleJob ended, the sync finished); a collection started before it is stale. */
  invalidatedAt: number;
}

export interface CacheStatsTiming {
  /** Refresh while the data is not fully cached. */
  statsIntervalMs: number;
  /** Refreshes that find nothing changed back off up to this. */
  maxStatsIntervalMs: number;
  /** First retry of a pod that did not answer (doubling up to statsIntervalMs). */
  statsRetryMs: number;
}

/** One pass's view of a SampleSet, for its statistics. */
export interface StatsStepInput {
  /** The SampleSet's queue key. */
  key: string;
  sampleSet: SampleSet;
  status: StatusDraft;
  /** Ready partition pods (they are asked). */
  ready: RuntimePod[];
  token: string;
  /** Pods on lost nodes: a collection that still counted them is summed again without them. */
  unreachable?: ReadonlySet<string>;
}

export class CacheStatsPlanner {
  private readonly memory = new Map<string, StatsMemory>();

  constructor(
    private readonly collector: StatsCollector,
    private readonly opts: CacheStatsTiming,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The figures of SampleSet `k` are stale (a SampleJob ended, the sync finished): refresh soon. */
  invalidate(k: string): void {
    const m = this.memory.get(k);
    if (m) m.invalidatedAt = this.clock.now();
  }

  /** Each runtime pod's read figures from the collection status shows (undefined: none yet). */
  podReads(k: string): Record<string, CacheReadFigures> | undefined {
    return this.memory.get(k)?.applied?.agg.podReads;
  }

  forget(k: string): void {
    this.memory.delete(k);
    this.collector.forget(k);
  }

  /**
   * Writes the latest collected statistics into status and starts a background collection when one
   * is due: never yet, pods changed, spec changed, invalidated (a SampleJob ended), or the refresh
   * interval passed — 30 s while not fully cached, backing off while nothing changes, the longest
   * interval once everything is cached (the read figures still move). Returns the time until the next refresh is due (Infinity: none planned;
   * a running collection re-queues the SampleSet when it ends).
   */
  step({ key: k, sampleSet: ss, status, ready, token, unreachable }: StatsStepInput): number {
    const now = this.clock.now();
    const signature = ready.map((p) => `${p.name}@${p.uid}@${p.podIP}`).join(',');
    const gen = ss.metadata.generation ?? 0;
    let mem = this.memory.get(k);
    if (!mem) {
      mem = { appliedAt: 0, nextAt: 0, interval: 0, misses: 0, invalidatedAt: now };
      this.memory.set(k, mem);
    }

    // a finished collection we have not looked at yet: plan the next one
    const latest = this.collector.latest(k);
    if (latest && latest.finishedAt > mem.appliedAt) {
      // read counters move whenever anything reads the dataset: only the cache figures count as a change
      const prev = withoutReads(mem.applied?.agg.cacheStatus ?? ss.status?.cacheStatus);
      const changed = !jsonEqual(prev, withoutReads(latest.agg.cacheStatus) ?? prev);
      let interval: number;
      if (latest.agg.unanswered.length > 0) {
        mem.misses++;
        interval = Math.min(this.opts.statsIntervalMs, this.opts.statsRetryMs * 2 ** (mem.misses - 1));
      } else {
        mem.misses = 0;
        // fully cached: the cache figures stay, the read figures are refreshed at the longest interval
        if (isFullyCached(latest.agg.cacheStatus)) interval = this.opts.maxStatsIntervalMs;
        else if (changed || !mem.applied || mem.applied.signature !== latest.signature) interval = this.opts.statsIntervalMs;
        else interval = Math.min(this.opts.maxStatsIntervalMs, Math.max(this.opts.statsIntervalMs, mem.interval * 2));
      }
      mem.applied = latest;
      mem.appliedAt = latest.finishedAt;
      mem.interval = interval;
      mem.nextAt = latest.finishedAt + interval;
    }

    // the latest figures into status (idempotent)
    const applied = mem.applied;
    if (applied) {
      const agg = withoutPods(applied.agg, applied.results, unreachable);
      if (agg.cacheStatus) {
        if (!jsonEqual(ss.status?.cacheStatus, agg.cacheStatus)) status.set('lastCacheUpdateTime', kubeTime(now));
        status.set('cacheStatus', agg.cacheStatus);
      }
      if (agg.unanswered.length > 0) {
        const names = agg.unanswered.map((u) => `${u.pod} (${u.error})`).join(', ');
        status.condition(
          CONDITION.cacheStats,
          'False',
          'RuntimeUnreachable',
          `no cache statistics from ${names}${agg.answered.length ? `; the figures cover ${agg.answered.join(', ')} only` : ''}`,
        );
      } else {
        status.condition(CONDITION.cacheStats, 'True', 'Collected', `cache statistics from ${agg.answered.join(', ')}`);
      }
    }

    const due =
      !applied ||
      applied.signature !== signature ||
      applied.generation !== gen ||
      mem.invalidatedAt > applied.startedAt ||
      now >= mem.nextAt;
    if (!due) return mem.nextAt - now;
    this.collector.collect(
      k,
      signature,
      gen,
      ready.map((p) => ({ pod: p.name, baseUrl: runtimeBaseUrl(p)! })),
      token,
    );
    return Infinity;
  }
}

/** The figures without the pods in `drop` (summed again from each pod's answer), or as they are when none of them answered. */
function withoutPods(agg: AggregatedStats, results: Collection['results'], drop: ReadonlySet<string> | undefined): AggregatedStats {
  if (!drop || !agg.answered.some((p) => drop.has(p))) return agg;
  return aggregateCacheStats(results.filter((r) => !drop.has(r.pod)));
}
