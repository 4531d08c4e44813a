/**
 * SampleJob specs (and a SampleSet's initial sync) translated into runtime job requests. Every user
 * path is validated here (SpecError) and again by the runtime with realpath. Paths stay relative to
 * the dataset root (or a cache tier for clear): the runtime, not the controller, knows where
 * things are mounted.
 *
 * Whatever the runtime would refuse — at submission (runtime/validation.ts) or when the job starts
 * (unknown or malformed flags, JuiceFS control files, clear paths outside the cache tiers, a body
 * over MAX_JOB_REQUEST_BYTES) — is refused here first, with a SpecError naming the field, so a bad
 * SampleJob fails at once with a condition instead of after a 202.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { SampleJob, SampleJobType } from '../../api/samplejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import { isInside, normalizeUserPath } from '../toolkit/path-safety.js';
import {
  JOB_ID_PATTERN,
  MAX_CREDENTIAL_LENGTH,
  MAX_JOB_REQUEST_BYTES,
  type ClearRequest,
  type RmrRequest,
  type RuntimeJobRequest,
  type SyncRequest,
  type WarmupRequest,
} from '../../api/runtime-protocol.js';
import { SpecError } from '../cache-engine.js';
import { CREDENTIALS_IN_ARGUMENTS, CREDENTIALS_IN_ARGUMENTS_VALUE, CredentialsInArgumentsError, credentialsOnlyInUri } from './commands.js';
import { POD_CACHE_ROOT } from './constants.js';
import { DEFAULT_CACHE_ROOTS } from '../toolkit/cache-roots.js';
import { CONTROL_FILES } from './juicefs-warmup.js';
import { buildMountConfig } from './mount-options.js';
import { decodeSecretData } from './secret-validation.js';
import { MAX_SHARDS, validShard } from './sharding.js';
import { parseSourceUri } from './source-uri.js';
import { validateSyncFlags } from './sync-flags.js';

/** Keys of a source Secret that are passed to the runtime as credentials. */
export const CREDENTIAL_KEYS = ['access-key', 'secret-key', 'session-token'] as const;

/** Most paths in one list (the runtime refuses more). */
export const MAX_REQUEST_PATHS = 10000;

function checkPath(p: unknown, where: string): string {
  if (typeof p !== 'string' || p === '') throw new SpecError('InvalidPath', `${where} must be a non-empty string`);
  try {
    normalizeUserPath(p);
  } catch (err) {
    throw new SpecError('InvalidPath', `${where}: ${(err as Error).message}`);
  }
  return p;
}

/** A dataset path that is not a JuiceFS control file (`.stats`, `.accesslog`, `.trash`, …) nor below one. */
function checkDatasetPath(p: unknown, where: string): string {
  const path = checkPath(p, where);
  const first = normalizeUserPath(path).split('/')[0];
  if (CONTROL_FILES.includes(first))
    throw new SpecError('InvalidPath', `${where}: ${first} is a JuiceFS control file, not part of the dataset`);
  return path;
}

function checkPathList(paths: unknown, where: string, check: (p: unknown, where: string) => string): string[] {
  if (!Array.isArray(paths)) throw new SpecError('InvalidPath', `${where} must be a list of paths`);
  if (paths.length > MAX_REQUEST_PATHS)
    throw new SpecError('InvalidPath', `${where} lists ${paths.length} paths; at most ${MAX_REQUEST_PATHS}`);
  return paths.map((p, i) => check(p, `${where}[${i}]`));
}

