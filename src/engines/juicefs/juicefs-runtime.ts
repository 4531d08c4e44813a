/**
 * The JuiceFS engine's runtime half: executes jobs inside a cache pod with the real `juicefs`
 * binary and the mount's control file, on the SampleSet's JuiceFS mount (`dataDir`) and the
 * node's cache tiers (`cacheDirs`). The dataset is the tenant's: every job treats it as hostile
 * (symlinks, FIFOs, endless files, entries swapped mid-job) and never leaves it.
 *
 *  - sync:   juicefs-sync.ts (writes through the volume itself, `jfs://`, never the FUSE path);
 *  - warmup: juicefs-warmup.ts (lists without following links, the mount fills its cache);
 *  - rmr:    juicefs-rmr.ts (the mount removes entries of directories we hold open);
 *  - clear:  removes only this volume's cached blocks, `<tier>/<volume UUID>/raw` — never the
 *            `rawstaging` blocks (written back but not uploaded yet), never another volume's cache.
 *  - stats:  dataset bytes/files from `juicefs info -r` (tree walk as a fallback), cached bytes by
 *            walking `<tier>/<uuid>/raw`, and statfs of each tier.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SampleJobType } from '../../api/samplejob.js';
import { walkBeneath } from '../toolkit/beneath.js';
import { runChild } from '../toolkit/child-process.js';
import { walkFiles } from '../toolkit/fs-walk.js';
import { isInside, normalizeUserPath, PathSafetyError, resolveUnderRoot } from '../toolkit/path-safety.js';
import type { CacheTierStats, ClearRequest, NodeCacheStats, RmrRequest, RuntimeJobOptions, SyncRequest, WarmupRequest } from '../../api/runtime-protocol.js';
import type { CacheRuntime, CacheRuntimeFactory, JobExecution, RuntimeEnvironment } from '../cache-engine.js';
import { formatBytes } from '../../api/format.js';
import { childEnv, infoCommand, parseInfoOutput, parsePrometheusText } from './commands.js';
import { JUICEFS_BIN_ENV, JUICEFS_ENGINE } from './constants.js';
import { runRmr } from './juicefs-rmr.js';
import { runSync } from './juicefs-sync.js';
import { isControlPath, runWarmup } from './juicefs-warmup.js';
import { validateJuiceFsRequest } from './request-validation.js';

export { CONTROL_FILES } from './juicefs-warmup.js';

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export interface JuiceFsRuntimeOptions extends RuntimeEnvironment {
  /** Environment the juicefs children start from (default process.env, minus the runtime token). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Default warmup threads (juicefs default 50). */
  warmupThreads?: number;
  /** Timeout of `juicefs info -r` for statistics (default 60 s). */
  infoTimeoutMs?: number;
}

export class JuiceFsRuntime implements CacheRuntime {
  readonly name = JUICEFS_ENGINE;
  private readonly bin: string;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private uuid: string | undefined;

  constructor(private readonly env: JuiceFsRuntimeOptions) {
    this.bin = env.binary || process.env[JUICEFS_BIN_ENV] || 'juicefs';
    this.baseEnv = env.baseEnv ?? process.env;
    if (env.hostCacheDirs && env.hostCacheDirs.length && env.hostCacheDirs.length !== env.cacheDirs.length) {
      throw new Error('hostCacheDirs must be parallel to cacheDirs');
    }
  }

  validate(type: SampleJobType, options: RuntimeJobOptions): void {
    validateJuiceFsRequest(type, options, this.env);
  }

  async run(type: SampleJobType, options: RuntimeJobOptions, credentials: Record<string, string> | undefined, exec: JobExecution): Promise<void> {
    try {
      switch (type) {
        case 'sync':
          return await this.sync(options as SyncRequest, credentials, exec);
        case 'warmup':
          return await this.warmup(options as WarmupRequest, exec);
        case 'rmr':
          return await this.rmr(options as RmrRequest, exec);
        case 'clear':
          return await this.clear(options as ClearRequest, exec);
        default:
          throw new Error(`unknown job type ${String(type)}`);
      }
    } catch (err) {
      if (err instanceof PathSafetyError) throw new Error(`refused: ${err.message}`);
      throw err;
    }
  }

  private async sync(o: SyncRequest, credentials: Record<string, string> | undefined, exec: JobExecution): Promise<void> {
    await runSync({ root: this.env.dataDir, bin: this.bin, baseEnv: this.baseEnv, fileSourceRoots: this.env.fileSourceRoots ?? [] }, o, credentials, exec);
  }

  private async warmup(o: WarmupRequest, exec: JobExecution): Promise<void> {
    await runWarmup({ root: this.env.dataDir, threads: this.env.warmupThreads ?? 50 }, o, exec);
  }

  private async rmr(o: RmrRequest, exec: JobExecution): Promise<void> {
    await runRmr({ root: this.env.dataDir, skipTrash: typeof process.getuid === 'function' && process.getuid() === 0 }, o, exec);
  }

  // ---------------------------------------------------------------- clear

