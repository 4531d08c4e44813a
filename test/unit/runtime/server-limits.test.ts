// The runtime server's limits and shutdown answers (issue 12): a full queue answers 429 with
// Retry-After and the client surfaces it as RuntimeBusyError (class 5); the engine's validation
// runs at submission (class 5); /healthz tells nothing about jobs and a long-poll answered during
// shutdown carries the final state (class 9); process guards keep the runtime alive (class 4).
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { parseRuntimeArgs, formatRuntimeArgs } from '../../../src/api/runtime-cli.js';
import { installProcessGuards } from '../../../src/runtime/main.js';
import type { RuntimeJobRequest } from '../../../src/api/runtime-protocol.js';
import { isRuntimeBusy, parseRetryAfter, RuntimeBusyError, RuntimeClient } from '../../../src/operators/shared/runtime-client.js';
import { RuntimeServer } from '../../../src/runtime/server.js';
import { blockUntilReleased, Deferred, FakeRuntime } from './fake-runtime.js';

const TOKEN = 'limits-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rmr = (id: string): RuntimeJobRequest => ({ id, type: 'rmr', options: { paths: [`/${id}`] } });

function rawPost(base: string, path: string, body: unknown): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, base),
      {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (t += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(t) as unknown }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('runtime server limits', () => {
  let fake: FakeRuntime;
  let server: RuntimeServer;
  let base: string;
  const client = new RuntimeClient({ retries: 2, retryBaseMs: 5 });

  async function start(opts: Partial<ConstructorParameters<typeof RuntimeServer>[0]> = {}): Promise<void> {
    server = new RuntimeServer({ runtime: fake, token: TOKEN, host: '127.0.0.1', port: 0, maxWaitSeconds: 5, cancelWaitMs: 300, ...opts });
    base = `http://127.0.0.1:${(await server.listen()).port}`;
  }

  beforeEach(() => {
    fake = new FakeRuntime();
  });

  afterEach(async () => {
    await server?.close();
  });

  it('answers 429 with Retry-After when the pending queue is full; a known id still answers 200', async () => {
    fake.impl = blockUntilReleased(new Deferred());
    await start({ maxPendingJobs: 2, busyRetryAfterSeconds: 7 });
    expect((await rawPost(base, '/jobs', rmr('a'))).status).to.equal(202);
    await sleep(20); // a runs
    expect((await rawPost(base, '/jobs', rmr('b'))).status).to.equal(202);
    expect((await rawPost(base, '/jobs', rmr('c'))).status).to.equal(202);
    const full = await rawPost(base, '/jobs', rmr('d'));
    expect(full.status).to.equal(429);
    expect(full.headers['retry-after']).to.equal('7');
    expect(full.body).to.deep.include({ pending: 2, limit: 2 });
    expect((full.body as { error?: string }).error).to.match(/queue is full \(2 pending jobs\)/);
    // idempotent resubmission of a queued or running job is not refused
    expect((await rawPost(base, '/jobs', rmr('c'))).status).to.equal(200);
    expect((await rawPost(base, '/jobs', rmr('a'))).status).to.equal(200);
  });

  it('the client surfaces 429 as RuntimeBusyError at once (no retries inside the client)', async () => {
    fake.impl = blockUntilReleased(new Deferred());
    await start({ maxPendingJobs: 1, busyRetryAfterSeconds: 3 });
    const calls: number[] = [];
    const c = new RuntimeClient({ retries: 3, retryBaseMs: 5, onRequest: (_m, _r, code) => calls.push(code) });
    await c.submit(base, TOKEN, rmr('a'));
    await sleep(20);
    await c.submit(base, TOKEN, rmr('b'));
    calls.length = 0;
    try {
      await c.submit(base, TOKEN, rmr('c'));
      expect.fail('should be refused');
    } catch (err) {
      expect(err).to.be.instanceOf(RuntimeBusyError);
      const e = err as RuntimeBusyError;
      expect(e.status).to.equal(429);
      expect(e.retriable).to.equal(false);
      expect(e.retryAfterMs).to.equal(3000);
      expect(e.queueLimit).to.equal(1);
      expect(isRuntimeBusy(e)).to.equal(true);
    }
    expect(calls).to.deep.equal([429]);
  });

  it('parses Retry-After (seconds or a date)', () => {
    expect(parseRetryAfter('12')).to.equal(12_000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString(), Date.now())).to.be.within(3000, 5000);
    expect(parseRetryAfter('soon')).to.equal(undefined);
    expect(parseRetryAfter(undefined)).to.equal(undefined);
    expect(isRuntimeBusy({ status: 429, message: 'x' })).to.equal(true);
    expect(isRuntimeBusy(new Error('x'))).to.equal(false);
  });

  it("runs the engine's validate at submission: a throw is a 400 with its message (credentials scrubbed), nothing is queued", async () => {
    fake.validateImpl = (type, options) => {
      if (type === 'sync') throw new Error(`unsupported sync option for ${(options as { source: string }).source} with sup3r-s3cret`);
    };
    await start();
    const r = await rawPost(base, '/jobs', {
      id: 's1',
      type: 'sync',
      options: { source: 's3://bucket/x' },
      credentials: { 'secret-key': 'sup3r-s3cret' },
    });
    expect(r.status).to.equal(400);
    expect((r.body as { error?: string }).error).to.match(/unsupported sync option for s3:\/\/bucket\/x/);
    expect(JSON.stringify(r.body)).to.not.include('sup3r-s3cret');
    expect(server.queue.get('s1')).to.equal(undefined);
    expect((await rawPost(base, '/jobs', rmr('ok'))).status).to.equal(202);
  });

  it('/healthz says only ok and engine, never which job runs', async () => {
    fake.impl = blockUntilReleased(new Deferred());
    await start();
    await client.submit(base, TOKEN, rmr('secret-job-id'));
    await sleep(20);
    const body = await new Promise<string>((resolve) => {
      http.get(`${base}/healthz`, { agent: false }, (res) => {
        let t = '';
        res.on('data', (d: Buffer) => (t += d.toString()));
        res.on('end', () => resolve(t));
      });
    });
    expect(JSON.parse(body)).to.deep.equal({ ok: true, engine: 'fake' });
  });

  it('a long-poll answered during shutdown carries the final state (cancelled, runtime shutting down), not a stale running', async () => {
    fake.impl = blockUntilReleased(new Deferred());
    await start();
    await client.submit(base, TOKEN, rmr('a'));
    await client.submit(base, TOKEN, rmr('b'));
    await sleep(20);
    const pollA = client.get(base, TOKEN, 'a', 5);
    const pollB = client.get(base, TOKEN, 'b', 5);
    await sleep(50);
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).to.be.below(2000);
    const [a, b] = await Promise.all([pollA, pollB]);
    expect(a?.status).to.equal('cancelled');
    expect(a?.message).to.match(/runtime shutting down/);
    expect(b?.status).to.equal('cancelled');
  });

  it('during shutdown a runner that ignores cancel is abandoned and the long-poll still ends with its final state', async () => {
    fake.impl = () => new Promise(() => {}); // never settles, ignores abort
    await start({ cancelWaitMs: 200 });
    await client.submit(base, TOKEN, rmr('stuck'));
    await sleep(20);
    const poll = client.get(base, TOKEN, 'stuck', 5);
    await sleep(50);
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).to.be.below(2000);
    const s = await poll;
    expect(s?.status).to.equal('cancelled');
    expect(s?.message).to.match(/abandoned/);
  });

  it('has a CLI flag for the queue bound', () => {
    expect(parseRuntimeArgs(['--data-dir', '/data', '--max-pending-jobs', '25']).maxPendingJobs).to.equal(25);
    expect(parseRuntimeArgs(['--data-dir', '/data']).maxPendingJobs).to.equal(undefined);
    expect(() => parseRuntimeArgs(['--data-dir', '/data', '--max-pending-jobs', '0'])).to.throw(/positive integer/);
    expect(() => parseRuntimeArgs(['--data-dir', '/data', '--max-pending-jobs', 'x'])).to.throw(/positive integer/);
    const args = formatRuntimeArgs({ engine: 'juicefs', dataDir: '/data', maxPendingJobs: 40 });
    expect(parseRuntimeArgs(args).maxPendingJobs).to.equal(40);
  });
});

describe('paddle-runtime process guards', () => {
  it('log uncaught exceptions and unhandled rejections instead of exiting, without the error object', () => {
    const proc = new EventEmitter();
    const logs: unknown[][] = [];
    const uninstall = installProcessGuards((...a) => logs.push(a), proc);
    proc.emit('uncaughtException', new TypeError("Cannot read properties of null (reading 'destroy')"));
    proc.emit('unhandledRejection', new Error('late failure'));
    expect(logs).to.deep.equal([
      ['error', 'uncaught exception (kept running)', { error: "TypeError: Cannot read properties of null (reading 'destroy')" }],
      ['error', 'unhandled promise rejection (kept running)', { error: 'Error: late failure' }],
    ]);
    uninstall();
    expect(proc.listenerCount('uncaughtException')).to.equal(0);
    expect(proc.listenerCount('unhandledRejection')).to.equal(0);
  });
});
