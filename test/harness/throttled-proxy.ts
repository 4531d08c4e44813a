// A remote bucket, simulated: an HTTP proxy in front of a local S3 endpoint that adds what distance
// and a shared link add to object storage. Every request waits a latency (drawn uniformly from
// [minMs, maxMs] by a seeded generator, so runs are reproducible) before it is forwarded — the time
// to first byte of a far-away store; every body byte, down and up, passes a token bucket shared by
// all connections — the aggregate bandwidth of the link (each direction has its own bucket, as a
// full-duplex link has). Requests are forwarded unchanged (Host included, so S3 signatures still
// match); nothing is buffered beyond one piece of a chunk.
import http from 'node:http';
import type net from 'node:net';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { freePorts, sleep } from './util.js';

export interface ThrottleLimits {
  /** Added before each request is forwarded, drawn uniformly from [min, max] ms. */
  latencyMs: { min: number; max: number };
  /** Aggregate body bandwidth in each direction, bytes per second. */
  bytesPerSecond: number;
}

export interface ThrottledProxyOptions extends ThrottleLimits {
  /** `host:port` of the endpoint behind the proxy. */
  upstream: string;
  /** Address to listen on (default 127.0.0.1). */
  listenHost?: string;
  /** Seed of the latency draws (default 1). */
  seed?: number;
}

export interface ProxyCounters {
  requests: number;
  bytesDown: number;
  bytesUp: number;
}

export interface ThrottledProxy {
  /** `http://host:port` */
  endpoint: string;
  hostPort: string;
  limits: ThrottleLimits;
  /** Requests and body bytes since start (or since the last reset). */
  counters(): ProxyCounters;
  resetCounters(): void;
  /** "30–40 ms to first byte, 80 MB/s aggregate each way": the limits in words. */
  describe(): string;
  stop(): Promise<void>;
}

/** Largest piece a token is taken for at once (keeps pacing smooth under many streams). */
const PIECE = 64 * 1024;

/**
 * A token bucket shared by every stream that draws from it: `take(n)` resolves once n bytes may
 * pass; waiters are served in arrival order.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private readonly waiting: { n: number; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly bytesPerSecond: number,
    readonly burst = Math.max(PIECE, Math.round(bytesPerSecond / 50)),
  ) {
    if (!(bytesPerSecond > 0)) throw new Error('bytesPerSecond must be positive');
    this.tokens = this.burst;
  }

  take(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push({ n: Math.min(n, this.burst), resolve });
      this.serve();
    });
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }

  private serve(): void {
    if (this.timer) return;
    this.refill();
    while (this.waiting.length && this.tokens >= this.waiting[0].n) {
      const w = this.waiting.shift()!;
      this.tokens -= w.n;
      w.resolve();
    }
    if (this.waiting.length) {
      const ms = Math.max(1, ((this.waiting[0].n - this.tokens) / this.bytesPerSecond) * 1000);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.serve();
      }, ms);
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiting.splice(0)) w.resolve();
  }
}

/** A stream that lets bytes through only as fast as `bucket` allows, counting them. */
function paced(bucket: TokenBucket, count: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      void (async () => {
        for (let o = 0; o < chunk.length; o += PIECE) {
          const piece = chunk.subarray(o, o + PIECE);
          await bucket.take(piece.length);
          count(piece.length);
          this.push(piece);
        }
        done();
      })();
    },
  });
}

/** Uniform draws in [0, 1) from a seeded 32-bit xorshift generator (the same sequence for a seed). */
export function seededUniform(seed: number): () => number {
  let x = seed >>> 0 || 0x2545f491;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

export function describeLimits(l: ThrottleLimits): string {
  const lat = l.latencyMs.min === l.latencyMs.max ? `${l.latencyMs.min} ms` : `${l.latencyMs.min}–${l.latencyMs.max} ms`;
  return `${lat} added to each request, ${(l.bytesPerSecond / 1e6).toFixed(0)} MB/s aggregate each way`;
}

export async function startThrottledProxy(opts: ThrottledProxyOptions): Promise<ThrottledProxy> {
  const limits: ThrottleLimits = { latencyMs: { ...opts.latencyMs }, bytesPerSecond: opts.bytesPerSecond };
  if (limits.latencyMs.min < 0 || limits.latencyMs.max < limits.latencyMs.min) throw new Error('latencyMs needs 0 <= min <= max');
  const [upHost, upPort] = [opts.upstream.slice(0, opts.upstream.lastIndexOf(':')), Number(opts.upstream.split(':').pop())];
  const down = new TokenBucket(limits.bytesPerSecond);
  const up = new TokenBucket(limits.bytesPerSecond);
  const draw = seededUniform(opts.seed ?? 1);
  const counters: ProxyCounters = { requests: 0, bytesDown: 0, bytesUp: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const sockets = new Set<net.Socket>();

  const server = http.createServer((req, res) => {
    counters.requests++;
    const latency = limits.latencyMs.min + draw() * (limits.latencyMs.max - limits.latencyMs.min);
    void sleep(latency).then(() => {
      const outbound = http.request(
        { host: upHost, port: upPort, method: req.method, path: req.url, headers: req.headers, agent },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, upstreamRes.headers);
          pipeline(
            upstreamRes,
            paced(down, (n) => (counters.bytesDown += n)),
            res,
            () => undefined,
          );
        },
      );
      outbound.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      pipeline(
        req,
        paced(up, (n) => (counters.bytesUp += n)),
        outbound,
        () => undefined,
      );
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const host = opts.listenHost ?? '127.0.0.1';
  const [port] = await freePorts(1, host);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  return {
    endpoint: `http://${host}:${port}`,
    hostPort: `${host}:${port}`,
    limits,
    counters: () => ({ ...counters }),
    resetCounters: () => Object.assign(counters, { requests: 0, bytesDown: 0, bytesUp: 0 }),
    describe: () => describeLimits(limits),
    async stop(): Promise<void> {
      down.stop();
      up.stop();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
