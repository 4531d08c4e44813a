/**
 * The operator's client for paddle-runtime: `http://<podIP>:7716` with the SampleSet's
 * bearer token. Every call has a timeout (long-polls: the wait plus a margin); connection errors
 * and 502/503/504 are retried a bounded number of times with exponential backoff — every call is
 * safe to repeat (POST /jobs is idempotent on the job id). A 429 (the runtime's queue is full) is
 * not retried here: it surfaces as RuntimeBusyError. An `onRequest` hook feeds metrics.
 *
 * Bind it in the container with a factory, e.g.
 *   container.bind(RuntimeClient).toDynamicValue(() => new RuntimeClient({ onRequest: ... }))
 */
import http from 'node:http';
import type { NodeCacheStats, RuntimeJobRequest, RuntimeJobState } from '../../api/runtime-protocol.js';
import type { RuntimeCalls } from './runtime-calls.js';

export interface RuntimeClientOptions {
  /** Timeout of one ordinary request (default 10 s). */
  timeoutMs?: number;
  /** Timeout of GET /cache, which walks the cache (default 60 s). */
  statsTimeoutMs?: number;
  /** Added to waitSeconds for a long-poll's timeout (default 5 s). */
  longPollMarginMs?: number;
  /** Retries after the first attempt on connection errors and 502/503/504 (default 3). */
  retries?: number;
  /** First backoff delay, doubled each retry (default 200 ms, capped at 5 s). */
  retryBaseMs?: number;
  /** Called once per HTTP attempt: method, route template, status code (0 = no response), seconds. */
  onRequest?: (method: string, route: string, code: number, seconds: number) => void;
  /** Keep-alive agent (default: a shared one with keepAlive). */
  agent?: http.Agent;
}

