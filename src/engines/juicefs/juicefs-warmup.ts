/**
 * The warmup job: lists the requested files without following any symlink (toolkit/beneath.ts),
 * keeps this pod's shard (sharding.ts) and asks the mount process, through its control file, to
 * fill its cache with them in batches. The mount resolves the paths inside the volume, so nothing
 * outside it is ever read.
 *
 * A list file (`file`) must be a regular file inside the dataset, at most WARMUP_LIST_MAX_BYTES,
 * read within WARMUP_LIST_TIMEOUT_MS: a FIFO, a socket, a device, a symlink, JuiceFS's endless
 * `.accesslog` or any other virtual file, or a huge or growing file is refused, so the one-at-a-
 * time queue can never be wedged by what a tenant plants.
 */
import fs from 'node:fs/promises';
import { readRegularFileBeneath, walkBeneath, type BeneathEntry } from '../toolkit/beneath.js';
import { normalizeUserPath, PathSafetyError } from '../toolkit/path-safety.js';
import type { WarmupRequest } from '../../api/runtime-protocol.js';
import type { JobExecution } from '../cache-engine.js';
import { formatBytes } from '../../api/format.js';
import { controlRequest, errnoName, fillCacheMessage, MIN_INTERNAL_INODE } from './control-file.js';
import { canonicalOrder, selectShard } from './sharding.js';

/** Entries at the root of a JuiceFS mount that are not dataset files. */
export const CONTROL_FILES = [
  '.stats',
  '.config',
  '.control',
  '.accesslog',
  '.trash',
  '.jfs.stats',
  '.jfs.config',
  '.jfs.control',
  '.jfs.accesslog',
  '.jfs.trash',
];

export const WARMUP_LIST_MAX_BYTES = 16 * 1024 * 1024;
export const WARMUP_LIST_TIMEOUT_MS = 60_000;
/** Paths per FillCache request (juicefs warmup's own batch size). */
const BATCH_MAX_FILES = 10240;

/** True for a JuiceFS virtual file at the dataset root (`rel` relative to the root). */
export function isControlPath(rel: string): boolean {
  return !rel.includes('/') && CONTROL_FILES.includes(rel);
}

export interface WarmupContext {
  /** The dataset root (the mount point, already resolved). */
  root: string;
  threads: number;
}

/** Files to warm (relative to the dataset root), from `paths` and/or the list `file`. */
export async function warmupTargets(o: WarmupRequest, root: string, exec: JobExecution): Promise<Map<string, BeneathEntry>> {
  // `paths` must exist (a typo should not warm nothing quietly); entries of a list file that no
  // longer exist are skipped and counted (lists go stale).
  const requested: { path: string; fromList: boolean }[] = [];
  if (o.file !== undefined) {
    const listRel = normalizeUserPath(o.file);
    if (listRel === '' || isControlPath(listRel.split('/')[0]))
      throw new PathSafetyError(`${JSON.stringify(o.file)} is not a dataset file`);
    const text = await readRegularFileBeneath(root, listRel, {
      maxBytes: WARMUP_LIST_MAX_BYTES,
      timeoutMs: WARMUP_LIST_TIMEOUT_MS,
      signal: exec.signal,
      refuse: (st) => (st.ino >= MIN_INTERNAL_INODE ? 'is a JuiceFS virtual file' : undefined),
    });
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line && !line.startsWith('#')) requested.push({ path: line, fromList: true });
    }
  }
  for (const p of o.paths ?? []) requested.push({ path: p, fromList: false });
  if (o.file === undefined && !o.paths?.length) requested.push({ path: '', fromList: false });
  const files = new Map<string, BeneathEntry>();
  let missing = 0;
  let skipped = 0;
  for (const { path: p, fromList } of requested) {
    if (exec.signal.aborted) throw new Error('cancelled');
    let rel: string;
    try {
      rel = normalizeUserPath(p);
    } catch (err) {
      if (!fromList) throw err;
      skipped++;
      continue;
    }
    if (rel !== '' && isControlPath(rel.split('/')[0])) continue;
    let r;
    try {
      r = await walkBeneath(root, rel, {
        skip: (x) => isControlPath(x),
        signal: exec.signal,
        onFile: (f) => files.set(f.rel, f),
        onSkipped: () => skipped++,
      });
    } catch (err) {
      if (!fromList || !(err instanceof PathSafetyError)) throw err;
      skipped++;
      continue;
    }
    if (!r.exists) {
      if (!fromList) throw new Error(`warmup path ${JSON.stringify(p)} does not exist`);
      missing++;
    }
  }
  if (missing) exec.log(`warmup: ${missing} path(s) of the list file do not exist`);
  if (skipped) exec.log(`warmup: skipped ${skipped} entr${skipped === 1 ? 'y' : 'ies'} (symlinks, unreadable or changed while listing)`);
  return files;
}

