/**
 * The JuiceFS engine's runtime half: executes jobs inside a cache pod with the real `juicefs`
 * binary, on the SampleSet's JuiceFS mount (`dataDir`) and the node's cache tiers (`cacheDirs`).
 *
 *  - sync:   `juicefs sync --metrics 127.0.0.1:0 [flags] <source>/ file://<dataDir>/<dest>/`;
 *            credentials through the child's environment (see commands.ts); progress from the
 *            child's Prometheus endpoint, totals from its final `Found: …` line.
 *  - warmup: lists the requested paths, keeps this pod's shard (sharding.ts) and runs
 *            `juicefs warmup --file=<list>` in batches: the mount process that owns the mount
 *            fetches the blocks into its cache. Progress = files/bytes of finished batches.
 *  - rmr:    `juicefs rmr [--skip-trash]` on paths resolved safely under the dataset root (never
 *            the root itself); fs.rm as a fallback when the mount is not JuiceFS.
 *  - clear:  removes only this volume's cached blocks, `<tier>/<volume UUID>/raw` — never the
 *            `rawstaging` blocks (written back but not uploaded yet), never another volume's cache.
 *  - stats:  dataset bytes/files from `juicefs info -r` (tree walk as a fallback), cached bytes by
 *            walking `<tier>/<uuid>/raw`, and statfs of each tier.
 */
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SampleJobType } from '../../api/samplejob.js';
import { runChild, type ChildResult } from '../../runtime/child-process.js';
import { walkFiles, type WalkedFile } from '../../runtime/fs-walk.js';
import { isInside, normalizeUserPath, PathSafetyError, resolveUnderRoot } from '../../runtime/path-safety.js';
import type { CacheTierStats, ClearRequest, NodeCacheStats, RmrRequest, RuntimeJobOptions, SyncRequest, WarmupRequest } from '../../runtime/protocol.js';
import { secretScrubber } from '../../runtime/scrub.js';
import type { CacheRuntime, CacheRuntimeFactory, JobExecution, RuntimeEnvironment } from '../cache-engine.js';
import {
  childEnv,
  infoCommand,
  parseInfoOutput,
  parseMetricsAddress,
  parsePrometheusText,
  parseSyncSummary,
  placeSourceCredentials,
  rmrCommand,
  syncCommand,
  syncSummaryText,
  tidyJuiceFsLine,
  warmupCommand,
} from './commands.js';
import { JUICEFS_BIN_ENV, JUICEFS_ENGINE } from './constants.js';
import { canonicalOrder, selectShard } from './sharding.js';
import { parseSourceUri, withTrailingSlash } from './source-uri.js';
import { validateSyncFlags } from './sync-flags.js';
import { validateJuiceFsRequest } from './request-validation.js';

/** Entries at the root of a JuiceFS mount that are not dataset files. */
export const CONTROL_FILES = ['.stats', '.config', '.control', '.accesslog', '.trash', '.jfs.stats', '.jfs.config', '.jfs.control', '.jfs.accesslog', '.jfs.trash'];

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export interface JuiceFsRuntimeOptions extends RuntimeEnvironment {
  /** Environment the juicefs children start from (default process.env, minus the runtime token). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Default warmup threads (juicefs default 50). */
  warmupThreads?: number;
  /** Timeout of `juicefs info -r` for statistics (default 60 s). */
  infoTimeoutMs?: number;
}

/** Skips the JuiceFS control files at the dataset root. */
function skipControl(rel: string): boolean {
  return !rel.includes('/') && CONTROL_FILES.includes(rel);
}

function errorLines(tail: string[]): string {
  const errs = tail.filter((l) => /<(ERROR|FATAL)>|error|fatal/i.test(l));
  const pick = (errs.length ? errs : tail).slice(-3);
  // Drop juicefs's `2026/01/01 00:00:00.000000 juicefs[123] <ERROR>: ` prefix and `[fn@file.go:1]` suffix.
  return pick.map((l) => l.replace(/^\S+ \S+ juicefs\[\d+\] <\w+>: /, '').replace(/\s*\[[^\]]*@[^\]]*\]\s*$/, '')).join('; ');
}

