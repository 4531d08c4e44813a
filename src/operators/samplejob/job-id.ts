/**
 * Identity of a SampleJob's run on the runtime servers. The id is a pure function of the SampleJob's
 * uid, the hash of its spec and the generation the run started from, and it is written to
 * `status.jobName` before anything is submitted: a reconcile that fails after submitting derives (or
 * reads) the same id again, and the runtime's POST /jobs is idempotent on it, so a lost status write
 * can never start a duplicate job (the original's defect: a fresh UUID per attempt).
 * The generation only matters when a Failed job's spec is edited back to an earlier spec: the run
 * gets a new id instead of the runtime's remembered failure.
 */
import { createHash } from 'node:crypto';
import { compareText } from '../../api/compare-text.js';
import type { SampleJob, SampleJobSpec } from '../../api/samplejob.js';
import { SCHEDULE_FIELDS } from './schedule.js';

/** JSON with object keys sorted (stable across key order); undefined members dropped. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => compareText(a, b));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

/** Hash of everything in the spec that defines the work (the schedule fields don't). 16 hex chars. */
export function specHash(spec: SampleJobSpec): string {
  const copy: Record<string, unknown> = { ...(spec as unknown as Record<string, unknown>) };
  for (const f of SCHEDULE_FIELDS) delete copy[f];
  return createHash('sha256').update(canonicalJson(copy)).digest('hex').slice(0, 16);
}

const MAX_PREFIX = 40;

/**
 * The runtime job id: `<job name, sanitised, ≤40 chars>-<20 hex chars of sha256(uid/specHash/generation)>`.
 * Only [a-z0-9-], so it is safe in URL paths and file names on the runtime side.
 */
export function jobId(name: string, uid: string, hash: string, generation: number | undefined): string {
  const digest = createHash('sha256')
    .update(`${uid}/${hash}/${generation ?? 0}`)
    .digest('hex')
    .slice(0, 20);
  const prefix = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, MAX_PREFIX)
    .replace(/^-+|-+$/g, '');
  return prefix ? `${prefix}-${digest}` : digest;
}

/** The id a run of `job` (as it is now) gets. */
export function jobIdOf(job: SampleJob, hash = specHash(job.spec)): string {
  return jobId(job.metadata.name!, job.metadata.uid!, hash, job.metadata?.generation);
}
