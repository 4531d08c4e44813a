/** Aggregation of per-node cache statistics into SampleSet `status.cacheStatus` (pure). */
import type { CacheReadFigures, CacheStatus } from '../../api/sampleset.js';
import type { CacheReadStats, NodeCacheStats } from '../../api/runtime-protocol.js';
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
  /** The read figures of each pod that reported them. */
  podReads: Record<string, CacheReadFigures>;
}

/** Read figures as they show in status: counts, bytes, and the hit ratio once anything was read. */
export function readFigures(r: CacheReadStats): CacheReadFigures {
  const hits = nonNegative(r.hits);
  const misses = nonNegative(r.misses);
  return {
    ...(hits + misses > 0 ? { cacheHitRatio: formatPercent(hits, hits + misses) } : {}),
    cacheHits: hits,
    cacheMisses: misses,
    bytesFromCache: nonNegative(r.hitBytes),
    bytesFromStore: nonNegative(r.missBytes),
  };
}

const nonNegative = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/**
 * Sums node statistics the way the original did, without its all-or-nothing failure:
 * - dataset size and file count from the first pod that answered (every pod mounts the same volume);
 * - cached bytes summed over pods, capped at the dataset size;
 * - disk size/used/avail summed over every tier of every pod;
 * - human strings (`4.2 GiB`, `128,660`, `37.5%`) next to the exact numbers;
 * - block reads from cache and from the object store summed over the pods that count them, with
 *   the hit ratio of the sum (and each pod's own figures for its partition);
 * - errors reported by pods and pods that did not answer joined into `errorMassage`.
 */
export function aggregateCacheStats(results: readonly PodStatsResult[]): AggregatedStats {
  const answered = results.filter((r) => r.stats);
  const unanswered = results.filter((r) => !r.stats).map((r) => ({ pod: r.pod, error: r.error || 'no answer' }));
  if (answered.length === 0) return { answered: [], unanswered, podReads: {} };
  const first = answered[0].stats!;
  const totalBytes = nonNegative(first.totalBytes);
  const fileCount = nonNegative(first.totalFiles);
  let cached = 0;
  let size = 0;
  let used = 0;
  let avail = 0;
  const errors: string[] = [];
  const podReads: Record<string, CacheReadFigures> = {};
  let reads: CacheReadStats | undefined;
  for (const r of answered) {
    const s = r.stats!;
    if (s.reads) {
      podReads[r.pod] = readFigures(s.reads);
      const f = podReads[r.pod];
      reads = {
        hits: (reads?.hits ?? 0) + f.cacheHits!,
        misses: (reads?.misses ?? 0) + f.cacheMisses!,
        hitBytes: (reads?.hitBytes ?? 0) + f.bytesFromCache!,
        missBytes: (reads?.missBytes ?? 0) + f.bytesFromStore!,
      };
    }
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
    ...(reads ? readFigures(reads) : {}),
  };
  if (errors.length > 0) cacheStatus.errorMassage = errors.join('; ');
  return { cacheStatus, answered: answered.map((r) => r.pod), unanswered, podReads };
}

const READ_FIELDS: readonly (keyof CacheReadFigures)[] = ['cacheHitRatio', 'cacheHits', 'cacheMisses', 'bytesFromCache', 'bytesFromStore'];

/** The cache figures without the read counters (which move whenever anything reads the dataset). */
export function withoutReads(cs: CacheStatus | undefined): CacheStatus | undefined {
  if (!cs) return cs;
  const out: CacheStatus = { ...cs };
  for (const f of READ_FIELDS) delete out[f];
  return out;
}

/** True when nothing more can be cached: every byte of the dataset is in the caches (or it is empty). */
export function isFullyCached(cs: CacheStatus | undefined): boolean {
  if (!cs || cs.totalBytes === undefined) return false;
  return (cs.cachedBytes ?? 0) >= cs.totalBytes;
}

/**
 * The figures when no cache node can be reached (every partition's node is lost): the dataset's
 * size and file count stay, nothing counts as cached, and there is no disk or read figure to show.
 */
export function nothingReachable(cs: CacheStatus): CacheStatus {
  const out: CacheStatus = {
    cachedSize: formatBytes(0),
    cachedPercentage: formatPercent(0, cs.totalBytes ?? 0),
    diskSize: formatBytes(0),
    diskUsed: formatBytes(0),
    diskAvail: formatBytes(0),
    diskUsageRate: formatPercent(0, 0),
    cachedBytes: 0,
    diskSizeBytes: 0,
    diskUsedBytes: 0,
    diskAvailBytes: 0,
  };
  if (cs.totalSize !== undefined) out.totalSize = cs.totalSize;
  if (cs.totalFiles !== undefined) out.totalFiles = cs.totalFiles;
  if (cs.totalBytes !== undefined) out.totalBytes = cs.totalBytes;
  if (cs.fileCount !== undefined) out.fileCount = cs.fileCount;
  return out;
}
