/**
 * Validation of request bodies received by paddle-runtime (engine-independent). A failure is a 400
 * with the reason; paths are checked again (with realpath) when the job runs.
 */
import { SAMPLEJOB_TYPES, type SampleJobType } from '../api/samplejob.js';
import { normalizeUserPath, PathSafetyError } from '../engines/toolkit/path-safety.js';
import type {
  ClearRequest,
  RmrRequest,
  RuntimeJobOptions,
  RuntimeJobRequest,
  SyncRequest,
  WarmupRequest,
} from '../api/runtime-protocol.js';
import { JOB_ID_PATTERN, MAX_CREDENTIAL_LENGTH, MAX_WARMUP_SHARDS } from '../api/runtime-protocol.js';

export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

const MAX_PATHS = 10000;
const MAX_STRING = 4096;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A client-chosen name for a message: short, and quoted so it cannot forge log fields. */
function quoteName(k: string): string {
  return JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}…` : k);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ValidationError(`${where}: unknown field ${quoteName(k)}`);
  }
}

function str(v: unknown, where: string, opts: { optional?: boolean; nonEmpty?: boolean } = {}): string | undefined {
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string') throw new ValidationError(`${where} must be a string`);
  if (opts.nonEmpty && v.length === 0) throw new ValidationError(`${where} must not be empty`);
  if (v.length > MAX_STRING) throw new ValidationError(`${where} is longer than ${MAX_STRING} characters`);
  if (v.includes('\0')) throw new ValidationError(`${where} contains a NUL character`);
  return v;
}

function int(v: unknown, where: string, min: number, max: number, optional = false): number | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ValidationError(`${where} must be an integer in [${min}, ${max}]`);
  return v;
}

function userPath(v: unknown, where: string): string {
  const s = str(v, where)!;
  try {
    normalizeUserPath(s);
  } catch (err) {
    if (!(err instanceof PathSafetyError)) throw err;
    // the path is the client's: name the problem without quoting it
    throw new ValidationError(`${where}: path contains a '..' segment`);
  }
  return s;
}

function pathList(v: unknown, where: string, opts: { optional?: boolean; nonEmpty?: boolean }): string[] | undefined {
  if (v === undefined && opts.optional) return undefined;
  if (!Array.isArray(v)) throw new ValidationError(`${where} must be an array of strings`);
  if (opts.nonEmpty && v.length === 0) throw new ValidationError(`${where} must not be empty`);
  if (v.length > MAX_PATHS) throw new ValidationError(`${where} has more than ${MAX_PATHS} entries`);
  return v.map((p, i) => userPath(p, `${where}[${i}]`));
}

function validateSync(o: Record<string, unknown>): SyncRequest {
  checkKeys(o, ['source', 'destination', 'flags'], 'options');
  const source = str(o.source, 'options.source', { nonEmpty: true })!;
  if (/[\s]/.test(source)) throw new ValidationError('options.source must not contain whitespace');
  const destination = o.destination === undefined ? undefined : userPath(o.destination, 'options.destination');
  let flags: SyncRequest['flags'];
  if (o.flags !== undefined) {
    if (!isObject(o.flags)) throw new ValidationError('options.flags must be an object');
    flags = {};
    for (const [k, v] of Object.entries(o.flags)) {
      if (!/^[a-z][a-z0-9-]{0,40}$/.test(k)) throw new ValidationError(`options.flags: invalid flag name ${quoteName(k)}`);
      if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) flags[k] = v;
      else if (typeof v === 'string') flags[k] = str(v, `options.flags.${k}`)!;
      else if (Array.isArray(v)) flags[k] = v.map((x, i) => str(x, `options.flags.${k}[${i}]`)!);
      else throw new ValidationError(`options.flags.${k} must be a string, number, boolean or string array`);
    }
  }
  return { source, ...(destination !== undefined ? { destination } : {}), ...(flags ? { flags } : {}) };
}

function validateWarmup(o: Record<string, unknown>): WarmupRequest {
  checkKeys(o, ['paths', 'file', 'threads', 'strategy', 'shard', 'shards'], 'options');
  const shards = int(o.shards, 'options.shards', 1, MAX_WARMUP_SHARDS)!;
  const shard = int(o.shard, 'options.shard', 0, shards - 1)!;
  const paths = pathList(o.paths, 'options.paths', { optional: true });
  const file = o.file === undefined ? undefined : userPath(o.file, 'options.file');
  const threads = int(o.threads, 'options.threads', 1, 1024, true);
  if (o.strategy !== undefined && o.strategy !== 'sequence' && o.strategy !== 'random')
    throw new ValidationError('options.strategy must be "sequence" or "random"');
  const strategy = o.strategy;
  return {
    shard,
    shards,
    ...(paths ? { paths } : {}),
    ...(file !== undefined ? { file } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(strategy ? { strategy } : {}),
  };
}

function validateRmr(o: Record<string, unknown>): RmrRequest {
  checkKeys(o, ['paths'], 'options');
  const paths = pathList(o.paths, 'options.paths', { nonEmpty: true })!;
  paths.forEach((p, i) => {
    if (normalizeUserPath(p) === '') throw new ValidationError(`options.paths[${i}] is the dataset root, which rmr may not remove`);
  });
  return { paths };
}

function validateClear(o: Record<string, unknown>): ClearRequest {
  checkKeys(o, ['paths'], 'options');
  const paths = pathList(o.paths, 'options.paths', { optional: true });
  return paths ? { paths } : {};
}

export function validateOptions(type: SampleJobType, options: unknown): RuntimeJobOptions {
  if (!isObject(options)) throw new ValidationError('options must be an object');
  switch (type) {
    case 'sync':
      return validateSync(options);
    case 'warmup':
      return validateWarmup(options);
    case 'rmr':
      return validateRmr(options);
    case 'clear':
      return validateClear(options);
  }
}

/** Checks a `POST /jobs` body; returns a clean request (unknown fields are an error). */
export function validateJobRequest(body: unknown): RuntimeJobRequest {
  if (!isObject(body)) throw new ValidationError('body must be a JSON object');
  checkKeys(body, ['id', 'type', 'options', 'credentials'], 'body');
  if (typeof body.id !== 'string' || !JOB_ID_PATTERN.test(body.id)) throw new ValidationError(`id must match ${JOB_ID_PATTERN.source}`);
  if (typeof body.type !== 'string' || !(SAMPLEJOB_TYPES as readonly string[]).includes(body.type)) {
    throw new ValidationError(`type must be one of ${SAMPLEJOB_TYPES.join(', ')}`);
  }
  const type = body.type as SampleJobType;
  const options = validateOptions(type, body.options);
  let credentials: Record<string, string> | undefined;
  if (body.credentials !== undefined) {
    if (!isObject(body.credentials)) throw new ValidationError('credentials must be an object of strings');
    // no prototype: a key like "__proto__" is just a key
    credentials = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(body.credentials)) {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(k)) throw new ValidationError('credentials: invalid key');
      // Never echo the value in the message.
      if (typeof v !== 'string' || v.length > MAX_CREDENTIAL_LENGTH || v.includes('\0'))
        throw new ValidationError(`credentials.${k} must be a string`);
      credentials[k] = v;
    }
  }
  return { id: body.id, type, options, ...(credentials ? { credentials } : {}) };
}
