/**
 * The HTTPS server the apiserver calls: `POST /mutate-pods` with an AdmissionReview, answered by
 * the pure review function. Its certificate comes from a CertificateSource; a new pair replaces
 * the secure context of the running server (new handshakes use it, connections in flight finish
 * on the old one), so rotation needs no restart and fails no admission. Until a first pair is
 * there, handshakes fail and the apiserver applies the webhook's failurePolicy (Ignore).
 */
import type http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../observability/logger.js';
import type { CertificateSource } from './certificate-source.js';
import { MUTATE_PODS_PATH } from './constants.js';
import { MalformedReview, type PodReview, type ReviewOutcome } from './pod-review.js';

/** Far above any Pod the apiserver stores (etcd's limit is 1.5 MiB), far below trouble. */
export const MAX_REVIEW_BYTES = 4 * 1024 * 1024;

export interface WebhookServerOptions {
  certificates: CertificateSource;
  /** Answers one parsed AdmissionReview body (throws MalformedReview for anything else). */
  review: (body: unknown) => PodReview;
  logger: Logger;
  /** Called once per request with the time spent inside the webhook, from its arrival to the answer written. */
  observe?: (seconds: number, outcome: ReviewOutcome | 'rejected') => void;
  maxBodyBytes?: number;
}

export class WebhookServer {
  private server?: https.Server;

  constructor(private readonly opts: WebhookServerOptions) {}

  /** Listens on `addr`; returns the bound port (useful with port 0). */
  async listen(addr: { host: string; port: number }): Promise<number> {
    const pair = this.opts.certificates.current();
    const server = https.createServer({ minVersion: 'TLSv1.2', ...(pair ?? {}) }, (req, res) => this.handle(req, res));
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    // the apiserver keeps its connections to a webhook open; do not make it handshake again every few seconds
    server.keepAliveTimeout = 60_000;
    this.opts.certificates.onChange((next) => {
      server.setSecureContext({ minVersion: 'TLSv1.2', ...next });
      this.opts.logger.info('webhook serving certificate replaced');
    });
    // the apiserver keeps its connections, so there are few of these: which certificate each one got
    server.on('secureConnection', (socket: TLSSocket) => {
      const served = socket.getCertificate();
      if (served && 'serialNumber' in served)
        this.opts.logger.debug('webhook TLS connection', { serial: served.serialNumber, issuer: served.issuer.CN });
    });
    if (!pair) this.opts.logger.warn('webhook has no serving certificate yet: TLS handshakes fail until one is available');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.opts.logger.warn('webhook server error', { error: e.message }));
    this.server = server;
    return (server.address() as { port: number }).port;
  }

  /**
   * Stops listening and closes idle connections at once; connections still busy get `graceMs`
   * (reviews take milliseconds) and are then closed too — as are connections a client opened but
   * never sent a request on, which would otherwise keep the server open.
   */
  async close(graceMs = 1000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const started = process.hrtime.bigint();
    const done = (code: number, body: string, outcome: ReviewOutcome | 'rejected'): void => {
      res.writeHead(code, { 'Content-Type': code === 200 ? 'application/json' : 'text/plain; charset=utf-8' }).end(body);
      this.opts.observe?.(Number(process.hrtime.bigint() - started) / 1e9, outcome);
    };
    if ((req.url ?? '').split('?')[0] !== MUTATE_PODS_PATH) return done(404, 'not found\n', 'rejected');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return done(405, 'only POST\n', 'rejected');
    }
    const limit = this.opts.maxBodyBytes ?? MAX_REVIEW_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > limit) return done(413, `an AdmissionReview may have at most ${limit} bytes\n`, 'rejected');
      let answer: PodReview;
      try {
        answer = this.opts.review(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        const why = e instanceof MalformedReview || e instanceof SyntaxError ? e.message : 'cannot review';
        return done(400, `${why}\n`, 'rejected');
      }
      done(200, JSON.stringify(answer.review), answer.outcome);
    });
  }
}
