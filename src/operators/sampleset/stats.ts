/** Aggregation of per-node cache statistics into SampleSet `status.cacheStatus` (pure). */
import type { CacheStatus } from '../../api/sampleset.js';
import type { NodeCacheStats } from '../../api/runtime-protocol.js';
import { formatBytes, formatCount, formatPercent } from '../../api/format.js';

/** What one runtime pod answered (or why it did not), in partition order. */
export interface PodStatsResult {
  pod: string;
  stats?: NodeCacheStats;
  error?: string;
}

export interface AggregatedStats {
  /** Undefined when no pod answered (keep the previous figures). */
  cacheStatus?: CacheStatus;
  answered: string[];
  /** Pods that were asked and did not answer, with the reason. */
  unanswered: Array<{ pod: string; error: string }>;
}

const nonNegative = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/**
 * Sums node statistics the way the original did, without its all-or-nothing failure:
 * - dataset size and file count from the first pod that answered (every pod mounts the same volume);
 * - cached bytes summed over pods, capped at the dataset size;
 * - disk size/used/avail summed over every tier of every pod;
 * - human strings (`4.2 GiB`, `128,660`, `37.5%`) next to the exact numbers;
 * - errors reported by pods and pods that did not answer joined into `errorMassage`.
 */
export function aggregateCacheStats(results: readonly PodStatsResult[]): AggregatedStats {
  const answered = results.filter((r) => r.stats);
  const unanswered = results.filter((r) => !r.stats).map((r) => ({ pod: r.pod, error: r.error || 'no answer' }));
  if (answered.length === 0) return { answered: [], unanswered };
  const first = answered[0].stats!;
  const totalBytes = nonNegative(first.totalBytes);
  const fileCount = nonNegative(first.totalFiles);
  let cached = 0;
  let size = 0;
  let used = 0;
  let avail = 0;
  const errors: string[] = [];
  for (const r of answered) {
    const s = r.stats!;
    cached += nonNegative(s.cachedBytes);
    for (const t of s.tiers ?? []) {
      size += nonNegative(t.sizeBytes);
      used += nonNegative(t.usedBytes);
      avail += nonNegative(t.availBytes);
    }
    for (const e of s.errors ?? []) if (e) errors.push(`${r.pod}: ${e}`);
  }
  for (const u of unanswered) errors.push(`${u.pod}: ${u.error}`);
  const cachedBytes = Math.min(cached, totalBytes);
  const cacheStatus: CacheStatus = {
    totalSize: formatBytes(totalBytes),
    totalFiles: formatCount(fileCount),
    cachedSize: formatBytes(cachedBytes),
    cachedPercentage: formatPercent(cachedBytes, totalBytes),
    diskSize: formatBytes(size),
    diskUsed: formatBytes(used),
    diskAvail: formatBytes(avail),
    diskUsageRate: formatPercent(used, size),
    totalBytes,
    cachedBytes,
    diskSizeBytes: size,
    diskUsedBytes: used,
    diskAvailBytes: avail,
    fileCount,
  };
  if (errors.length > 0) cacheStatus.errorMassage = errors.join('; ');
  return { cacheStatus, answered: answered.map((r) => r.pod), unanswered };
}

/** True when nothing more can be cached: every byte of the dataset is in the caches (or it is empty). */
export function isFullyCached(cs: CacheStatus | undefined): boolean {
  if (!cs || cs.totalBytes === undefined) return false;
  return (cs.cachedBytes ?? 0) >= cs.totalBytes;
}
