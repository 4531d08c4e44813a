/**
 * The clear job: removes only this volume's cached blocks, `<tier>/<volume UUID>/raw` (all of them,
 * or the paths asked for) — never the `rawstaging` blocks (written back but not uploaded yet), never
 * another volume's cache, never anything outside the SampleSet's own tiers.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../../api/format.js';
import type { ClearRequest } from '../../api/runtime-protocol.js';
import type { JobExecution } from '../cache-engine.js';
import { walkFiles } from '../toolkit/fs-walk.js';
import { isInside, normalizeUserPath, PathSafetyError, resolveUnderRoot } from '../toolkit/path-safety.js';

/** A cache tier as seen inside the runtime pod (`dir`) and, when known, as written on the host. */
export interface CacheTier {
  dir: string;
  host?: string;
}

/** A tier's `<uuid>/raw` directory and what to remove below it (`raw` itself = everything in it). */
export interface ClearTarget {
  raw: string;
  target: string;
}

export interface ClearContext {
  tiers: CacheTier[];
  volumeUuid(): Promise<string>;
}

/** The `<tier>/<uuid>/raw` directories and the blocks to remove for a clear request. */
export async function clearTargets(tiers: CacheTier[], uuid: string, paths: string[] | undefined): Promise<ClearTarget[]> {
  if (tiers.length === 0) throw new Error('this runtime has no cache directories');
  const specs: { tier: CacheTier; rel: string }[] = [];
  for (const p of paths?.length ? paths : ['']) {
    if (p.includes('\0')) throw new PathSafetyError('path contains a NUL character');
    if (p.startsWith('/')) {
      const norm = `/${normalizeUserPath(p)}`;
      const tier = tiers.find((t) => (t.host && isInside(t.host, norm)) || isInside(t.dir, norm));
      if (!tier) throw new PathSafetyError(`${JSON.stringify(p)} is not inside a cache directory of this SampleSet`);
      const base = tier.host && isInside(tier.host, norm) ? tier.host : tier.dir;
      specs.push({ tier, rel: path.relative(base, norm) });
    } else {
      for (const tier of tiers) specs.push({ tier, rel: normalizeUserPath(p) });
    }
  }
  const out: ClearTarget[] = [];
  for (const { tier, rel } of specs) {
    const realTier = await fs.realpath(tier.dir);
    const volRoot = path.join(realTier, uuid);
    const raw = path.join(volRoot, 'raw');
    const target = await resolveUnderRoot(realTier, rel, { allowRoot: true });
    if (target === realTier || target === volRoot || target === raw) out.push({ raw, target: raw });
    else if (isInside(raw, target)) out.push({ raw, target });
    else throw new PathSafetyError(`${JSON.stringify(rel)}: only this volume's cache blocks (<tier>/${uuid}/raw) can be cleared`);
  }
  return out;
}

export async function runClear(ctx: ClearContext, o: ClearRequest, exec: JobExecution): Promise<void> {
  const targets = await clearTargets(ctx.tiers, await ctx.volumeUuid(), o.paths);
  let files = 0;
  let bytes = 0;
  exec.onProgress({ filesDone: 0, filesTotal: targets.length });
  let done = 0;
  for (const { raw, target } of targets) {
    if (exec.signal.aborted) throw new Error('cancelled');
    // raw itself must still be this volume's directory (not a link planted somewhere else).
    const realRaw = await fs.realpath(raw).catch(() => undefined);
    if (realRaw && realRaw !== raw) throw new PathSafetyError(`${raw} is a symlink; refusing to clear it`);
    const counted = await walkFiles(target, '', { collect: false, onFile: () => {} });
    files += counted.fileCount;
    bytes += counted.bytes;
    // The mount may still be writing blocks (a read just before the clear is cached in the
    // background): a directory that gains an entry while it is emptied fails with ENOTEMPTY, and
    // fs.rm starts that removal over (bounded) instead of failing the clear.
    const rm = (p: string): Promise<void> => fs.rm(p, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    if (target === raw) {
      const entries = await fs.readdir(raw).catch(() => [] as string[]);
      for (const e of entries) await rm(path.join(raw, e));
    } else {
      await rm(target);
    }
    done++;
    exec.onProgress({ filesDone: done, filesTotal: targets.length, bytesDone: bytes });
  }
  exec.log('cache cleared', { targets: targets.length, files, bytes });
  exec.setMessage?.(`removed ${files} cached blocks (${formatBytes(bytes)}) from ${targets.length} location(s)`);
}
