/**
 * The paddle-runtime HTTP server (routes in protocol.ts): bearer-token auth compared in
 * constant time, validated JSON bodies with a size limit, request timeouts, capped long-poll, a
 * bounded job queue (429 with Retry-After when full), and a graceful shutdown that cancels the
 * running job. Credentials never reach a log line or response.
 *
 * No single request can take the server down: malformed, oversized, truncated, slow or chunked
 * input is answered with a 4xx (HTTP parser errors and timeouts too, see http-input.ts), an
 * unexpected error inside one request is logged and answered with a 500, and nothing a client
 * sends is echoed back or logged (routes are logged as templates).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CacheRuntime } from '../engines/cache-engine.js';
import { answerClientError, decodeSegment, HttpError, parseTarget, readJson } from './http-input.js';
import { JobConflictError, JobQueue, QueueClosedError, QueueFullError, type JobLogFn } from './job-queue.js';
import type { NodeCacheStats, RuntimeJobRequest, RuntimeJobState } from '../api/runtime-protocol.js';
import { JOB_ID_PATTERN, MAX_JOB_REQUEST_BYTES } from '../api/runtime-protocol.js';
import { secretScrubber } from '../observability/scrub.js';
import { validateJobRequest, ValidationError } from './validation.js';

export interface RuntimeServerOptions {
  runtime: CacheRuntime;
  /** The bearer token every call but /healthz must carry. */
  token: string;
  /** Bind address (default 0.0.0.0) and port (default 7716; 0 picks a free one). */
  host?: string;
  port?: number;
  log?: JobLogFn;
  /** Longest long-poll in seconds (default 60). */
  maxWaitSeconds?: number;
  /** Largest accepted request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Time allowed to receive a whole request (default 30 s) and its headers (default 15 s). */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Open connections accepted at once; more are dropped (default 512). */
  maxConnections?: number;
  /** Longest GET /cache computation before it answers 503 (default 120 s). */
  statsTimeoutMs?: number;
  /** Cache statistics are reused for this long (default 2 s). */
  statsCacheMs?: number;
  /** Finished jobs kept (default 200). */
  historyLimit?: number;
  /** How long a cancel waits for the running job to stop before abandoning it (default 5 s). */
  cancelWaitMs?: number;
  /** Jobs waiting to start; a submission beyond is answered 429 (default 100). */
  maxPendingJobs?: number;
  /** Retry-After (seconds) of a 429 (default 10). */
  busyRetryAfterSeconds?: number;
}

/** Longest message of a 4xx answer (validation messages name fields, never whole values). */
const MAX_ERROR_MESSAGE = 1000;

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s, 'utf8').digest();
}

function messageOf(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.length > MAX_ERROR_MESSAGE ? `${m.slice(0, MAX_ERROR_MESSAGE)}…` : m;
}

/** The route template of a path, for logs and metrics (never the raw, client-chosen path). */
function routeOf(pathname: string): string {
  if (pathname === '/healthz' || pathname === '/jobs' || pathname === '/terminate' || pathname === '/cache') return pathname;
  return /^\/jobs\/[^/]+$/.test(pathname) ? '/jobs/:id' : 'other';
}

export class RuntimeServer {
  readonly queue: JobQueue;
  private readonly server: http.Server;
  private readonly tokenDigest: Buffer;
  private readonly log: JobLogFn;
  private readonly maxWaitSeconds: number;
  private readonly maxBodyBytes: number;
  private readonly statsTimeoutMs: number;
  private readonly statsCacheMs: number;
  private readonly busyRetryAfterSeconds: number;
  private statsInFlight: Promise<NodeCacheStats> | undefined;
  private statsCached: { at: number; jobs: number; stats: NodeCacheStats } | undefined;
  private readonly shutdown = new AbortController();
  private closing: Promise<void> | undefined;
  /** Resolves once the queue has cancelled everything on shutdown (bounded by cancelWaitMs). */
  private queueClosed: Promise<void> | undefined;

