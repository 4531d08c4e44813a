/** The initial sync of a SampleSet: its identity and how runtime states show in status (pure). */
import { createHash } from 'node:crypto';
import type { SampleSet, SyncJobStatus } from '../../api/sampleset.js';
import type { JobProgressReport, RuntimeJobState } from '../../api/runtime-protocol.js';
import { maskUriUserinfo } from '../../observability/scrub.js';
import { phaseOfRuntimeJob } from '../shared/runtime-job-phase.js';
import type { SubmitBackoff } from '../shared/watched-job.js';
import { formatBytes, formatCount, formatPercent } from '../../api/format.js';

/** Phase of the initial sync as the SampleSet sees it. */
export type SyncPhase = 'Skipped' | 'NotStarted' | 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** JSON with object keys sorted, so equal values hash equally whatever the key order. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/**
 * The parts of the spec a sync depends on: the source (URI and its Secret) and the volume Secret.
 * Namespaces default to the SampleSet's, so spelling the default out does not start a new sync.
 */
export function syncRelevantSpec(ss: SampleSet): unknown {
  const ns = ss.metadata.namespace ?? '';
  const src = ss.spec.source;
  return {
    source: src
      ? { uri: src.uri, secretRef: src.secretRef ? { name: src.secretRef.name, namespace: src.secretRef.namespace || ns } : null }
      : null,
    secretRef: { name: ss.spec.secretRef?.name ?? '', namespace: ss.spec.secretRef?.namespace || ns },
  };
}

/** 10 hex digits of SHA-256 over the sync-relevant spec. */
export function syncSpecHash(ss: SampleSet): string {
  return createHash('sha256')
    .update(canonicalJson(syncRelevantSpec(ss)))
    .digest('hex')
    .slice(0, 10);
}

/** The hash part of an id made by `syncIdFor` (undefined for a foreign id). */
export function hashOfSyncId(id: string | undefined): string | undefined {
  const m = /^sync-[0-9a-z]{1,8}-g\d+-([0-9a-f]{10})$/.exec(id ?? '');
  return m?.[1];
}

/**
 * The id of the sync the SampleSet should have run: the id already in `status.syncJob` while the
 * sync-relevant spec keeps its hash (so a restarted operator, or a runtime pod that forgot the job,
 * gets the same id again — the runtime is idempotent on it), otherwise a new one
 * `sync-<uid prefix>-g<generation>-<hash>` (the generation makes returning to an earlier spec a new
 * sync, i.e. a retry).
 */
export function syncIdFor(ss: SampleSet): string {
  const hash = syncSpecHash(ss);
  const current = ss.status?.syncJob?.id;
  if (current && hashOfSyncId(current) === hash) return current;
  const uid =
    (ss.metadata.uid ?? '')
      .replace(/[^0-9a-z]/gi, '')
      .toLowerCase()
      .slice(0, 8) || '0';
  return `sync-${uid}-g${ss.metadata.generation ?? 0}-${hash}`;
}

export function isTerminalSyncPhase(p: string | undefined): p is 'Succeeded' | 'Failed' {
  return p === 'Succeeded' || p === 'Failed';
}

/** `120/300 files, 1.2 MiB/4.0 MiB (30.0%)` — whatever the runtime reported. */
export function formatProgress(p: JobProgressReport | undefined): string {
  if (!p) return '';
  const parts: string[] = [];
  if (p.filesDone !== undefined)
    parts.push(p.filesTotal ? `${formatCount(p.filesDone)}/${formatCount(p.filesTotal)} files` : `${formatCount(p.filesDone)} files`);
  if (p.bytesDone !== undefined)
    parts.push(p.bytesTotal ? `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone));
  let s = parts.join(', ');
  if (p.bytesTotal) s += ` (${formatPercent(p.bytesDone ?? 0, p.bytesTotal)})`;
  else if (p.filesTotal) s += ` (${formatPercent(p.filesDone ?? 0, p.filesTotal)})`;
  return s;
}

/** The `status.syncJob` that reflects runtime state `state` of sync `id`. */
export function syncJobStatusFrom(prev: SyncJobStatus | undefined, id: string, state: RuntimeJobState, now: string): SyncJobStatus {
  const phase = phaseOfRuntimeJob(state.status);
  const same = prev?.id === id;
  const out: SyncJobStatus = { id, phase, startTime: (same && prev?.startTime) || state.startTime || now };
  if (phase === 'Failed')
    out.message =
      state.status === 'cancelled'
        ? `the sync was cancelled on the runtime${state.message ? `: ${state.message}` : ''}`
        : state.message || 'the sync failed';
  else if (phase === 'Succeeded') out.message = formatProgress(state.progress) || state.message || undefined;
  else
    out.message =
      formatProgress(state.progress) || (phase === 'Pending' ? 'waiting for the runtime to start the sync' : state.message) || undefined;
  if (isTerminalSyncPhase(phase)) out.completionTime = (same && prev?.completionTime) || state.completionTime || now;
  if (out.message === undefined) delete out.message;
  // runtime text (juicefs's errors quote URIs): never a URI's userinfo in status
  else out.message = maskUriUserinfo(out.message);
  return out;
}

/**
 * What to do when a runtime pod did not accept the initial sync: a full queue (429) waits for the
 * runtime's Retry-After (bounded) without counting as a failure; anything else polls briefly (a pod
 * that just turned Ready is usually seconds from listening), then backs off exponentially.
 */
export function submitRetry(
  failure: { busy: boolean; retryAfterMs?: number; queueLimit?: number; message: string },
  failuresSoFar: number,
  pod: string,
  baseRetryMs: number,
): { reason: 'RuntimeBusy' | 'SyncSubmitFailed'; message: string; retryMs: number; countsAsFailure: boolean } {
  if (failure.busy) {
    const retryMs = Math.min(60_000, Math.max(baseRetryMs, failure.retryAfterMs ?? 5_000));
    const limit = failure.queueLimit ? ` (${failure.queueLimit} pending)` : '';
    return {
      reason: 'RuntimeBusy',
      message: `runtime pod ${pod} has a full job queue${limit}; the sync is submitted again in ${Math.round(retryMs / 1000)} s`,
      retryMs,
      countsAsFailure: false,
    };
  }
  const n = failuresSoFar + 1;
  const retryMs = n <= 20 ? baseRetryMs : Math.min(30_000, baseRetryMs * 2 ** Math.min(n - 20, 10));
  return {
    reason: 'SyncSubmitFailed',
    message: `runtime pod ${pod} did not accept the sync (retrying in ${Math.round(retryMs / 1000)} s): ${failure.message}`,
    retryMs,
    countsAsFailure: true,
  };
}

/** `submitRetry`'s waits as the runtime job watcher's backoff of the initial sync's submissions. */
export function syncSubmitBackoff(baseRetryMs: number): SubmitBackoff {
  return (f) =>
    submitRetry(
      { busy: f.busy, retryAfterMs: f.retryAfterMs, queueLimit: f.queueLimit, message: f.message },
      f.busy ? 0 : f.failures - 1,
      '',
      baseRetryMs,
    ).retryMs;
}