export async function runWarmup(ctx: WarmupContext, o: WarmupRequest, exec: JobExecution): Promise<void> {
  const root = await fs.realpath(ctx.root);
  const all = await warmupTargets(o, root, exec);
  const ordered = canonicalOrder(all.keys()).map((k) => all.get(k)!);
  let mine = selectShard(ordered, (f) => f.rel, o.shard, o.shards, o.strategy ?? 'sequence');
  const unlistable = mine.filter((f) => f.rel.includes('\n') || f.rel.includes('\r'));
  if (unlistable.length) {
    exec.log(`warmup: skipping ${unlistable.length} file(s) whose names contain a line break`);
    mine = mine.filter((f) => !unlistable.includes(f));
  }
  const totalBytes = mine.reduce((s, f) => s + f.size, 0);
  exec.onProgress({ filesDone: 0, filesTotal: mine.length, bytesDone: 0, bytesTotal: totalBytes });
  exec.log('warmup shard', {
    shard: o.shard,
    shards: o.shards,
    strategy: o.strategy ?? 'sequence',
    files: mine.length,
    datasetFiles: ordered.length,
    bytes: totalBytes,
  });
  if (mine.length === 0) {
    exec.setMessage?.(`nothing to warm in shard ${o.shard}/${o.shards} (${ordered.length} files in the dataset)`);
    return;
  }
  const threads = o.threads ?? ctx.threads;
  // Few, large batches: the mount warms a batch with `threads` workers over its files and blocks,
  // so small batches starve it. ~10 batches for big shards (progress steps), one for small ones.
  const byteTarget = Math.max(1024 ** 3, Math.ceil(totalBytes / 10));
  let filesDone = 0;
  let bytesDone = 0;
  let i = 0;
  while (i < mine.length) {
    if (exec.signal.aborted) throw new Error('cancelled');
    const batch: BeneathEntry[] = [];
    let bytes = 0;
    while (i < mine.length && batch.length < BATCH_MAX_FILES && (bytes < byteTarget || batch.length === 0)) {
      batch.push(mine[i]);
      bytes += mine[i].size;
      i++;
    }
    const r = await controlRequest(
      root,
      fillCacheMessage(
        batch.map((f) => `/${f.rel}`),
        threads,
      ),
      {
        signal: exec.signal,
        onProgress: (files, b) => {
          exec.onProgress({
            filesDone: filesDone + Math.min(batch.length, Number(files)),
            filesTotal: mine.length,
            bytesDone: bytesDone + Math.min(bytes, Number(b)),
            bytesTotal: totalBytes,
          });
        },
      },
    );
    if (exec.signal.aborted) throw new Error('cancelled');
    if (r.errno !== 0) throw new Error(`warmup failed in the JuiceFS mount: ${errnoName(r.errno)}`);
    filesDone += batch.length;
    bytesDone += bytes;
    exec.onProgress({ filesDone, filesTotal: mine.length, bytesDone, bytesTotal: totalBytes });
  }
  exec.setMessage?.(`warmed ${filesDone} files (${formatBytes(bytesDone)}), shard ${o.shard}/${o.shards} of ${ordered.length} files`);
}
