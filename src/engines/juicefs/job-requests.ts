/**
 * SampleJob specs (and a SampleSet's initial sync) translated into runtime job requests. Every user
 * path is validated here (SpecError) and again by the runtime with realpath. Paths stay relative to
 * the dataset root (or a cache tier for clear): the runtime, not the controller, knows where
 * things are mounted.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { SampleJob, SampleJobType } from '../../api/samplejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import { normalizeUserPath } from '../../runtime/path-safety.js';
import type { ClearRequest, RmrRequest, RuntimeJobRequest, SyncRequest, WarmupRequest } from '../../runtime/protocol.js';
import { SpecError } from '../cache-engine.js';
import { isInside } from '../../runtime/path-safety.js';
import { CREDENTIALS_IN_ARGUMENTS, CREDENTIALS_IN_ARGUMENTS_VALUE, CredentialsInArgumentsError, credentialsOnlyInUri } from './commands.js';
import { DEFAULT_CACHE_ROOTS } from './constants.js';
import { buildMountConfig } from './mount-options.js';
import { decodeSecretData } from './secret-validation.js';
import { parseSourceUri } from './source-uri.js';
import { validateSyncFlags } from './sync-flags.js';

/** Keys of a source Secret that are passed to the runtime as credentials. */
export const CREDENTIAL_KEYS = ['access-key', 'secret-key', 'session-token'] as const;

function checkPath(p: unknown, where: string): string {
  if (typeof p !== 'string' || p === '') throw new SpecError('InvalidPath', `${where} must be a non-empty string`);
  try {
    normalizeUserPath(p);
  } catch (err) {
    throw new SpecError('InvalidPath', `${where}: ${(err as Error).message}`);
  }
  return p;
}

/** Source credentials from a Secret (`access-key`, `secret-key`, optional `session-token`); undefined when none. */
export function credentialsFromSecret(secret: V1Secret | undefined): Record<string, string> | undefined {
  if (!secret) return undefined;
  const data = decodeSecretData(secret);
  const out: Record<string, string> = {};
  for (const k of CREDENTIAL_KEYS) {
    const v = data[k]?.trim();
    if (v) out[k] = v;
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
    if (s.spec.source?.allowCredentialsInArguments !== true) throw new SpecError('CredentialsInArguments', new CredentialsInArgumentsError(scheme).message);
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
  if (destination !== undefined && destination !== '') req.destination = checkPath(destination, 'syncOptions.destination');
  if (Object.keys(flags).length) req.flags = flags;
  return req;
}

export function initialSyncRequest(s: SampleSet, id: string, sourceSecret: V1Secret | undefined): RuntimeJobRequest {
  const options = syncRequest(s.spec.source?.uri, {});
  const credentials = syncCredentials(options, s, sourceSecret);
  return { id, type: 'sync', options, ...(credentials ? { credentials } : {}) };
}

function warmupRequest(job: SampleJob, shard: number, shards: number): WarmupRequest {
  const o = job.spec.warmupOptions ?? {};
  if (!Number.isInteger(shards) || shards < 1 || !Number.isInteger(shard) || shard < 0 || shard >= shards) {
    throw new SpecError('InvalidJob', `invalid warmup shard ${shard} of ${shards}`);
  }
  const req: WarmupRequest = { shard, shards, strategy: o.strategyName ?? 'sequence' };
  if (req.strategy !== 'sequence' && req.strategy !== 'random') throw new SpecError('InvalidWarmupOption', 'warmupOptions.strategyName must be sequence or random');
  if (o.paths?.length) req.paths = o.paths.map((p, i) => checkPath(p, `warmupOptions.paths[${i}]`));
  if (o.file !== undefined) req.file = checkPath(o.file, 'warmupOptions.file');
  if (o.threads !== undefined) {
    if (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > 1024) throw new SpecError('InvalidWarmupOption', 'warmupOptions.threads must be an integer in [1, 1024]');
    req.threads = o.threads;
  }
  return req;
}

function rmrRequest(job: SampleJob): RmrRequest {
  const paths = job.spec.rmrOptions?.paths ?? [];
  if (paths.length === 0) throw new SpecError('InvalidPath', 'rmrOptions.paths must list at least one path');
  return {
    paths: paths.map((p, i) => {
      checkPath(p, `rmrOptions.paths[${i}]`);
      if (normalizeUserPath(p) === '') throw new SpecError('InvalidPath', `rmrOptions.paths[${i}]: the dataset root itself cannot be removed`);
      return p;
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

function clearRequest(job: SampleJob, s: SampleSet, roots: string[]): ClearRequest {
  const paths = job.spec.clearOptions?.paths;
  return paths?.length ? { paths: paths.map((p, i) => toOwnCacheDir(checkPath(p, `clearOptions.paths[${i}]`), s, roots)) } : {};
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
  switch (job.spec.type) {
    case 'sync': {
      const o = (job.spec.syncOptions ?? {}) as Record<string, unknown>;
      const source = typeof o.source === 'string' && o.source !== '' ? o.source : s.spec.source?.uri;
      const options = syncRequest(source, o);
      const credentials = syncCredentials(options, s, credentialsSecret);
      return { id, type: 'sync', options, ...(credentials ? { credentials } : {}) };
    }
    case 'warmup':
      return { id, type: 'warmup', options: warmupRequest(job, shard, shards) };
    case 'rmr':
      return { id, type: 'rmr', options: rmrRequest(job) };
    case 'clear':
      return { id, type: 'clear', options: clearRequest(job, s, cacheRoots) };
    default:
      throw new SpecError('InvalidJob', `unknown SampleJob type ${JSON.stringify((job.spec as { type?: unknown }).type)}`);
  }
}

export function fanOut(type: SampleJobType): 'one' | 'all' {
  return type === 'warmup' || type === 'clear' ? 'all' : 'one';
}
