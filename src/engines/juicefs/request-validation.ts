/**
 * The JuiceFS runtime's checks of a job request at submission (pure): everything `run` would
 * refuse from the request alone, so such a job gets a 400 at POST /jobs instead of a 202 and a
 * failure later. The file system is checked again when the job runs (symlinks, existence).
 *
 *  - sync: the source URI parses (scheme, no credentials in it, a `file://` source only when the
 *    runtime has file source roots, valid percent-encoding) and every flag is a supported
 *    `juicefs sync` option with a valid value;
 *  - clear: each path is relative to a cache tier, or an absolute path inside one of this
 *    runtime's tiers (as mounted, or as the host path in cache.levels), and there is a tier.
 */
import type { SampleJobType } from '../../api/samplejob.js';
import { isInside, normalizeUserPath } from '../toolkit/path-safety.js';
import type { ClearRequest, RuntimeJobOptions, SyncRequest } from '../../api/runtime-protocol.js';
import type { RuntimeEnvironment } from '../cache-engine.js';
import { parseSourceUri } from './source-uri.js';
import { validateSyncFlags } from './sync-flags.js';

export type RequestValidationEnv = Pick<RuntimeEnvironment, 'cacheDirs' | 'hostCacheDirs' | 'fileSourceRoots'>;

export class RequestValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestValidationError';
  }
}

function validateSync(o: SyncRequest, env: RequestValidationEnv): void {
  const src = parseSourceUri(o.source);
  validateSyncFlags(o.flags ?? {});
  if (src.scheme === 'file') {
    if (!env.fileSourceRoots?.length)
      throw new RequestValidationError('file:// sources are disabled on this runtime (start paddle-runtime with --file-source-root)');
    let decoded: string;
    try {
      decoded = decodeURIComponent(src.path);
    } catch {
      throw new RequestValidationError('file source path is not valid percent-encoding');
    }
    try {
      normalizeUserPath(decoded);
    } catch {
      throw new RequestValidationError("file source path must not contain a NUL character or a '..' segment");
    }
  }
}

function validateClear(o: ClearRequest, env: RequestValidationEnv): void {
  if (env.cacheDirs.length === 0) throw new RequestValidationError('this runtime has no cache directories');
  (o.paths ?? []).forEach((p, i) => {
    const where = `options.paths[${i}]`;
    let norm: string;
    try {
      norm = normalizeUserPath(p);
    } catch {
      throw new RequestValidationError(`${where} must not contain a NUL character or a '..' segment`);
    }
    if (!p.startsWith('/')) return;
    const abs = `/${norm}`;
    const tiers = [...env.cacheDirs, ...(env.hostCacheDirs ?? [])];
    if (!tiers.some((t) => isInside(t, abs)))
      throw new RequestValidationError(`${where} is not inside a cache directory of this SampleSet`);
  });
}

/** Throws (with a message naming the option, never quoting credentials) when the request cannot run. */
export function validateJuiceFsRequest(type: SampleJobType, options: RuntimeJobOptions, env: RequestValidationEnv): void {
  switch (type) {
    case 'sync':
      return validateSync(options as SyncRequest, env);
    case 'clear':
      return validateClear(options as ClearRequest, env);
    case 'warmup':
    case 'rmr':
      // fully covered by the generic validation (paths, shards, threads, strategy)
      return;
    default:
      throw new RequestValidationError(`unknown job type ${JSON.stringify(String(type))}`);
  }
}