function childFailure(what: string, r: ChildResult): Error {
  if (r.timedOut) return new Error(`${what} timed out`);
  const why = r.code !== null ? `exit code ${r.code}` : `signal ${r.signal}`;
  const detail = errorLines(r.tail);
  return new Error(`${what} failed (${why})${detail ? `: ${detail}` : ''}`);
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
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

  // ---------------------------------------------------------------- sync

  private async checkFileSource(p: string): Promise<void> {
    const roots = this.env.fileSourceRoots ?? [];
    if (roots.length === 0) throw new Error('file:// sources are disabled on this runtime (start paddle-runtime with --file-source-root)');
    const decoded = decodeURIComponent(p);
    const rel = normalizeUserPath(decoded);
    let real: string;
    try {
      real = await fs.realpath(`/${rel}`);
    } catch {
      throw new Error(`file source ${decoded} does not exist`);
    }
    for (const root of roots) {
      const realRoot = await fs.realpath(root).catch(() => undefined);
      if (realRoot && isInside(realRoot, real)) return;
    }
    throw new Error(`file source ${decoded} is outside the allowed file source roots`);
  }

  private async sync(o: SyncRequest, credentials: Record<string, string> | undefined, exec: JobExecution): Promise<void> {
    const src = parseSourceUri(o.source);
    const flags = validateSyncFlags(o.flags ?? {});
    if (src.scheme === 'file') await this.checkFileSource(src.path);
    const dest = await resolveUnderRoot(this.env.dataDir, o.destination ?? '', { allowRoot: true });
    await fs.mkdir(dest, { recursive: true });
    // Re-check after creating: a concurrent symlink swap must not redirect the copy.
    const destChecked = await resolveUnderRoot(this.env.dataDir, o.destination ?? '', { allowRoot: true, mustExist: true });
    const placement = placeSourceCredentials(src, withTrailingSlash(o.source), credentials, flags['no-https'] === true);
    const cmd = syncCommand(placement.uri, destChecked, flags);
    const scrub = secretScrubber([...Object.values(credentials ?? {}), ...Object.values(placement.env)]);
    exec.log('running juicefs sync', { argv: cmd.display.join(' '), credentialsVia: placement.via });
    if (placement.via === 'ignored') exec.log(`access-key/secret-key are not used by ${src.scheme} sources`);

    let metricsUrl: string | undefined;
    let summary: ReturnType<typeof parseSyncSummary>;
    let polling = false;
    const poll = async (): Promise<void> => {
      if (!metricsUrl || polling) return;
      polling = true;
      try {
        const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(900) });
        const m = parsePrometheusText(await res.text());
        const scanned = m.get('juicefs_sync_scanned');
        const handled = m.get('juicefs_sync_handled');
        if (scanned !== undefined && handled !== undefined) {
          const extra = m.get('juicefs_sync_extra') ?? 0;
          const total = Math.max(0, scanned - extra);
          exec.onProgress({ filesDone: Math.min(total, Math.max(0, handled - extra)), filesTotal: total, bytesDone: (m.get('juicefs_sync_copied_bytes') ?? 0) + (m.get('juicefs_sync_skipped_bytes') ?? 0) });
        }
      } catch {
        // the child may be finishing; the final line gives the totals
      } finally {
        polling = false;
      }
    };
    const timer = setInterval(() => void poll(), 1000);
    let result: ChildResult;
    try {
      result = await runChild({
        bin: this.bin,
        args: cmd.args,
        env: childEnv(this.baseEnv, placement.env),
        signal: exec.signal,
        scrub,
        tailLines: 200,
        onLine: (line) => {
          const addr = parseMetricsAddress(line);
          if (addr && !metricsUrl) metricsUrl = `http://${addr}/metrics`;
          const s = parseSyncSummary(line);
          if (s) summary = s;
          exec.log(`juicefs: ${tidyJuiceFsLine(line)}`);
        },
      });
    } finally {
      clearInterval(timer);
    }
    if (exec.signal.aborted) throw new Error('cancelled');
    if (summary) {
      const bytes = summary.copiedBytes + summary.skippedBytes;
      // "extra" entries exist only in the destination (e.g. its directories): not part of the copy.
      const total = Math.max(0, summary.found - summary.extra);
      const done = Math.max(0, total - summary.failed - summary.lost);
      exec.onProgress({ filesDone: done, filesTotal: total, bytesDone: bytes, bytesTotal: bytes });
      const line = result.tail.find((l) => l.includes('Found: '));
      if (line) exec.setMessage?.(syncSummaryText(line));
    }
    if (result.code !== 0) throw childFailure('juicefs sync', result);
  }

  // ---------------------------------------------------------------- warmup

  /** Files to warm (relative to the dataset root), from `paths` and/or the list `file`. */
  private async warmupTargets(o: WarmupRequest, root: string, exec: JobExecution): Promise<Map<string, WalkedFile>> {
    // `paths` must exist (a typo should not warm nothing quietly); entries of a list file that no
    // longer exist are skipped and counted (lists go stale).
    const requested: { path: string; fromList: boolean }[] = [];
    if (o.file !== undefined) {
      const listPath = await resolveUnderRoot(root, o.file, { mustExist: true });
      const text = await fs.readFile(listPath, 'utf8');
      for (const raw of text.split('\n')) {
        const line = raw.trim();
        if (line && !line.startsWith('#')) requested.push({ path: line, fromList: true });
      }
    }
    for (const p of o.paths ?? []) requested.push({ path: p, fromList: false });
    if (o.file === undefined && !o.paths?.length) requested.push({ path: '', fromList: false });
    const files = new Map<string, WalkedFile>();
    let missing = 0;
    for (const { path: p, fromList } of requested) {
      const abs = await resolveUnderRoot(root, p, { allowRoot: true });
      const rel = path.relative(root, abs).split(path.sep).join('/');
      if (rel !== '' && skipControl(rel.split('/')[0])) continue;
      const exists = await fs.lstat(abs).then(
        () => true,
        () => false,
      );
      if (!exists) {
        if (!fromList) throw new Error(`warmup path ${JSON.stringify(p)} does not exist`);
        missing++;
        continue;
      }
      const r = await walkFiles(root, rel, { skip: (r) => skipControl(r), signal: exec.signal });
      for (const f of r.files) files.set(f.rel, f);
    }
    if (missing) exec.log(`warmup: ${missing} path(s) of the list file do not exist`);
    return files;
  }

  private async warmup(o: WarmupRequest, exec: JobExecution): Promise<void> {
    const root = await fs.realpath(this.env.dataDir);
    const all = await this.warmupTargets(o, root, exec);
    const ordered = canonicalOrder(all.keys()).map((k) => all.get(k)!);
    let mine = selectShard(ordered, (f) => f.rel, o.shard, o.shards, o.strategy ?? 'sequence');
    const unlistable = mine.filter((f) => f.abs.includes('\n') || f.abs.includes('\r'));
    if (unlistable.length) {
      exec.log(`warmup: skipping ${unlistable.length} file(s) whose names contain a line break`);
      mine = mine.filter((f) => !unlistable.includes(f));
    }
    const totalBytes = mine.reduce((s, f) => s + f.size, 0);
    exec.onProgress({ filesDone: 0, filesTotal: mine.length, bytesDone: 0, bytesTotal: totalBytes });
    exec.log('warmup shard', { shard: o.shard, shards: o.shards, strategy: o.strategy ?? 'sequence', files: mine.length, datasetFiles: ordered.length, bytes: totalBytes });
    if (mine.length === 0) {
      exec.setMessage?.(`nothing to warm in shard ${o.shard}/${o.shards} (${ordered.length} files in the dataset)`);
      return;
    }
    const threads = o.threads ?? this.env_warmupThreads();
    // Few, large batches: juicefs warms a batch with `threads` workers over its files and blocks,
    // so small batches starve it. ~10 batches for big shards (progress steps), one for small ones;
    // at most 10240 paths, juicefs's own batch size. Within a batch, bytes progress comes from the
    // mount's block-cache counter.
    const byteTarget = Math.max(1024 ** 3, Math.ceil(totalBytes / 10));
    const countTarget = 10240;
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'paddle-warmup-'));
    let filesDone = 0;
    let bytesDone = 0;
    try {
      let i = 0;
      let batchNo = 0;
      while (i < mine.length) {
        if (exec.signal.aborted) throw new Error('cancelled');
        const batch: WalkedFile[] = [];
        let bytes = 0;
        while (i < mine.length && batch.length < countTarget && (bytes < byteTarget || batch.length === 0)) {
          batch.push(mine[i]);
          bytes += mine[i].size;
          i++;
        }
        const list = path.join(tmp, `batch-${batchNo++}`);
        await fs.writeFile(list, batch.map((f) => f.abs).join('\n') + '\n', { mode: 0o600 });
        const cacheAtStart = await this.blockCacheBytes();
        const ticker = setInterval(() => {
          void this.blockCacheBytes().then((now) => {
            if (now === undefined || cacheAtStart === undefined || exec.signal.aborted) return;
            const partial = Math.min(bytes, Math.max(0, now - cacheAtStart));
            exec.onProgress({ filesDone, filesTotal: mine.length, bytesDone: bytesDone + partial, bytesTotal: totalBytes });
          });
        }, 1000);
        let r: ChildResult;
        try {
          r = await runChild({
            bin: this.bin,
            args: warmupCommand(list, threads),
            env: childEnv(this.baseEnv),
            signal: exec.signal,
            onLine: (line) => exec.log(`juicefs: ${tidyJuiceFsLine(line)}`),
          });
        } finally {
          clearInterval(ticker);
          await fs.rm(list, { force: true });
        }
        if (exec.signal.aborted) throw new Error('cancelled');
        if (r.code !== 0) throw childFailure('juicefs warmup', r);
        filesDone += batch.length;
        bytesDone += bytes;
        exec.onProgress({ filesDone, filesTotal: mine.length, bytesDone, bytesTotal: totalBytes });
      }
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
    exec.setMessage?.(`warmed ${filesDone} files (${formatBytes(bytesDone)}), shard ${o.shard}/${o.shards} of ${ordered.length} files`);
  }

  /** The mount's `juicefs_blockcache_bytes` (from `.stats`), or undefined when unreadable. */
  private async blockCacheBytes(): Promise<number | undefined> {
    try {
      return parsePrometheusText(await fs.readFile(path.join(this.env.dataDir, '.stats'), 'utf8')).get('juicefs_blockcache_bytes');
    } catch {
      return undefined;
    }
  }

  private env_warmupThreads(): number {
    return this.env.warmupThreads ?? 50;
  }

  // ---------------------------------------------------------------- rmr

  private async rmr(o: RmrRequest, exec: JobExecution): Promise<void> {
    const root = await fs.realpath(this.env.dataDir);
    const targets: string[] = [];
    let missing = 0;
    for (const p of o.paths) {
      const abs = await resolveUnderRoot(root, p, { allowRoot: false, noFollowFinal: true });
      if (skipControl(path.relative(root, abs))) throw new PathSafetyError(`${JSON.stringify(p)} is a JuiceFS control file`);
      try {
        await fs.lstat(abs);
        targets.push(abs);
      } catch {
        missing++;
      }
    }
    // Drop duplicates and paths inside another target.
    const unique = canonicalOrder(targets).filter((t, _i, all) => !all.some((o2) => o2 !== t && isInside(o2, t)));
    exec.onProgress({ filesDone: 0, filesTotal: unique.length });
    const isJuiceFs = await fs.access(path.join(root, '.control'), fsc.F_OK).then(
      () => true,
      () => false,
    );
    let done = 0;
    for (let i = 0; i < unique.length; i += 100) {
      const chunk = unique.slice(i, i + 100);
      if (isJuiceFs) {
        const skipTrash = typeof process.getuid === 'function' && process.getuid() === 0;
        exec.log('running juicefs rmr', { paths: chunk.length, skipTrash });
        const r = await runChild({ bin: this.bin, args: rmrCommand(chunk, skipTrash), env: childEnv(this.baseEnv), signal: exec.signal, onLine: (l) => exec.log(`juicefs: ${tidyJuiceFsLine(l)}`) });
        if (exec.signal.aborted) throw new Error('cancelled');
        if (r.code !== 0) throw childFailure('juicefs rmr', r);
      }
      // juicefs rmr skips paths it cannot handle with only a log line: finish (or do) the job here.
      for (const t of chunk) {
        if (exec.signal.aborted) throw new Error('cancelled');
        await fs.rm(t, { recursive: true, force: true });
      }
      done += chunk.length;
      exec.onProgress({ filesDone: done, filesTotal: unique.length });
    }
    exec.setMessage?.(`removed ${unique.length} path(s)${missing ? `; ${missing} did not exist` : ''}`);
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
      if (target === raw) {
        const entries = await fs.readdir(raw).catch(() => [] as string[]);
        for (const e of entries) await fs.rm(path.join(raw, e), { recursive: true, force: true });
      } else {
        await fs.rm(target, { recursive: true, force: true });
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
      const w = await walkFiles(this.env.dataDir, '', { skip: (rel) => skipControl(rel), collect: false, onFile: () => {}, signal: AbortSignal.timeout(this.env.infoTimeoutMs ?? 60_000) });
      return { bytes: w.bytes, files: w.fileCount };
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
