/**
 * What the RuntimeJobWatcher knows about one job on one runtime pod, and the pure rules it applies:
 * when two answers differ, and how long to wait before submitting again after a refusal.
 */
import type { RuntimeJobState } from '../../api/runtime-protocol.js';
import type { Clock } from '../../kube/clock.js';

/** A job on a runtime pod, and the object whose reconcile follows it. */
export interface WatchTarget {
  /** Queue key (`namespace/name`) of the object re-queued on changes. */
  key: string;
  jobId: string;
  pod: string;
  podUid?: string;
  baseUrl: string;
  token: string;
}

/** The runtime refused the submission because its queue is full (429). */
export interface RuntimeBusyState {
  /** The runtime's pending-queue bound, when it said so. */
  queueLimit?: number;
  /** The wait the runtime asked for (Retry-After), when it said so. */
  retryAfterMs?: number;
  /** Consecutive 429 answers. */
  refusals: number;
  since: number;
}

export interface WatchedJob {
  readonly key: string;
  readonly jobId: string;
  readonly pod: string;
  /** UID of the pod the job was submitted to / is asked on. */
  podUid?: string;
  baseUrl: string;
  /** Latest state reported by the runtime (the submission's answer, then the polls'). */
  state?: RuntimeJobState;
  /** The runtime answered "no such job". */
  unknown: boolean;
  /** A poll loop is running (a request in flight or waiting to retry). */
  following: boolean;
  /** A submission to this pod is in progress, or failed in this process and must be retried. */
  submitPending: boolean;
  /** A POST /jobs is in flight. */
  submitting: boolean;
  submitError?: string;
  /** Consecutive failed submissions (a busy runtime does not count). */
  submitFailures: number;
  /** After a failed submission: not before this time. */
  nextSubmitAt?: number;
  /** The last submission was refused because the runtime's queue is full; cleared on success or another error. */
  busy?: RuntimeBusyState;
  /** The poll's last transport error, and since when the polls fail (cleared by the next answer). */
  error?: string;
  errorSince?: number;
  updatedAt: number;
}

/** A refused submission, as the backoff policy sees it. */
export interface SubmitFailure {
  /** 429: the runtime's queue is full (not a failed attempt). */
  busy: boolean;
  retryAfterMs?: number;
  queueLimit?: number;
  /** Consecutive 429 answers, this one included (0 when not busy). */
  refusals: number;
  /** Consecutive failed submissions, this one included (unchanged by a busy answer). */
  failures: number;
  message: string;
}

/** Milliseconds to wait before submitting again. */
export type SubmitBackoff = (f: SubmitFailure) => number;

/**
 * Capped exponential backoff: failures from `minMs` up to `maxMs`; a busy runtime at least as long
 * as it asked (Retry-After), up to `maxBusyMs`.
 */
export function exponentialSubmitBackoff(minMs: number, maxMs: number, maxBusyMs: number): SubmitBackoff {
  return (f) => {
    if (f.busy) return Math.min(maxBusyMs, Math.max(minMs * 2 ** Math.min(10, f.refusals - 1), f.retryAfterMs ?? 0));
    return Math.min(maxMs, minMs * 2 ** Math.min(10, f.failures - 1));
  };
}

/** Status, message and every progress counter as they were. */
export function sameState(a: RuntimeJobState | undefined, b: RuntimeJobState): boolean {
  if (!a) return false;
  const pa = a.progress ?? {};
  const pb = b.progress ?? {};
  return (
    a.status === b.status &&
    a.message === b.message &&
    pa.filesDone === pb.filesDone &&
    pa.filesTotal === pb.filesTotal &&
    pa.bytesDone === pb.bytesDone &&
    pa.bytesTotal === pb.bytesTotal
  );
}

/** How a RuntimeJobWatcher polls, notifies and retries. */
export interface RuntimeJobWatcherOptions {
  /** Long-poll duration passed to the runtime (default 20 s). */
  waitSeconds?: number;
  /** Minimum spacing of notifications for a change of progress or message alone (default 0: at once). */
  progressIntervalMs?: number;
  /** Minimum spacing of two polls, a guard against a server that answers at once (default 0). */
  minPollIntervalMs?: number;
  /** Backoff of failed polls: starts here, doubles, capped (defaults 250 ms → 5 s). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Longest wait before submitting again to a busy runtime, for the default backoff (default 60 s). */
  maxBusyRetryMs?: number;
  /** When to submit again after a refusal (default: exponential from minRetryMs; see exponentialSubmitBackoff). */
  submitBackoff?: SubmitBackoff;
  /** Consecutive poll errors before the owner is told the pod stops answering (default 1). */
  errorsBeforeNotify?: number;
  /** A submission (building the request and the POST) that takes longer fails (default 60 s). */
  submitTimeoutMs?: number;
  clock?: Clock;
  /** Told of every failed poll and submission (logging). */
  onError?: (e: unknown, job: WatchedJob) => void;
}
