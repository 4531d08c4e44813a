/**
 * Node statistics of the JuiceFS runtime: dataset bytes and files from `juicefs info -r` (a bounded
 * tree walk as a fallback), cached bytes by walking `<tier>/<uuid>/raw` (the mount's own accounting
 * when the UUID is unknown), statfs of each tier (tiers sharing a file system reported once), and
 * the block reads the mount served from cache and from the object store (its `.stats`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CacheReadStats, CacheTierStats, NodeCacheStats } from '../../api/runtime-protocol.js';
import { walkBeneath } from '../toolkit/beneath.js';
import { runChild } from '../toolkit/child-process.js';
import { walkFiles } from '../toolkit/fs-walk.js';
import { childEnv, infoCommand, parseInfoOutput, parsePrometheusText } from './commands.js';
import type { CacheTier } from './juicefs-clear.js';
import { isControlPath } from './juicefs-warmup.js';
import { readToEnd } from './volume-uuid.js';

export interface StatsContext {
  bin: string;
  dataDir: string;
  baseEnv: NodeJS.ProcessEnv;
  tiers: CacheTier[];
  /** Bound of `juicefs info -r` and of the fallback walk. */
  infoTimeoutMs: number;
  volumeUuid(): Promise<string>;
}

async function datasetTotals(ctx: StatsContext, errors: string[]): Promise<{ bytes: number; files: number }> {
  try {
    const r = await runChild({
      bin: ctx.bin,
      args: infoCommand(ctx.dataDir),
      env: childEnv(ctx.baseEnv),
      timeoutMs: ctx.infoTimeoutMs,
      tailLines: 40,
    });
    const parsed = r.code === 0 ? parseInfoOutput(r.tail.join('\n')) : undefined;
    if (parsed) return { bytes: parsed.bytes, files: parsed.files };
    errors.push(`juicefs info failed (${r.timedOut ? 'timeout' : `exit ${r.code}`}); counted by walking the dataset`);
  } catch (err) {
    errors.push(`juicefs info: ${(err as Error).message}; counted by walking the dataset`);
  }
  // Bounded: a huge dataset is not walked through FUSE for minutes on every statistics call.
  try {
    const w = await walkBeneath(ctx.dataDir, '', {
      skip: (rel) => isControlPath(rel),
      onFile: () => {},
      signal: AbortSignal.timeout(ctx.infoTimeoutMs),
    });
    return { bytes: w.bytes, files: w.files };
  } catch (err) {
    errors.push(`counting the dataset: ${(err as Error).message}`);
    return { bytes: 0, files: 0 };
  }
}

async function cachedBytes(ctx: StatsContext, mountMetrics: Promise<Map<string, number> | Error>, errors: string[]): Promise<number> {
  let uuid: string | undefined;
  try {
    uuid = await ctx.volumeUuid();
  } catch (err) {
    errors.push((err as Error).message);
  }
  if (uuid) {
    let total = 0;
    for (const t of ctx.tiers) {
      try {
        const w = await walkFiles(path.join(t.dir, uuid, 'raw'), '', { collect: false, onFile: () => {} });
        total += w.bytes;
      } catch (err) {
        errors.push(`cache tier ${t.host ?? t.dir}: ${(err as Error).message}`);
      }
    }
    return total;
  }
  // Without the UUID, the mount's own accounting.
  const m = await mountMetrics;
  if (m instanceof Error) {
    errors.push(`cannot read .stats: ${m.message}`);
    return 0;
  }
  return m.get('juicefs_blockcache_bytes') ?? 0;
}

/** The mount's own metrics (its `.stats` control file), or why they could not be read. */
async function readMountMetrics(ctx: StatsContext): Promise<Map<string, number> | Error> {
  try {
    return parsePrometheusText(await readToEnd(path.join(ctx.dataDir, '.stats')));
  } catch (err) {
    return err as Error;
  }
}

/** Block reads the mount served from the node's cache and from the object store since it started. */
export function readStatsOf(metrics: Map<string, number>): CacheReadStats | undefined {
  const hits = metrics.get('juicefs_blockcache_hits');
  const misses = metrics.get('juicefs_blockcache_miss');
  if (hits === undefined || misses === undefined) return undefined;
  return {
    hits,
    misses,
    hitBytes: metrics.get('juicefs_blockcache_hit_bytes') ?? 0,
    missBytes: metrics.get('juicefs_blockcache_miss_bytes') ?? 0,
  };
}

async function tierStats(ctx: StatsContext, errors: string[]): Promise<CacheTierStats[]> {
  const out: CacheTierStats[] = [];
  const seen = new Set<number>();
  for (const t of ctx.tiers) {
    try {
      const st = await fs.stat(t.dir);
      // Tiers on the same file system are reported once (their space is shared).
      if (seen.has(st.dev)) continue;
      seen.add(st.dev);
      const s = await fs.statfs(t.dir);
      out.push({
        path: t.host ?? t.dir,
        sizeBytes: s.blocks * s.bsize,
        usedBytes: (s.blocks - s.bfree) * s.bsize,
        availBytes: s.bavail * s.bsize,
      });
    } catch (err) {
      errors.push(`cache tier ${t.host ?? t.dir}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** The node's statistics; partial failures go into `errors`, never a throw. */
export async function collectStats(ctx: StatsContext): Promise<NodeCacheStats> {
  const errors: string[] = [];
  const mountMetrics = readMountMetrics(ctx);
  const [totals, cached, tiers, metrics] = await Promise.all([
    datasetTotals(ctx, errors),
    cachedBytes(ctx, mountMetrics, errors),
    tierStats(ctx, errors),
    mountMetrics,
  ]);
  const reads = metrics instanceof Error ? undefined : readStatsOf(metrics);
  return {
    totalBytes: totals.bytes,
    totalFiles: totals.files,
    cachedBytes: cached,
    tiers,
    ...(reads ? { reads } : {}),
    ...(errors.length ? { errors } : {}),
  };
}
