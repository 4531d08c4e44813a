/**
 * Collects cache statistics from a SampleSet's runtime pods in the BACKGROUND (GET /cache walks the
 * cache and may take a while): the reconcile asks for a collection and returns; when the answers are
 * in (each pod with its own timeout, all in parallel), the result is kept here and the SampleSet is
 * re-queued to write it into status.
 */
import { systemClock, type Clock } from '../../kube/clock.js';
import type { NodeCacheStats } from '../../api/runtime-protocol.js';
import { aggregateCacheStats, type AggregatedStats, type PodStatsResult } from './stats.js';

export interface StatsSource {
  cacheStats(baseUrl: string, token: string): Promise<NodeCacheStats>;
}

export interface StatsTarget {
  pod: string;
  baseUrl: string;
}

export interface Collection {
  /** Which pods were asked (see the operator's pod signature). */
  signature: string;
  generation: number;
  startedAt: number;
  finishedAt: number;
  agg: AggregatedStats;
  /** Each pod's answer, to sum again without some (a pod whose node was lost since). */
  results: PodStatsResult[];
}

export class StatsCollector {
  private readonly inflight = new Map<string, number>();
  private readonly results = new Map<string, Collection>();

  constructor(
    private readonly source: StatsSource,
    private readonly onDone: (key: string) => void,
    private readonly timeoutMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  busy(key: string): boolean {
    return this.inflight.has(key);
  }

  latest(key: string): Collection | undefined {
    return this.results.get(key);
  }

  forget(key: string): void {
    this.results.delete(key);
    this.inflight.delete(key);
  }

  /** Starts a collection unless one is running for `key`; returns whether it started. */
  collect(key: string, signature: string, generation: number, targets: StatsTarget[], token: string): boolean {
    if (this.inflight.has(key)) return false;
    const startedAt = this.clock.now();
    this.inflight.set(key, startedAt);
    void (async () => {
      const results = await Promise.all(targets.map((t) => this.one(t, token)));
      // forgotten meanwhile (SampleSet deleted): drop the result
      if (this.inflight.get(key) !== startedAt) return;
      this.inflight.delete(key);
      this.results.set(key, { signature, generation, startedAt, finishedAt: this.clock.now(), agg: aggregateCacheStats(results), results });
      this.onDone(key);
    })();
    return true;
  }

  private async one(t: StatsTarget, token: string): Promise<PodStatsResult> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const stats = await Promise.race([
        this.source.cacheStats(t.baseUrl, token),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(this.timeoutMs / 1000)} s`)), this.timeoutMs);
          timer.unref?.();
        }),
      ]);
      return { pod: t.pod, stats };
    } catch (e) {
      return { pod: t.pod, error: (e as Error)?.message ?? String(e) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