  /**
   * This volume's UUID from the mount's `.config` (JuiceFS stores blocks under `<tier>/<UUID>/`).
   * `.config` is a virtual file whose reported size can lag its content right after a mount, so
   * it is read to EOF (not to its stat size), and a read that does not parse is tried again a few
   * times before giving up.
   */
  async volumeUuid(): Promise<string> {
    if (this.uuid) return this.uuid;
    const file = path.join(this.env.dataDir, '.config');
    let problem = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200));
      let text: string;
      try {
        text = await readToEnd(file);
      } catch (err) {
        throw new Error(`cannot read the JuiceFS mount's .config in ${this.env.dataDir}: ${(err as Error).message}`);
      }
      let uuid: unknown;
      try {
        uuid = (JSON.parse(text) as { Format?: { UUID?: unknown } }).Format?.UUID;
      } catch {
        problem = 'the JuiceFS mount\'s .config is not valid JSON';
        continue;
      }
      if (typeof uuid !== 'string' || !UUID_PATTERN.test(uuid)) {
        problem = 'the JuiceFS mount\'s .config has no valid volume UUID';
        continue;
      }
      this.uuid = uuid;
      return uuid;
    }
    throw new Error(problem);
  }

  private tiers(): { dir: string; host?: string }[] {
    return this.env.cacheDirs.map((dir, i) => ({ dir, host: this.env.hostCacheDirs?.[i] }));
  }

  /** The `<tier>/<uuid>/raw` directories and the blocks to remove for a clear request. */
  async clearTargets(paths: string[] | undefined): Promise<{ raw: string; target: string }[]> {
    const uuid = await this.volumeUuid();
    const tiers = this.tiers();
    if (tiers.length === 0) throw new Error('this runtime has no cache directories');
    const specs: { tier: { dir: string; host?: string }; rel: string }[] = [];
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
    const out: { raw: string; target: string }[] = [];
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

  private async clear(o: ClearRequest, exec: JobExecution): Promise<void> {
    const targets = await this.clearTargets(o.paths);
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

  // ---------------------------------------------------------------- stats

  private async datasetTotals(errors: string[]): Promise<{ bytes: number; files: number }> {
    try {
      const r = await runChild({ bin: this.bin, args: infoCommand(this.env.dataDir), env: childEnv(this.baseEnv), timeoutMs: this.env.infoTimeoutMs ?? 60_000, tailLines: 40 });
      const parsed = r.code === 0 ? parseInfoOutput(r.tail.join('\n')) : undefined;
      if (parsed) return { bytes: parsed.bytes, files: parsed.files };
      errors.push(`juicefs info failed (${r.timedOut ? 'timeout' : `exit ${r.code}`}); counted by walking the dataset`);
    } catch (err) {
      errors.push(`juicefs info: ${(err as Error).message}; counted by walking the dataset`);
    }
    // Bounded: a huge dataset is not walked through FUSE for minutes on every statistics call.
    try {
      const w = await walkBeneath(this.env.dataDir, '', { skip: (rel) => isControlPath(rel), onFile: () => {}, signal: AbortSignal.timeout(this.env.infoTimeoutMs ?? 60_000) });
      return { bytes: w.bytes, files: w.files };
    } catch (err) {
      errors.push(`counting the dataset: ${(err as Error).message}`);
      return { bytes: 0, files: 0 };
    }
  }

  private async cachedBytes(errors: string[]): Promise<number> {
    let uuid: string | undefined;
    try {
      uuid = await this.volumeUuid();
    } catch (err) {
      errors.push((err as Error).message);
    }
    if (uuid) {
      let total = 0;
      for (const t of this.tiers()) {
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
    try {
      const m = parsePrometheusText(await fs.readFile(path.join(this.env.dataDir, '.stats'), 'utf8'));
      return m.get('juicefs_blockcache_bytes') ?? 0;
    } catch (err) {
      errors.push(`cannot read .stats: ${(err as Error).message}`);
      return 0;
    }
  }

  private async tierStats(errors: string[]): Promise<CacheTierStats[]> {
    const out: CacheTierStats[] = [];
    const seen = new Set<number>();
    for (const t of this.tiers()) {
      try {
        const st = await fs.stat(t.dir);
        // Tiers on the same file system are reported once (their space is shared).
        if (seen.has(st.dev)) continue;
        seen.add(st.dev);
        const s = await fs.statfs(t.dir);
        out.push({ path: t.host ?? t.dir, sizeBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize, availBytes: s.bavail * s.bsize });
      } catch (err) {
        errors.push(`cache tier ${t.host ?? t.dir}: ${(err as Error).message}`);
      }
    }
    return out;
  }

  async stats(): Promise<NodeCacheStats> {
    const errors: string[] = [];
    const [totals, cachedBytes, tiers] = await Promise.all([this.datasetTotals(errors), this.cachedBytes(errors), this.tierStats(errors)]);
    return { totalBytes: totals.bytes, totalFiles: totals.files, cachedBytes, tiers, ...(errors.length ? { errors } : {}) };
  }
}

export const createJuiceFsRuntime: CacheRuntimeFactory = (env) => new JuiceFsRuntime(env);

/** Reads a file until EOF, whatever size it reports (FUSE virtual files may report a stale one). */
async function readToEnd(file: string): Promise<string> {
  const fh = await fs.open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}
