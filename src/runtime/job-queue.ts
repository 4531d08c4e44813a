/**
 * The runtime's job queue: FIFO, one job at a time, idempotent on id, cancellable,
 * observable with long-poll waiters, with a bounded history of finished jobs.
 *
 * Credentials travel with a queued job until it starts, are handed to the runner, and are dropped
 * when it ends; they are never part of a job's state. Messages and log lines of a job are scrubbed
 * of its credential values (defence in depth: the engine scrubs its child's output too).
 */
import type { SampleJobType } from '../api/samplejob.js';
import type { JobExecution } from '../engines/cache-engine.js';
import {
  isTerminalJobStatus,
  type JobProgressReport,
  type RuntimeJobOptions,
  type RuntimeJobRequest,
  type RuntimeJobState,
  type RuntimeJobStatus,
} from '../api/runtime-protocol.js';
import { secretScrubber } from '../observability/scrub.js';

export type JobRunner = (
  job: { id: string; type: SampleJobType; options: RuntimeJobOptions; credentials?: Record<string, string> },
  exec: JobExecution,
) => Promise<void>;

export type JobLogFn = (level: 'info' | 'warn' | 'error' | 'debug', msg: string, fields?: Record<string, unknown>) => void;

export interface JobQueueOptions {
  run: JobRunner;
  /** Finished jobs kept for GET (default 200). */
  historyLimit?: number;
  /**
   * How long cancel() waits for a running job to stop (default 5000 ms). A runner still not
   * settled after that is abandoned: the job is recorded as cancelled and the next one starts.
   */
  cancelWaitMs?: number;
  /** Most jobs waiting to start (the running one not counted); more are refused (default 100). */
  maxPending?: number;
  log?: JobLogFn;
  now?: () => Date;
}

/** Same id submitted with a different type or options. */
export class JobConflictError extends Error {
  constructor(id: string) {
    super(`job ${id} already exists with a different type or options`);
    this.name = 'JobConflictError';
  }
}

/** The queue no longer accepts jobs (shutting down). */
export class QueueClosedError extends Error {
  constructor() {
    super('the runtime is shutting down');
    this.name = 'QueueClosedError';
  }
}

/** The pending queue is full: the caller should retry later (HTTP 429). */
export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`the runtime's job queue is full (${limit} pending jobs); retry later`);
    this.name = 'QueueFullError';
  }
}

/** Default bound of the pending queue (about 2.5 MB of memory per queued job was measured). */
export const DEFAULT_MAX_PENDING = 100;

interface JobRecord {
  state: RuntimeJobState;
  optionsKey: string;
  options: RuntimeJobOptions;
  credentials?: Record<string, string>;
  scrub: (s: string) => string;
  controller: AbortController;
  version: number;
  waiters: Set<() => void>;
  settled: Promise<void>;
  settle: () => void;
  /** The runner ignored cancel past the grace period: whatever it does later is ignored. */
  abandoned?: boolean;
}

