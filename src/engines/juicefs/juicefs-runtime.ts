/**
 * The JuiceFS engine's runtime half: executes jobs inside a cache pod with the real `juicefs`
 * binary and the mount's control file, on the SampleSet's JuiceFS mount (`dataDir`) and the
 * node's cache tiers (`cacheDirs`). The dataset is the tenant's: every job treats it as hostile
 * (symlinks, FIFOs, endless files, entries swapped mid-job) and never leaves it. One file per
 * operation:
 *
 *  - sync:   juicefs-sync.ts (writes through the volume itself, `jfs://`, never the FUSE path);
 *  - warmup: juicefs-warmup.ts (lists without following links, the mount fills its cache);
 *  - rmr:    juicefs-rmr.ts (the mount removes entries of directories we hold open);
 *  - clear:  juicefs-clear.ts (only this volume's cached blocks);
 *  - stats:  juicefs-stats.ts; the volume UUID: volume-uuid.ts.
 */
import type { SampleJobType } from '../../api/samplejob.js';
import { PathSafetyError } from '../toolkit/path-safety.js';
import type {
  ClearRequest,
  NodeCacheStats,
  RmrRequest,
  RuntimeJobOptions,
  SyncRequest,
  WarmupRequest,
} from '../../api/runtime-protocol.js';
import type { CacheRuntime, CacheRuntimeFactory, JobExecution, RuntimeEnvironment } from '../cache-engine.js';
import { DEFAULT_WARMUP_THREADS, JUICEFS_BIN_ENV, JUICEFS_ENGINE } from './constants.js';
import { runClear, type CacheTier } from './juicefs-clear.js';
import { runRmr } from './juicefs-rmr.js';
import { collectStats } from './juicefs-stats.js';
import { runSync } from './juicefs-sync.js';
import { runWarmup } from './juicefs-warmup.js';
import { validateJuiceFsRequest } from './request-validation.js';
import { readVolumeUuid } from './volume-uuid.js';

export { CONTROL_FILES } from './juicefs-warmup.js';

export interface JuiceFsRuntimeOptions extends RuntimeEnvironment {
  /** Environment the juicefs children start from (default process.env, minus the runtime token). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Default warmup threads (DEFAULT_WARMUP_THREADS). */
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

  async run(
    type: SampleJobType,
    options: RuntimeJobOptions,
    credentials: Record<string, string> | undefined,
    exec: JobExecution,
  ): Promise<void> {
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
    await runSync(
      { root: this.env.dataDir, bin: this.bin, baseEnv: this.baseEnv, fileSourceRoots: this.env.fileSourceRoots ?? [] },
      o,
      credentials,
      exec,
    );
  }

  private async warmup(o: WarmupRequest, exec: JobExecution): Promise<void> {
    await runWarmup({ root: this.env.dataDir, threads: this.env.warmupThreads ?? DEFAULT_WARMUP_THREADS }, o, exec);
  }

  private async rmr(o: RmrRequest, exec: JobExecution): Promise<void> {
    await runRmr({ root: this.env.dataDir, skipTrash: typeof process.getuid === 'function' && process.getuid() === 0 }, o, exec);
  }

  /** This volume's UUID (read once from the mount's `.config`). */
  async volumeUuid(): Promise<string> {
    this.uuid ??= await readVolumeUuid(this.env.dataDir);
    return this.uuid;
  }

  private tiers(): CacheTier[] {
    return this.env.cacheDirs.map((dir, i) => ({ dir, host: this.env.hostCacheDirs?.[i] }));
  }

  private async clear(o: ClearRequest, exec: JobExecution): Promise<void> {
    await runClear({ tiers: this.tiers(), volumeUuid: () => this.volumeUuid() }, o, exec);
  }

  stats(): Promise<NodeCacheStats> {
    return collectStats({
      bin: this.bin,
      dataDir: this.env.dataDir,
      baseEnv: this.baseEnv,
      tiers: this.tiers(),
      infoTimeoutMs: this.env.infoTimeoutMs ?? 60_000,
      volumeUuid: () => this.volumeUuid(),
    });
  }
}

export const createJuiceFsRuntime: CacheRuntimeFactory = (env) => new JuiceFsRuntime(env);