/** Source credentials from a Secret (`access-key`, `secret-key`, optional `session-token`); undefined when none. */
export function credentialsFromSecret(secret: V1Secret | undefined): Record<string, string> | undefined {
  if (!secret) return undefined;
  const data = decodeSecretData(secret);
  const out: Record<string, string> = {};
  for (const k of CREDENTIAL_KEYS) {
    const v = data[k]?.trim();
    if (!v) continue;
    // Never echo the value.
    if (v.length > MAX_CREDENTIAL_LENGTH || v.includes('\0')) {
      throw new SpecError(
        'SecretKeyInvalid',
        `key "${k}" of the source Secret must be at most ${MAX_CREDENTIAL_LENGTH} characters without NUL`,
      );
    }
    out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The credentials of a sync to `options.source`. Storages that read credentials only from the URI
 * would get them in juicefs's argv (see commands.ts): refused (SpecError CredentialsInArguments)
 * unless the SampleSet opted in with spec.source.allowCredentialsInArguments, and then marked so the
 * runtime knows the opt-in was given.
 */
function syncCredentials(options: SyncRequest, s: SampleSet, secret: V1Secret | undefined): Record<string, string> | undefined {
  const credentials = credentialsFromSecret(secret);
  if (!credentials) return undefined;
  const { scheme } = parseSourceUri(options.source);
  if (credentialsOnlyInUri(scheme)) {
    if (s.spec.source?.allowCredentialsInArguments !== true)
      throw new SpecError('CredentialsInArguments', new CredentialsInArgumentsError(scheme).message);
    credentials[CREDENTIALS_IN_ARGUMENTS] = CREDENTIALS_IN_ARGUMENTS_VALUE;
  }
  return credentials;
}

function syncRequest(source: string | undefined, syncOptions: Record<string, unknown>): SyncRequest {
  const uri = source ?? '';
  parseSourceUri(uri);
  const { source: _s, destination, ...rest } = syncOptions;
  const flags = validateSyncFlags(rest);
  const req: SyncRequest = { source: uri };
  if (destination !== undefined && destination !== '') req.destination = checkDatasetPath(destination, 'syncOptions.destination');
  if (Object.keys(flags).length) req.flags = flags;
  return req;
}

function checkId(id: string): void {
  if (!JOB_ID_PATTERN.test(id)) throw new SpecError('InvalidJob', `job id ${JSON.stringify(id)} must match ${JOB_ID_PATTERN.source}`);
}

/** The request as the runtime will receive it; refuses one whose body would exceed the runtime's limit. */
function checkSize(req: RuntimeJobRequest, what: string): RuntimeJobRequest {
  const bytes = Buffer.byteLength(JSON.stringify(req), 'utf8');
  if (bytes > MAX_JOB_REQUEST_BYTES) {
    throw new SpecError(
      'RequestTooLarge',
      `${what} makes a runtime request of ${bytes} bytes; the runtime accepts at most ${MAX_JOB_REQUEST_BYTES}: list fewer or shorter paths (or use warmupOptions.file)`,
    );
  }
  return req;
}

export function initialSyncRequest(s: SampleSet, id: string, sourceSecret: V1Secret | undefined): RuntimeJobRequest {
  checkId(id);
  const options = syncRequest(s.spec.source?.uri, {});
  const credentials = syncCredentials(options, s, sourceSecret);
  return checkSize({ id, type: 'sync', options, ...(credentials ? { credentials } : {}) }, 'the initial sync');
}

function warmupRequest(job: SampleJob, shard: number, shards: number): WarmupRequest {
  const o = job.spec.warmupOptions ?? {};
  if (!validShard(shard, shards)) {
    throw new SpecError('InvalidJob', `invalid warmup shard ${shard} of ${shards} (a SampleSet has 1-${MAX_SHARDS} partitions)`);
  }
  const req: WarmupRequest = { shard, shards, strategy: o.strategyName ?? 'sequence' };
  if (req.strategy !== 'sequence' && req.strategy !== 'random')
    throw new SpecError('InvalidWarmupOption', 'warmupOptions.strategyName must be sequence or random');
  if (o.paths?.length) req.paths = checkPathList(o.paths, 'warmupOptions.paths', checkPath);
  if (o.file !== undefined) req.file = checkDatasetPath(o.file, 'warmupOptions.file');
  if (o.threads !== undefined) {
    if (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > 1024)
      throw new SpecError('InvalidWarmupOption', 'warmupOptions.threads must be an integer in [1, 1024]');
    req.threads = o.threads;
  }
  return req;
}

function rmrRequest(job: SampleJob): RmrRequest {
  const paths = job.spec.rmrOptions?.paths ?? [];
  if (paths.length === 0) throw new SpecError('InvalidPath', 'rmrOptions.paths must list at least one path');
  return {
    paths: checkPathList(paths, 'rmrOptions.paths', (p, where) => {
      const path = checkDatasetPath(p, where);
      if (normalizeUserPath(path) === '') throw new SpecError('InvalidPath', `${where}: the dataset root itself cannot be removed`);
      return path;
    }),
  };
}

/**
 * An absolute clear path written against a cache level as declared (`/dev/shm/paddle-operator/x/…`)
 * → the same place in the SampleSet's own directory (`/dev/shm/paddle-operator/<ns>_<name>/x/…`),
 * which is what the runtime knows. Other paths are left for the runtime to judge.
 */
function toOwnCacheDir(p: string, s: SampleSet, roots: string[]): string {
  if (!p.startsWith('/')) return p;
  let mount;
  try {
    mount = buildMountConfig(s, roots);
  } catch {
    return p;
  }
  const norm = `/${normalizeUserPath(p)}`;
  if (mount.cacheDirs.some((d) => isInside(d, norm))) return p;
  const i = mount.declaredCacheDirs.findIndex((d) => isInside(d, norm));
  if (i < 0) return p;
  const rest = norm.slice(mount.declaredCacheDirs[i].length).replace(/^\/+/, '');
  return rest ? `${mount.cacheDirs[i]}/${rest}` : mount.cacheDirs[i];
}

/**
 * Clear paths: relative to every cache tier, or absolute inside one of the SampleSet's host cache
 * directories as declared or as its own (or a tier's directory in the runtime pod, `/cache/<i>`).
 */
function clearRequest(job: SampleJob, s: SampleSet, roots: string[]): ClearRequest {
  const paths = job.spec.clearOptions?.paths;
  if (!paths?.length) return {};
  const absolute = paths.some((p) => typeof p === 'string' && p.startsWith('/'));
  const tiers = absolute ? buildMountConfig(s, roots).cacheDirs : [];
  const allowed = [...tiers, ...tiers.map((_, i) => `${POD_CACHE_ROOT}/${i}`)];
  return {
    paths: checkPathList(paths, 'clearOptions.paths', (p, where) => {
      const path = toOwnCacheDir(checkPath(p, where), s, roots);
      if (path.startsWith('/')) {
        const norm = `/${normalizeUserPath(path)}`;
        if (!allowed.some((r) => isInside(r, norm))) {
          throw new SpecError(
            'InvalidPath',
            `${where}: ${norm} is not inside a cache directory of SampleSet ${s.metadata.name} (${tiers.join(', ') || 'it caches in memory'})`,
          );
        }
      }
      return path;
    }),
  };
}

export function jobRequest(
  job: SampleJob,
  s: SampleSet,
  id: string,
  shard: number,
  shards: number,
  credentialsSecret: V1Secret | undefined,
  cacheRoots: string[] = DEFAULT_CACHE_ROOTS,
): RuntimeJobRequest {
  checkId(id);
  const what = `SampleJob ${job.metadata.name ?? ''}`.trim();
  switch (job.spec.type) {
    case 'sync': {
      const o = (job.spec.syncOptions ?? {}) as Record<string, unknown>;
      const source = typeof o.source === 'string' && o.source !== '' ? o.source : s.spec.source?.uri;
      const options = syncRequest(source, o);
      const credentials = syncCredentials(options, s, credentialsSecret);
      return checkSize({ id, type: 'sync', options, ...(credentials ? { credentials } : {}) }, what);
    }
    case 'warmup':
      return checkSize({ id, type: 'warmup', options: warmupRequest(job, shard, shards) }, what);
    case 'rmr':
      return checkSize({ id, type: 'rmr', options: rmrRequest(job) }, what);
    case 'clear':
      return checkSize({ id, type: 'clear', options: clearRequest(job, s, cacheRoots) }, what);
    default:
      throw new SpecError('InvalidJob', `unknown SampleJob type ${JSON.stringify((job.spec as { type?: unknown }).type)}`);
  }
}

export function fanOut(type: SampleJobType): 'one' | 'all' {
  return type === 'warmup' || type === 'clear' ? 'all' : 'one';
}