/** Key-order-independent JSON, to compare a resubmitted job's options with the original's. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export class JobQueue {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly pending: string[] = [];
  private readonly finished: string[] = [];
  private runningId: string | undefined;
  private closed = false;
  private finishedTotal = 0;
  private readonly historyLimit: number;
  private readonly cancelWaitMs: number;
  private readonly maxPending: number;
  private readonly log: JobLogFn;
  private readonly now: () => Date;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(private readonly opts: JobQueueOptions) {
    this.historyLimit = opts.historyLimit ?? 200;
    this.cancelWaitMs = opts.cancelWaitMs ?? 5000;
    this.maxPending = Math.max(1, opts.maxPending ?? DEFAULT_MAX_PENDING);
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Queues a job, or returns the existing one with the same id (never re-run, whatever its
   * state, even when the queue is full). `created` tells which. Throws JobConflictError /
   * QueueClosedError / QueueFullError.
   */
  submit(req: RuntimeJobRequest): { state: RuntimeJobState; created: boolean } {
    const existing = this.jobs.get(req.id);
    const optionsKey = canonicalJson({ type: req.type, options: req.options });
    if (existing) {
      if (existing.optionsKey !== optionsKey) throw new JobConflictError(req.id);
      return { state: this.snapshot(existing), created: false };
    }
    if (this.closed) throw new QueueClosedError();
    if (this.pending.length >= this.maxPending) {
      this.log('warn', 'job refused: the queue is full', {
        job: req.id,
        type: req.type,
        pending: this.pending.length,
        limit: this.maxPending,
      });
      throw new QueueFullError(this.maxPending);
    }
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const rec: JobRecord = {
      state: { id: req.id, type: req.type, status: 'pending' },
      optionsKey,
      options: req.options,
      credentials: req.credentials,
      scrub: secretScrubber(Object.values(req.credentials ?? {})),
      controller: new AbortController(),
      version: 0,
      waiters: new Set(),
      settled,
      settle,
    };
    this.jobs.set(req.id, rec);
    this.pending.push(req.id);
    this.log('info', 'job queued', { job: req.id, type: req.type, queued: this.pending.length });
    queueMicrotask(() => this.pump());
    return { state: this.snapshot(rec), created: true };
  }

  get(id: string): RuntimeJobState | undefined {
    const rec = this.jobs.get(id);
    return rec ? this.snapshot(rec) : undefined;
  }

  /** Id of the running job, if any. */
  running(): string | undefined {
    return this.runningId;
  }

  /** How many jobs have finished since start (changes whenever one finishes). */
  finishedCount(): number {
    return this.finishedTotal;
  }

  /** The bound of the pending queue. */
  pendingLimit(): number {
    return this.maxPending;
  }

  /** Ids of the queued jobs in FIFO order. */
  queued(): string[] {
    return [...this.pending];
  }

  /**
   * Long-poll: resolves with the job's state as soon as it changes (status, progress or message),
   * at once when it is already finished, or after `timeoutMs` with the unchanged state.
   * `undefined` when the job is unknown. `abort` ends the wait early (client went away, shutdown).
   */
  wait(id: string, timeoutMs: number, abort?: AbortSignal): Promise<RuntimeJobState | undefined> {
    const rec = this.jobs.get(id);
    if (!rec) return Promise.resolve(undefined);
    if (isTerminalJobStatus(rec.state.status) || timeoutMs <= 0 || abort?.aborted) return Promise.resolve(this.snapshot(rec));
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        rec.waiters.delete(done);
        abort?.removeEventListener('abort', done);
        resolve(this.snapshot(rec));
      };
      const timer = setTimeout(done, timeoutMs);
      rec.waiters.add(done);
      abort?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Cancels a job: a queued one at once, a running one by aborting its signal (the engine kills
   * its child) and waiting — up to cancelWaitMs — until it has stopped. A runner that has not
   * stopped by then is abandoned: the job is recorded as cancelled, its slot is released so the
   * next job starts, and nothing it reports later changes the recorded state. So cancel always
   * ends the job within cancelWaitMs. Unknown id → undefined.
   */
  async cancel(id: string, reason = 'cancelled'): Promise<RuntimeJobState | undefined> {
    const rec = this.jobs.get(id);
    if (!rec) return undefined;
    if (rec.state.status === 'pending') {
      const i = this.pending.indexOf(id);
      if (i >= 0) this.pending.splice(i, 1);
      this.finish(rec, 'cancelled', `${reason} before it started`);
      return this.snapshot(rec);
    }
    if (rec.state.status === 'running') {
      this.log('info', 'cancelling running job', { job: id });
      rec.controller.abort(new Error(reason));
      await Promise.race([rec.settled, delay(this.cancelWaitMs)]);
      if (rec.state.status === 'running') this.abandon(rec, reason);
    }
    return this.snapshot(rec);
  }

  /** Gives up on a running job whose runner ignores its abort signal (see cancel). */
  private abandon(rec: JobRecord, reason: string): void {
    rec.abandoned = true;
    this.log('error', 'job did not stop after cancel: abandoned it (its runner may still hold resources); starting the next job', {
      job: rec.state.id,
      type: rec.state.type,
      waitedMs: this.cancelWaitMs,
    });
    this.finish(rec, 'cancelled', `${reason}; the job did not stop within ${Math.round(this.cancelWaitMs / 1000)}s and was abandoned`);
    if (this.runningId === rec.state.id) this.release();
  }

  /** The running slot is free: wake close() and start the next job. */
  private release(): void {
    this.runningId = undefined;
    this.markIdle();
    this.pump();
  }

  /** Cancels the running job and every queued one; returns their ids. */
  async terminate(reason = 'terminated'): Promise<string[]> {
    const ids = [...(this.runningId ? [this.runningId] : []), ...this.pending];
    for (const id of [...this.pending]) await this.cancel(id, reason);
    if (this.runningId) await this.cancel(this.runningId, reason);
    return ids;
  }

  /** Stops accepting jobs, cancels everything and waits (bounded) for the running job to stop. */
  async close(): Promise<void> {
    this.closed = true;
    await this.terminate('runtime shutting down');
    await Promise.race([this.idle, delay(this.cancelWaitMs)]);
    for (const rec of this.jobs.values()) for (const w of [...rec.waiters]) w();
  }

  private snapshot(rec: JobRecord): RuntimeJobState {
    const s = rec.state;
    return { ...s, ...(s.progress ? { progress: { ...s.progress } } : {}) };
  }

  private changed(rec: JobRecord): void {
    rec.version++;
    for (const w of [...rec.waiters]) w();
  }

  private finish(rec: JobRecord, status: RuntimeJobStatus, message?: string): void {
    if (isTerminalJobStatus(rec.state.status)) return;
    rec.state.status = status;
    if (message !== undefined) rec.state.message = rec.scrub(message);
    rec.state.completionTime = this.now().toISOString();
    rec.credentials = undefined;
    rec.settle();
    this.finished.push(rec.state.id);
    while (this.finished.length > this.historyLimit) {
      const old = this.finished.shift()!;
      this.jobs.delete(old);
    }
    this.finishedTotal++;
    this.log(status === 'failed' ? 'warn' : 'info', `job ${status}`, {
      job: rec.state.id,
      type: rec.state.type,
      detail: rec.state.message,
    });
    this.changed(rec);
  }

  private pump(): void {
    if (this.runningId !== undefined) return;
    const id = this.pending.shift();
    if (id === undefined) return;
    const rec = this.jobs.get(id);
    if (!rec) return;
    this.runningId = id;
    this.idle = new Promise((r) => (this.markIdle = r));
    rec.state.status = 'running';
    rec.state.startTime = this.now().toISOString();
    this.changed(rec);
    this.log('info', 'job started', { job: id, type: rec.state.type });
    const signal = rec.controller.signal;
    const exec: JobExecution = {
      signal,
      onProgress: (p: JobProgressReport) => {
        if (rec.state.status !== 'running') return;
        const next = { ...rec.state.progress, ...p };
        if (canonicalJson(next) === canonicalJson(rec.state.progress ?? {})) return;
        rec.state.progress = next;
        this.changed(rec);
      },
      log: (msg, fields) => this.log('info', rec.scrub(msg), { job: id, ...fields }),
      setMessage: (msg) => {
        if (rec.state.status !== 'running') return;
        rec.state.message = rec.scrub(msg);
        this.changed(rec);
      },
    };
    const credentials = rec.credentials;
    rec.credentials = undefined;
    let result: Promise<void>;
    try {
      result = Promise.resolve(this.opts.run({ id, type: rec.state.type, options: rec.options, credentials }, exec));
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on whatever the runner threw, as an async runner would
      result = Promise.reject(err);
    }
    const settledLate = (outcome: string): void => {
      this.log('warn', "an abandoned job's runner finished late; its outcome is ignored", { job: id, outcome: rec.scrub(outcome) });
    };
    result
      .then(
        () => {
          if (rec.abandoned) return settledLate('succeeded');
          if (signal.aborted) this.finish(rec, 'cancelled', reasonOf(signal));
          else this.finish(rec, 'succeeded');
        },
        (err: unknown) => {
          if (rec.abandoned) return settledLate(errorText(err));
          if (signal.aborted) this.finish(rec, 'cancelled', reasonOf(signal));
          else this.finish(rec, 'failed', errorText(err));
        },
      )
      .finally(() => {
        // an abandoned runner's slot was released already (another job may hold it now)
        if (!rec.abandoned && this.runningId === id) this.release();
      });
  }
}

function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : typeof r === 'string' ? r : 'cancelled';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