  constructor(private readonly opts: RuntimeServerOptions) {
    if (!opts.token) throw new Error('a runtime token is required');
    this.tokenDigest = digest(opts.token);
    this.log = opts.log ?? (() => {});
    this.maxWaitSeconds = opts.maxWaitSeconds ?? 60;
    this.maxBodyBytes = opts.maxBodyBytes ?? MAX_JOB_REQUEST_BYTES;
    this.statsTimeoutMs = opts.statsTimeoutMs ?? 120_000;
    this.statsCacheMs = opts.statsCacheMs ?? 2000;
    this.busyRetryAfterSeconds = opts.busyRetryAfterSeconds ?? 10;
    this.queue = new JobQueue({
      run: (job, exec) => opts.runtime.run(job.type, job.options, job.credentials, exec),
      historyLimit: opts.historyLimit,
      cancelWaitMs: opts.cancelWaitMs,
      maxPending: opts.maxPendingJobs,
      log: this.log,
    });
    const requestTimeout = opts.requestTimeoutMs ?? 30_000;
    const headersTimeout = Math.min(requestTimeout, opts.headersTimeoutMs ?? 15_000);
    this.server = http.createServer(
      {
        requestTimeout,
        headersTimeout,
        // how often Node looks for requests past those timeouts (its default, 30 s, would let a
        // slow client hold a connection far longer than the timeouts say)
        connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeout / 4))),
      },
      (req, res) => this.dispatch(req, res),
    );
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = answerClientError(err, socket);
      this.log('debug', 'malformed request', { code: err.code, status });
    });
    this.server.keepAliveTimeout = 5_000;
    this.server.maxConnections = opts.maxConnections ?? 512;
    // Socket inactivity limit: above the longest long-poll.
    this.server.timeout = (this.maxWaitSeconds + 30) * 1000;
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.opts.host ?? '0.0.0.0', port: this.opts.port ?? 7716 }, () => {
        this.server.off('error', reject);
        const addr = this.server.address() as AddressInfo;
        this.log('info', 'runtime server listening', {
          address: addr.address,
          port: addr.port,
          engine: this.opts.runtime.name,
          maxPendingJobs: this.queue.pendingLimit(),
        });
        resolve(addr);
      });
    });
  }

  address(): AddressInfo | undefined {
    return (this.server.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Graceful shutdown: stop accepting connections, cancel the running job (killing its child,
   * abandoning it after cancelWaitMs) and every queued one, answer pending long-polls with the
   * jobs' final states, then close the remaining connections.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.log('info', 'runtime server shutting down');
      const closed = new Promise<void>((r) => this.server.close(() => r()));
      this.queueClosed = this.queue.close();
      this.shutdown.abort();
      await this.queueClosed;
      this.server.closeIdleConnections();
      const forced = setTimeout(() => this.server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(forced);
      this.log('info', 'runtime server stopped');
    })();
    return this.closing;
  }

  private authorized(req: http.IncomingMessage): boolean {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    // Compare digests: equal length always, so timingSafeEqual never throws and leaks no length.
    return crypto.timingSafeEqual(digest(m ? m[1] : ''), this.tokenDigest) && m !== null;
  }

  private send(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    // (a pipelined response has no socket yet: it is buffered until its turn)
    if (res.socket && (res.socket.destroyed || !res.socket.writable)) return;
    const text = JSON.stringify(body);
    const extra: Record<string, string> = {};
    // an error answered before the body was read: close rather than read the rest of it
    if (status >= 400 && !req.complete) extra.connection = 'close';
    // shutting down: no connection stays open for another request
    if (this.shutdown.signal.aborted) extra.connection = 'close';
    res.writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
      ...extra,
    });
    res.end(text);
  }

  /** One request, whatever happens inside it: answered, logged, never thrown out of here. */
  private dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    // errors of the streams themselves (peer reset, write after close): the request just ends
    req.on('error', () => {});
    res.on('error', () => {});
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    let route = 'other';
    try {
      route = routeOf(parseTarget(req.url).pathname);
    } catch {
      // answered by handle()
    }
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.log(res.statusCode >= 500 ? 'warn' : 'debug', 'request', { method, route, code: res.statusCode, ms: Math.round(ms) });
    });
    this.handle(req, res).catch((err: unknown) => {
      try {
        if (err instanceof HttpError) {
          this.send(req, res, err.status, { error: err.message, ...err.extra }, err.headers);
          return;
        }
        this.log('error', 'request failed', { method, route, error: messageOf(err) });
        if (!res.headersSent) this.send(req, res, 500, { error: 'internal error' });
        if (!res.writableEnded) res.destroy();
      } catch (inner) {
        this.log('error', 'request failed while answering', { method, route, error: messageOf(inner) });
        res.destroy();
      }
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { pathname, query } = parseTarget(req.url);
    const method = req.method ?? 'GET';
    if (pathname === '/healthz') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed', { allow: 'GET, HEAD' });
      // Unauthenticated: says only that the server is up and which engine it runs.
      const ok = !this.shutdown.signal.aborted;
      this.send(req, res, ok ? 200 : 503, { ok, engine: this.opts.runtime.name });
      return;
    }
    if (!this.authorized(req)) throw new HttpError(401, 'missing or invalid bearer token', { 'www-authenticate': 'Bearer' });
    if (pathname === '/jobs') {
      if (method !== 'POST') throw new HttpError(405, 'method not allowed', { allow: 'POST' });
      this.submit(req, res, await readJson(req, this.maxBodyBytes));
      return;
    }
    const m = /^\/jobs\/([^/]+)$/.exec(pathname);
    if (m) {
      const id = decodeSegment(m[1], 'job id');
      if (!JOB_ID_PATTERN.test(id)) throw new HttpError(400, 'invalid job id');
      if (method === 'GET' || method === 'HEAD') return this.getJob(req, res, id, query.get('waitSeconds'));
      if (method === 'DELETE') {
        const state = await this.queue.cancel(id);
        if (!state) throw new HttpError(404, 'job is not known to this runtime');
        this.send(req, res, 200, state);
        return;
      }
      throw new HttpError(405, 'method not allowed', { allow: 'GET, DELETE' });
    }
    if (pathname === '/terminate') {
      if (method !== 'POST') throw new HttpError(405, 'method not allowed', { allow: 'POST' });
      const cancelled = await this.queue.terminate();
      this.send(req, res, 200, { cancelled });
      return;
    }
    if (pathname === '/cache') {
      if (method !== 'GET') throw new HttpError(405, 'method not allowed', { allow: 'GET' });
      let stats: NodeCacheStats;
      try {
        stats = await this.stats();
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(503, `cache statistics failed: ${messageOf(err)}`);
      }
      this.send(req, res, 200, stats);
      return;
    }
    throw new HttpError(404, 'not found');
  }

  /**
   * POST /jobs: generic validation, then the engine's own (so every option the job would fail on
   * later is refused now with a 400), then the queue: 202 queued, 200 known id (even when the
   * queue is full), 409 same id with other options, 429 queue full, 503 shutting down.
   */
  private submit(req: http.IncomingMessage, res: http.ServerResponse, body: unknown): void {
    let jobReq: RuntimeJobRequest;
    try {
      jobReq = validateJobRequest(body);
    } catch (err) {
      if (err instanceof ValidationError) throw new HttpError(400, messageOf(err));
      throw err;
    }
    try {
      this.opts.runtime.validate?.(jobReq.type, jobReq.options);
    } catch (err) {
      // engine messages name options; scrub the request's credentials all the same
      throw new HttpError(400, secretScrubber(Object.values(jobReq.credentials ?? {}))(messageOf(err)));
    }
    try {
      const { state, created } = this.queue.submit(jobReq);
      this.send(req, res, created ? 202 : 200, state);
    } catch (err) {
      if (err instanceof JobConflictError) throw new HttpError(409, err.message);
      if (err instanceof QueueClosedError) throw new HttpError(503, err.message);
      if (err instanceof QueueFullError) {
        throw new HttpError(
          429,
          err.message,
          { 'retry-after': String(this.busyRetryAfterSeconds) },
          { pending: this.queue.queued().length, limit: err.limit },
        );
      }
      throw err;
    }
  }

  /**
   * GET /jobs/{id}[?waitSeconds=N]: the job's state, after a long-poll for a change when asked.
   *
   * During shutdown the queue cancels every job, so a state taken when the shutdown began would
   * be stale (`running` for a job about to be cancelled). A long-poll ended by the shutdown, or
   * a request arriving during it, is therefore answered only once the queue has closed (bounded
   * by cancelWaitMs), with the job's final state: `cancelled` with a "runtime shutting down"
   * message, which the operator treats as a lost run and resubmits.
   */
  private async getJob(req: http.IncomingMessage, res: http.ServerResponse, id: string, waitSeconds: string | null): Promise<void> {
    let waitMs = 0;
    if (waitSeconds !== null) {
      const n = /^\d{1,6}(\.\d{1,3})?$/.test(waitSeconds) ? Number(waitSeconds) : NaN;
      if (!Number.isFinite(n)) throw new HttpError(400, 'waitSeconds must be a non-negative number');
      waitMs = Math.min(n, this.maxWaitSeconds) * 1000;
    }
    const gone = new AbortController();
    const onGone = (): void => gone.abort();
    res.on('close', onGone);
    if (this.shutdown.signal.aborted) gone.abort();
    else this.shutdown.signal.addEventListener('abort', onGone, { once: true });
    let state: RuntimeJobState | undefined;
    try {
      state = await this.queue.wait(id, waitMs, gone.signal);
    } finally {
      res.off('close', onGone);
      this.shutdown.signal.removeEventListener('abort', onGone);
    }
    if (state && this.shutdown.signal.aborted && this.queueClosed) {
      await this.queueClosed;
      state = this.queue.get(id) ?? state;
    }
    if (!state) throw new HttpError(404, 'job is not known to this runtime');
    this.send(req, res, 200, state);
  }

  private async stats(): Promise<NodeCacheStats> {
    // Reused briefly, but never across a finished job (the operator refreshes right after one).
    const jobs = this.queue.finishedCount();
    if (this.statsCached && this.statsCached.jobs === jobs && Date.now() - this.statsCached.at < this.statsCacheMs)
      return this.statsCached.stats;
    this.statsInFlight ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const stats = await Promise.race([
          this.opts.runtime.stats(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new HttpError(503, 'cache statistics timed out')), this.statsTimeoutMs);
          }),
        ]);
        this.statsCached = { at: Date.now(), jobs, stats };
        return stats;
      } finally {
        clearTimeout(timer);
        this.statsInFlight = undefined;
      }
    })();
    return this.statsInFlight;
  }
}
