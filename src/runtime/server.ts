/**
 * The paddle-runtime HTTP server (SPEC §6, routes in protocol.ts): bearer-token auth compared in
 * constant time, validated JSON bodies with a size limit, request timeouts, capped long-poll, and a
 * graceful shutdown that cancels the running job. Credentials never reach a log line or response.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CacheRuntime } from '../engines/cache-engine.js';
import { JobConflictError, JobQueue, QueueClosedError, type JobLogFn } from './job-queue.js';
import type { NodeCacheStats } from './protocol.js';
import { validateJobRequest, ValidationError, JOB_ID_PATTERN } from './validation.js';

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
  /** Longest GET /cache computation before it answers 503 (default 120 s). */
  statsTimeoutMs?: number;
  /** Cache statistics are reused for this long (default 2 s). */
  statsCacheMs?: number;
  /** Finished jobs kept (default 200). */
  historyLimit?: number;
  /** How long a cancel waits for the running job to stop (default 5 s). */
  cancelWaitMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s, 'utf8').digest();
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
  private statsInFlight: Promise<NodeCacheStats> | undefined;
  private statsCached: { at: number; jobs: number; stats: NodeCacheStats } | undefined;
  private readonly shutdown = new AbortController();
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: RuntimeServerOptions) {
    if (!opts.token) throw new Error('a runtime token is required');
    this.tokenDigest = digest(opts.token);
    this.log = opts.log ?? (() => {});
    this.maxWaitSeconds = opts.maxWaitSeconds ?? 60;
    this.maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
    this.statsTimeoutMs = opts.statsTimeoutMs ?? 120_000;
    this.statsCacheMs = opts.statsCacheMs ?? 2000;
    this.queue = new JobQueue({
      run: (job, exec) => opts.runtime.run(job.type, job.options, job.credentials, exec),
      historyLimit: opts.historyLimit,
      cancelWaitMs: opts.cancelWaitMs,
      log: this.log,
    });
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log('error', 'request failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) this.send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    this.server.requestTimeout = opts.requestTimeoutMs ?? 30_000;
    this.server.headersTimeout = opts.headersTimeoutMs ?? 15_000;
    this.server.keepAliveTimeout = 5_000;
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
        this.log('info', 'runtime server listening', { address: addr.address, port: addr.port, engine: this.opts.runtime.name });
        resolve(addr);
      });
    });
  }

  address(): AddressInfo | undefined {
    return (this.server.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Graceful shutdown: stop accepting connections, end pending long-polls, cancel the running job
   * (killing its child) and every queued one, then close the remaining connections.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.log('info', 'runtime server shutting down');
      const closed = new Promise<void>((r) => this.server.close(() => r()));
      this.shutdown.abort();
      await this.queue.close();
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

  private send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > this.maxBodyBytes) throw new HttpError(413, `body larger than ${this.maxBodyBytes} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.maxBodyBytes) throw new HttpError(413, `body larger than ${this.maxBodyBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.trim()) throw new HttpError(400, 'empty body');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpError(400, 'body is not valid JSON');
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://runtime');
    const method = req.method ?? 'GET';
    let route = url.pathname;
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.log(res.statusCode >= 500 ? 'warn' : 'debug', 'request', { method, route, code: res.statusCode, ms: Math.round(ms) });
    });
    try {
      if (url.pathname === '/healthz') {
        if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');
        this.send(res, 200, { ok: true, engine: this.opts.runtime.name, running: this.queue.running() ?? null });
        return;
      }
      if (!this.authorized(req)) {
        // Drain nothing: answer and close.
        this.send(res, 401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
        return;
      }
      if (url.pathname === '/jobs') {
        if (method !== 'POST') throw new HttpError(405, 'method not allowed');
        const body = await this.readJson(req);
        let jobReq;
        try {
          jobReq = validateJobRequest(body);
        } catch (err) {
          if (err instanceof ValidationError) throw new HttpError(400, err.message);
          throw err;
        }
        try {
          const { state, created } = this.queue.submit(jobReq);
          this.send(res, created ? 202 : 200, state);
        } catch (err) {
          if (err instanceof JobConflictError) throw new HttpError(409, err.message);
          if (err instanceof QueueClosedError) throw new HttpError(503, err.message);
          throw err;
        }
        return;
      }
      const m = /^\/jobs\/([^/]+)$/.exec(url.pathname);
      if (m) {
        route = '/jobs/:id';
        const id = decodeURIComponent(m[1]);
        if (!JOB_ID_PATTERN.test(id)) throw new HttpError(400, 'invalid job id');
        if (method === 'GET') {
          const ws = url.searchParams.get('waitSeconds');
          let waitMs = 0;
          if (ws !== null) {
            const n = Number(ws);
            if (!Number.isFinite(n) || n < 0) throw new HttpError(400, 'waitSeconds must be a non-negative number');
            waitMs = Math.min(n, this.maxWaitSeconds) * 1000;
          }
          const gone = new AbortController();
          const onClose = (): void => gone.abort();
          res.on('close', onClose);
          const onShutdown = (): void => gone.abort();
          this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
          try {
            const state = await this.queue.wait(id, waitMs, gone.signal);
            if (!state) throw new HttpError(404, `job ${id} is not known to this runtime`);
            if (!res.destroyed) this.send(res, 200, state);
          } finally {
            res.off('close', onClose);
            this.shutdown.signal.removeEventListener('abort', onShutdown);
          }
          return;
        }
        if (method === 'DELETE') {
          const state = await this.queue.cancel(id);
          if (!state) throw new HttpError(404, `job ${id} is not known to this runtime`);
          this.send(res, 200, state);
          return;
        }
        throw new HttpError(405, 'method not allowed');
      }
      if (url.pathname === '/terminate') {
        if (method !== 'POST') throw new HttpError(405, 'method not allowed');
        const cancelled = await this.queue.terminate();
        this.send(res, 200, { cancelled });
        return;
      }
      if (url.pathname === '/cache') {
        if (method !== 'GET') throw new HttpError(405, 'method not allowed');
        let stats: NodeCacheStats;
        try {
          stats = await this.stats();
        } catch (err) {
          if (err instanceof HttpError) throw err;
          throw new HttpError(503, `cache statistics failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        this.send(res, 200, stats);
        return;
      }
      route = 'other';
      throw new HttpError(404, 'not found');
    } catch (err) {
      if (err instanceof HttpError) {
        if (!res.headersSent && !res.destroyed) {
          this.send(res, err.status, { error: err.message });
          // The rest of an oversized body is not read: close the connection after answering.
          if (err.status === 413) res.once('finish', () => req.socket.destroy());
        }
        return;
      }
      throw err;
    }
  }

  private async stats(): Promise<NodeCacheStats> {
    // Reused briefly, but never across a finished job (the operator refreshes right after one).
    const jobs = this.queue.finishedCount();
    if (this.statsCached && this.statsCached.jobs === jobs && Date.now() - this.statsCached.at < this.statsCacheMs) return this.statsCached.stats;
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