/** A failed runtime call: `status` is the HTTP status (undefined when no response came back). */
export class RuntimeClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RuntimeClientError';
  }

  /** Worth retrying later (connection problem, timeout, server busy or shutting down). */
  get retriable(): boolean {
    return this.status === undefined || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/**
 * 429: the runtime's job queue is full. Never retried inside the client: the caller decides when
 * to submit again (not before `retryAfterMs`), and must not count it as a failed attempt.
 */
export class RuntimeBusyError extends RuntimeClientError {
  constructor(
    message: string,
    /** From Retry-After (undefined when absent or unreadable). */
    readonly retryAfterMs: number | undefined,
    /** The bound of the runtime's pending queue, when it said so. */
    readonly queueLimit: number | undefined,
  ) {
    super(message, 429);
    this.name = 'RuntimeBusyError';
  }
}

/** True for a RuntimeBusyError, or anything else carrying HTTP status 429 (fakes in tests). */
export function isRuntimeBusy(err: unknown): err is { message: string; status: 429; retryAfterMs?: number; queueLimit?: number } {
  return err instanceof RuntimeBusyError || (typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 429);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when unreadable. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d{1,9}$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

interface CallOptions {
  method: string;
  route: string;
  path: string;
  token?: string;
  body?: unknown;
  timeoutMs: number;
  /** Statuses returned to the caller instead of thrown. */
  accept: number[];
}

const defaultAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export class RuntimeClient implements RuntimeCalls {
  private readonly timeoutMs: number;
  private readonly statsTimeoutMs: number;
  private readonly longPollMarginMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly agent: http.Agent;

  constructor(private readonly opts: RuntimeClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.statsTimeoutMs = opts.statsTimeoutMs ?? 60_000;
    this.longPollMarginMs = opts.longPollMarginMs ?? 5_000;
    this.retries = opts.retries ?? 3;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.agent = opts.agent ?? defaultAgent;
  }

  /** `http://<podIP>:<port>` (IPv6 addresses bracketed). */
  static baseUrl(podIP: string, port = 7716): string {
    return podIP.includes(':') ? `http://[${podIP}]:${port}` : `http://${podIP}:${port}`;
  }

  /** POST /jobs: queues the job (or returns the existing one with the same id). */
  async submit(baseUrl: string, token: string, req: RuntimeJobRequest): Promise<RuntimeJobState> {
    const r = await this.call(baseUrl, {
      method: 'POST',
      route: '/jobs',
      path: '/jobs',
      token,
      body: req,
      timeoutMs: this.timeoutMs,
      accept: [200, 202],
    });
    return r.body as RuntimeJobState;
  }

  /**
   * GET /jobs/{id}, long-polling up to `waitSeconds` for a change. `undefined` when the runtime
   * does not know the job (404: e.g. the pod restarted) — resubmit it.
   */
  async get(baseUrl: string, token: string, id: string, waitSeconds = 0): Promise<RuntimeJobState | undefined> {
    const q = waitSeconds > 0 ? `?waitSeconds=${encodeURIComponent(String(waitSeconds))}` : '';
    const r = await this.call(baseUrl, {
      method: 'GET',
      route: '/jobs/:id',
      path: `/jobs/${encodeURIComponent(id)}${q}`,
      token,
      timeoutMs: waitSeconds * 1000 + (waitSeconds > 0 ? this.longPollMarginMs : this.timeoutMs),
      accept: [200, 404],
    });
    return r.status === 404 ? undefined : (r.body as RuntimeJobState);
  }

  /** DELETE /jobs/{id}: cancels the job; `undefined` when it is unknown. */
  async cancel(baseUrl: string, token: string, id: string): Promise<RuntimeJobState | undefined> {
    const r = await this.call(baseUrl, {
      method: 'DELETE',
      route: '/jobs/:id',
      path: `/jobs/${encodeURIComponent(id)}`,
      token,
      timeoutMs: this.timeoutMs,
      accept: [200, 404],
    });
    return r.status === 404 ? undefined : (r.body as RuntimeJobState);
  }

  /** POST /terminate: cancels the running job and every queued one; returns their ids. */
  async terminate(baseUrl: string, token: string): Promise<string[]> {
    const r = await this.call(baseUrl, {
      method: 'POST',
      route: '/terminate',
      path: '/terminate',
      token,
      body: {},
      timeoutMs: this.timeoutMs,
      accept: [200],
    });
    return (r.body as { cancelled?: string[] }).cancelled ?? [];
  }

  /** GET /cache: this node's cache statistics. */
  async cacheStats(baseUrl: string, token: string): Promise<NodeCacheStats> {
    const r = await this.call(baseUrl, {
      method: 'GET',
      route: '/cache',
      path: '/cache',
      token,
      timeoutMs: this.statsTimeoutMs,
      accept: [200],
    });
    return r.body as NodeCacheStats;
  }

  /** GET /healthz (no token): true when the server answers 200. Never throws. */
  async healthz(baseUrl: string): Promise<boolean> {
    try {
      const r = await this.once(baseUrl, {
        method: 'GET',
        route: '/healthz',
        path: '/healthz',
        timeoutMs: Math.min(this.timeoutMs, 5000),
        accept: [200],
      });
      return r.status === 200;
    } catch {
      return false;
    }
  }

  private async call(baseUrl: string, c: CallOptions): Promise<{ status: number; body: unknown }> {
    let attempt = 0;
    for (;;) {
      try {
        return await this.once(baseUrl, c);
      } catch (err) {
        const e = err as RuntimeClientError;
        if (!(e instanceof RuntimeClientError) || !e.retriable || attempt >= this.retries) throw err;
        const backoff = Math.min(5000, this.retryBaseMs * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        attempt++;
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  }

  private once(baseUrl: string, c: CallOptions): Promise<{ status: number; body: unknown }> {
    const started = process.hrtime.bigint();
    const report = (code: number): void => {
      this.opts.onRequest?.(c.method, c.route, code, Number(process.hrtime.bigint() - started) / 1e9);
    };
    const url = new URL(c.path, baseUrl);
    const payload = c.body === undefined ? undefined : Buffer.from(JSON.stringify(c.body), 'utf8');
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (c.token) headers.authorization = `Bearer ${c.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: RuntimeClientError, code: number): void => {
        if (settled) return;
        settled = true;
        report(code);
        reject(err);
      };
      const req = http.request(url, { method: c.method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', (e) => fail(new RuntimeClientError(`${c.method} ${c.route}: ${e.message}`, undefined, 'ERESPONSE'), 0));
        res.on('end', () => {
          if (settled) return;
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          if (c.accept.includes(status)) {
            settled = true;
            report(status);
            resolve({ status, body });
            return;
          }
          const answer = body && typeof body === 'object' ? (body as { error?: unknown; limit?: unknown }) : {};
          const reason = typeof answer.error === 'string' ? answer.error : `HTTP ${status}`;
          const message = `${c.method} ${c.route} → ${status}: ${reason}`;
          const limit = typeof answer.limit === 'number' ? answer.limit : undefined;
          const header = res.headers['retry-after'];
          fail(
            status === 429 ? new RuntimeBusyError(message, parseRetryAfter(header), limit) : new RuntimeClientError(message, status),
            status,
          );
        });
      });
      const timer = setTimeout(() => {
        req.destroy();
        fail(new RuntimeClientError(`${c.method} ${c.route}: timed out after ${c.timeoutMs} ms`, undefined, 'ETIMEDOUT'), 0);
      }, c.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(new RuntimeClientError(`${c.method} ${c.route}: ${e.message}`, undefined, e.code), 0);
      });
      if (payload) req.end(payload);
      else req.end();
    });
  }
}
