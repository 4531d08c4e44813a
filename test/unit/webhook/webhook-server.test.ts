import { expect } from 'chai';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import tls, { type TLSSocket } from 'node:tls';
import winston from 'winston';
import { createLogger } from '../../../src/observability/logger.js';
import { DirectoryCertificateSource } from '../../../src/webhook/directory-certificate-source.js';
import { reviewPod, type AdmissionReview } from '../../../src/webhook/pod-review.js';
import { WebhookServer } from '../../../src/webhook/webhook-server.js';
import { issueServingCertificate } from '../../harness/pki.js';
import { pod } from './fixtures.js';

interface Reply {
  status: number;
  body: string;
  serial: string;
}

describe('webhook: the HTTPS server', function () {
  this.timeout(20_000);
  let dir: string;
  let ca: string;
  let source: DirectoryCertificateSource;
  let server: WebhookServer;
  let port: number;
  const observed: string[] = [];
  /** The server's debug log lines, parsed. */
  const logged: Array<Record<string, unknown>> = [];

  function post(pathName: string, body: string, opts: { method?: string; agent?: https.Agent } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: pathName,
          method: opts.method ?? 'POST',
          ca,
          agent: opts.agent ?? false,
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), serial }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
  const reviewBody = (uid = 'u-1'): string =>
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'ns', object: pod(['imagenet']) },
    });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-webhook-server-'));
    ca = (await issueServingCertificate(dir, ['IP:127.0.0.1'])).caCert;
    source = new DirectoryCertificateSource(dir, { pollIntervalMs: 60_000, settleMs: 20 });
    source.start();
    const logger = createLogger({ level: 'debug', format: 'json' }).clear();
    const lines = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    logger.add(new winston.transports.Stream({ stream: lines }));
    server = new WebhookServer({
      certificates: source,
      logger,
      review: (body) => reviewPod(body, { synced: () => false, claimed: () => [] }),
      observe: (seconds, outcome) => observed.push(`${outcome} ${seconds < 1}`),
      maxBodyBytes: 64 * 1024,
    });
    port = await server.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server?.close();
    source?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers POST /mutate-pods with the AdmissionReview response, over TLS the CA verifies, and times it', async () => {
    observed.length = 0;
    const r = await post('/mutate-pods?timeout=5s', reviewBody());
    expect(r.status).to.equal(200);
    const review = JSON.parse(r.body) as AdmissionReview;
    expect(review).to.deep.include({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    expect(review.response).to.include({ uid: 'u-1', allowed: true });
    expect(observed).to.deep.equal(['unsynced true']);
  });

  it('refuses other paths and methods, bodies that are no review, and oversized bodies — with 4xx, never a crash', async () => {
    observed.length = 0;
    expect((await post('/validate', reviewBody())).status).to.equal(404);
    expect((await post('/mutate-pods', '', { method: 'GET' })).status).to.equal(405);
    expect((await post('/mutate-pods', '{"kind":')).status).to.equal(400);
    expect((await post('/mutate-pods', '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}')).status).to.equal(400);
    expect((await post('/mutate-pods', JSON.stringify({ pad: 'x'.repeat(100_000) }))).status).to.equal(413);
    expect(observed).to.deep.equal(Array(5).fill('rejected true'));
    expect((await post('/mutate-pods', reviewBody())).status, 'still serving').to.equal(200);
  });

  it('a rotated certificate serves new connections at once, while a kept-alive connection goes on; no request fails; each connection is logged with its certificate', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    logged.length = 0;
    try {
      const before = await post('/mutate-pods', reviewBody('a'), { agent });
      const old = new https.Agent({ keepAlive: false });
      await issueServingCertificate(dir, ['IP:127.0.0.1']);
      const deadline = Date.now() + 5000;
      let fresh = await post('/mutate-pods', reviewBody('b'), { agent: old });
      while (fresh.serial === before.serial && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        fresh = await post('/mutate-pods', reviewBody('b'), { agent: old });
      }
      expect(fresh.status).to.equal(200);
      expect(fresh.serial, 'a new connection gets the new certificate').to.not.equal(before.serial);
      const kept = await post('/mutate-pods', reviewBody('c'), { agent });
      expect(kept.status).to.equal(200);
      expect(kept.serial, 'the kept-alive connection still runs on the handshake it made').to.equal(before.serial);
      const connections = logged.filter((l) => l.msg === 'webhook TLS connection');
      expect(connections.map((l) => l.serial)).to.include.members([before.serial, fresh.serial]);
      for (const l of connections) expect(l).to.include({ level: 'debug', issuer: 'paddle-operator-test-serving-ca' });
    } finally {
      agent.destroy();
    }
  });
});

describe('webhook: the HTTPS server before its first certificate', function () {
  this.timeout(20_000);

  it('listens at once, fails handshakes (the apiserver then applies failurePolicy) and serves once a pair appears', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-webhook-nocert-'));
    const source = new DirectoryCertificateSource(dir, { pollIntervalMs: 60_000, settleMs: 20 });
    source.start();
    const server = new WebhookServer({
      certificates: source,
      logger: createLogger({ silent: true }),
      review: (body) => reviewPod(body, { synced: () => true, claimed: () => [] }),
    });
    try {
      const port = await server.listen({ host: '127.0.0.1', port: 0 });
      const call = (ca?: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port, path: '/mutate-pods', method: 'POST', ca, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          });
          req.on('error', reject);
          req.end('{}');
        });
      let failure = '';
      await call().catch((e: unknown) => (failure = (e as Error).message));
      expect(failure).to.match(/handshake|alert|EPROTO/i);
      const { caCert } = await issueServingCertificate(dir, ['IP:127.0.0.1']);
      const deadline = Date.now() + 5000;
      while (!source.current() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await call(caCert)).to.equal(400);
    } finally {
      await server.close();
      source.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('webhook: closing the HTTPS server', function () {
  this.timeout(20_000);

  it('closes within its grace although a client keeps a connection it never sent a request on', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-webhook-close-'));
    const { caCert } = await issueServingCertificate(dir, ['IP:127.0.0.1']);
    const source = new DirectoryCertificateSource(dir, { pollIntervalMs: 60_000 });
    source.start();
    const server = new WebhookServer({ certificates: source, logger: createLogger({ silent: true }), review: () => ({}) as never });
    const port = await server.listen({ host: '127.0.0.1', port: 0 });
    const socket = tls.connect({ host: '127.0.0.1', port, ca: caCert });
    try {
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      const t0 = Date.now();
      await server.close(300);
      expect(Date.now() - t0).to.be.below(2000);
    } finally {
      socket.destroy();
      source.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
