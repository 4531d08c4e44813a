import * as http from 'node:http';
import type { Metrics } from './metrics.js';

/**
 * The operator's small HTTP endpoints: `/healthz` (the process is alive), `/readyz` (caches synced
 * and, with leader election, either leading or standing by), `/metrics` (Prometheus text).
 * Health and metrics may share a server or listen on different addresses.
 */
export class HttpEndpoints {
  private readonly servers: http.Server[] = [];

  constructor(
    private readonly metrics: Metrics,
    private readonly isReady: () => boolean,
    private readonly isAlive: () => boolean = () => true,
  ) {}

  handler(kind: { health: boolean; metrics: boolean }): http.RequestListener {
    return (req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (kind.health && url === '/healthz') return reply(res, this.isAlive() ? 200 : 500, this.isAlive() ? 'ok\n' : 'unhealthy\n');
      if (kind.health && url === '/readyz') return reply(res, this.isReady() ? 200 : 503, this.isReady() ? 'ok\n' : 'caches not synced\n');
      if (kind.metrics && url === '/metrics') {
        this.metrics
          .render()
          .then((text) => {
            res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
            res.end(text);
          })
          .catch((e: unknown) => reply(res, 500, `metrics failed: ${(e as Error).message}\n`));
        return;
      }
      reply(res, 404, 'not found\n');
    };
  }

  /** Listens; returns the bound port (useful with port 0). */
  async listen(addr: { host: string; port: number }, kind: { health: boolean; metrics: boolean }): Promise<number> {
    const server = http.createServer(this.handler(kind));
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => resolve());
    });
    this.servers.push(server);
    return (server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
  }
}

function reply(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}
