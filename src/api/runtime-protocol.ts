/**
 * The paddle-runtime HTTP contract, shared by the server and the RuntimeClient.
 * Every call carries `Authorization: Bearer <token>`.
 *
 *   POST   /jobs                    RuntimeJobRequest -> 202 RuntimeJobState (idempotent on id: 200);
 *                                    400 invalid (also the engine's own checks), 429 + Retry-After
 *                                    when the pending queue is full, 503 while shutting down
 *   GET    /jobs/{id}?waitSeconds=N -> RuntimeJobState (long-poll: returns early when status/progress changes)
 *   DELETE /jobs/{id}               -> cancel that job (queued or running)
 *   POST   /terminate               -> cancel the running job and every queued one
 *   GET    /cache                   -> NodeCacheStats
 *   GET    /healthz                 -> {ok, engine} (no auth; 503 {ok: false} while shutting down)
 */
import type { SampleJobType } from './samplejob.js';

/** Env var of every runtime container holding its bearer token (from the token Secret's RUNTIME_TOKEN_KEY). */
export const RUNTIME_TOKEN_ENV = 'PADDLE_RUNTIME_TOKEN';
/**
 * Key of the bearer token in a SampleSet's runtime token Secret: engines write it there (and point
 * RUNTIME_TOKEN_ENV at it); the operators read it to call the runtime pods.
 */
export const RUNTIME_TOKEN_KEY = 'token';

export type RuntimeJobStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** The statuses a runtime job never leaves: the queue runs it no more, a watcher stops following it. */
export const TERMINAL_JOB_STATUSES: readonly RuntimeJobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** Whether a runtime job with this status (undefined: not known yet) has ended. */
export function isTerminalJobStatus(status: string | undefined): boolean {
  return (TERMINAL_JOB_STATUSES as readonly string[]).includes(status ?? '');
}

/** A job as the operator submits it. Paths are relative to the dataset root (or cache tier for clear). */
export interface RuntimeJobRequest {
  id: string;
  type: SampleJobType;
  options: RuntimeJobOptions;
  /** Source credentials for sync; reach the child through its environment only, never echoed back. */
  credentials?: Record<string, string>;
}

export type RuntimeJobOptions = SyncRequest | WarmupRequest | RmrRequest | ClearRequest;

export interface SyncRequest {
  /** Source URI without credentials, e.g. `s3://bucket.endpoint/prefix/`. */
  source: string;
  /** Destination relative to the dataset root ('' or '/' = root). */
  destination?: string;
  /** JuiceFS sync flags by CLI name: threads, update, force-update, delete-dst, dirs, include, exclude, bwlimit, check-new, … */
  flags?: Record<string, string | number | boolean | string[]>;
}

export interface WarmupRequest {
  /** Paths relative to the dataset root; empty = the whole dataset. */
  paths?: string[];
  /** A file (relative to the dataset root) listing paths to warm, one per line. */
  file?: string;
  threads?: number;
  strategy?: 'sequence' | 'random';
  /** This pod's shard: it warms the files whose shard index (see engines/juicefs/sharding.ts) equals `shard` of `shards`. */
  shard: number;
  shards: number;
}

export interface RmrRequest {
  paths: string[];
}

export interface ClearRequest {
  /** Cache-tier paths (host path as in cache.levels or relative to a tier); empty = every tier. */
  paths?: string[];
}

export interface JobProgressReport {
  filesDone?: number;
  filesTotal?: number;
  bytesDone?: number;
  bytesTotal?: number;
}

export interface RuntimeJobState {
  id: string;
  type: SampleJobType;
  status: RuntimeJobStatus;
  message?: string;
  progress?: JobProgressReport;
  startTime?: string;
  completionTime?: string;
}

export interface CacheTierStats {
  path: string;
  sizeBytes: number;
  usedBytes: number;
  availBytes: number;
}

export interface NodeCacheStats {
  /** Bytes and files of the dataset (the whole mounted volume / sub-dir). */
  totalBytes: number;
  totalFiles: number;
  /** Bytes of this volume held in this node's cache. */
  cachedBytes: number;
  tiers: CacheTierStats[];
  /** Reads this node's mount served, when the engine counts them. */
  reads?: CacheReadStats;
  /** Problems met while measuring (partial data is still reported). */
  errors?: string[];
}

/**
 * Reads served by a node's mount since it started (cumulative; a restarted mount starts again from
 * zero): block reads found in the node's cache (hits) or fetched from the object store (misses),
 * counted in blocks and in bytes. Training pods on the node read through the same mount.
 */
export interface CacheReadStats {
  hits: number;
  misses: number;
  hitBytes: number;
  missBytes: number;
}

/**
 * Largest `POST /jobs` body the runtime accepts, in bytes. The CRD limits are chosen so that every
 * valid SampleJob (and a SampleSet's initial sync) translates into a request well below it.
 */
export const MAX_JOB_REQUEST_BYTES = 1024 * 1024;

/**
 * Most warmup shards a request may name, which is also the most partitions (runtime pods, one per
 * node) a SampleSet may have: Kubernetes' largest supported cluster has 5,000 nodes.
 */
export const MAX_WARMUP_SHARDS = 5000;

/** Longest credential value (one key of the source Secret) a request may carry, in characters. */
/** Job ids: what the operator generates (UIDs, names with suffixes), nothing that needs escaping. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;

export const MAX_CREDENTIAL_LENGTH = 4096;
