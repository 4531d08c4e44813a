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
  const credentials = credentialsFromSecret(sourceSecret);
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

function clearRequest(job: SampleJob): ClearRequest {
  const paths = job.spec.clearOptions?.paths;
  return paths?.length ? { paths: paths.map((p, i) => checkPath(p, `clearOptions.paths[${i}]`)) } : {};
}

export function jobRequest(job: SampleJob, s: SampleSet, id: string, shard: number, shards: number, credentialsSecret: V1Secret | undefined): RuntimeJobRequest {
  switch (job.spec.type) {
    case 'sync': {
      const o = (job.spec.syncOptions ?? {}) as Record<string, unknown>;
      const source = typeof o.source === 'string' && o.source !== '' ? o.source : s.spec.source?.uri;
      const options = syncRequest(source, o);
      const credentials = credentialsFromSecret(credentialsSecret);
      return { id, type: 'sync', options, ...(credentials ? { credentials } : {}) };
    }
    case 'warmup':
      return { id, type: 'warmup', options: warmupRequest(job, shard, shards) };
    case 'rmr':
      return { id, type: 'rmr', options: rmrRequest(job) };
    case 'clear':
      return { id, type: 'clear', options: clearRequest(job) };
    default:
      throw new SpecError('InvalidJob', `unknown SampleJob type ${JSON.stringify((job.spec as { type?: unknown }).type)}`);
  }
}

export function fanOut(type: SampleJobType): 'one' | 'all' {
  return type === 'warmup' || type === 'clear' ? 'all' : 'one';
}
