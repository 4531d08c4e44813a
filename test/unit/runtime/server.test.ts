import { expect } from 'chai';
import http from 'node:http';
import { RuntimeClient, RuntimeClientError } from '../../../src/operators/shared/runtime-client.js';
import { RuntimeServer } from '../../../src/runtime/server.js';
import type { RuntimeJobRequest } from '../../../src/api/runtime-protocol.js';
import { blockUntilReleased, Deferred, FakeRuntime } from './fake-runtime.js';

const TOKEN = 'unit-test-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Raw {
  status: number;
  /** Parsed JSON, or the text when it is not JSON. */
  body: unknown;
  headers: http.IncomingHttpHeaders;
}

function raw(
  base: string,
  method: string,
  path: string,
  opts: { token?: string | null; body?: string; headers?: Record<string, string> } = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? TOKEN}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const req = http.request(new URL(path, base), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep text
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const rmr = (id: string): RuntimeJobRequest => ({ id, type: 'rmr', options: { paths: [`/${id}`] } });

describe('runtime server', () => {
  let fake: FakeRuntime;
  let server: RuntimeServer;
  let base: string;
  const client = new RuntimeClient({ retries: 0 });
  const logs: unknown[][] = [];

  beforeEach(async () => {
    fake = new FakeRuntime();
    logs.length = 0;
    server = new RuntimeServer({
      runtime: fake,
      token: TOKEN,
      host: '127.0.0.1',
      port: 0,
      maxWaitSeconds: 2,
      cancelWaitMs: 1000,
      log: (...a) => logs.push(a),
    });
    const addr = await server.listen();
    base = `http://127.0.0.1:${addr.port}`;
  });

  afterEach(async () => {
    await server.close();
  });

  it('answers /healthz without a token', async () => {
    const r = await raw(base, 'GET', '/healthz', { token: null });
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ ok: true, engine: 'fake' });
    expect(await client.healthz(base)).to.equal(true);
  });

  it('requires the bearer token everywhere else (401)', async () => {
    for (const [method, path] of [
      ['GET', '/cache'],
      ['POST', '/jobs'],
      ['GET', '/jobs/x'],
      ['DELETE', '/jobs/x'],
      ['POST', '/terminate'],
      ['GET', '/nope'],
    ] as const) {
      for (const token of [null, 'wrong-token', `${TOKEN}x`, TOKEN.slice(0, -1), '']) {
        const r = await raw(base, method, path, { token, body: method === 'POST' ? JSON.stringify(rmr('a')) : undefined });
        expect(r.status, `${method} ${path} ${token}`).to.equal(401);
        expect(r.headers['www-authenticate']).to.equal('Bearer');
      }
    }
    expect((await raw(base, 'GET', '/cache', { headers: { authorization: `Basic ${TOKEN}` }, token: null })).status).to.equal(401);
    expect(fake.calls).to.have.length(0);
    try {
      await new RuntimeClient({ retries: 0 }).cacheStats(base, 'bad');
      expect.fail('should throw');
    } catch (err) {
      expect((err as RuntimeClientError).status).to.equal(401);
      expect((err as RuntimeClientError).retriable).to.equal(false);
    }
  });

  it('validates bodies (400 with the reason) and limits their size (413)', async () => {
    const cases: [string, RegExp][] = [
      ['not json', /JSON/],
      ['[]', /object/],
      ['{"id":"a b","type":"rmr","options":{"paths":["x"]}}', /id/],
      ['{"id":"a","type":"copy","options":{}}', /type/],
      ['{"id":"a","type":"rmr","options":{"paths":[]}}', /empty/],
      ['{"id":"a","type":"rmr","options":{"paths":["../etc"]}}', /\.\./],
      ['{"id":"a","type":"rmr","options":{"paths":["/"]}}', /root/],
      ['{"id":"a","type":"warmup","options":{"shard":2,"shards":2}}', /shard/],
      ['{"id":"a","type":"sync","options":{"source":"s3://b","destination":"a/../../b"}}', /\.\./],
      ['{"id":"a","type":"sync","options":{"source":""}}', /source/],
      ['{"id":"a","type":"clear","options":{"paths":["a\\u0000b"]}}', /NUL/],
      ['{"id":"a","type":"rmr","options":{"paths":["x"]},"extra":1}', /unknown field/],
      ['{"id":"a","type":"sync","options":{"source":"s3://b"},"credentials":{"k":5}}', /credentials/],
    ];
    for (const [body, re] of cases) {
      const r = await raw(base, 'POST', '/jobs', { body });
      expect(r.status, body).to.equal(400);
      expect((r.body as { error?: string }).error, body).to.match(re);
    }
    const big = await raw(base, 'POST', '/jobs', {
      body: JSON.stringify({ id: 'a', type: 'rmr', options: { paths: ['x'.repeat(2 * 1024 * 1024)] } }),
    }).catch(() => ({ status: 413 }));
    expect(big.status).to.equal(413);
    expect((await raw(base, 'GET', '/jobs/a', { headers: {} })).status).to.equal(404);
    expect((await raw(base, 'GET', '/jobs/x?waitSeconds=-1')).status).to.equal(400);
    expect((await raw(base, 'PUT', '/jobs')).status).to.equal(405);
    expect(fake.calls).to.have.length(0);
  });

  it('queues jobs (202), is idempotent on id (200, same job) and conflicts on different options (409)', async () => {
    const release = new Deferred();
    fake.impl = blockUntilReleased(release);
    const first = await raw(base, 'POST', '/jobs', { body: JSON.stringify(rmr('a')) });
    expect(first.status).to.equal(202);
    expect(first.body).to.include({ id: 'a', type: 'rmr' });
    const again = await raw(base, 'POST', '/jobs', { body: JSON.stringify(rmr('a')) });
    expect(again.status).to.equal(200);
    const conflict = await raw(base, 'POST', '/jobs', { body: JSON.stringify({ id: 'a', type: 'rmr', options: { paths: ['/other'] } }) });
    expect(conflict.status).to.equal(409);
    release.resolve();
    const done = await client.get(base, TOKEN, 'a', 2);
    const final = done?.status === 'succeeded' ? done : await client.get(base, TOKEN, 'a', 2);
    expect(final?.status).to.equal('succeeded');
    await client.submit(base, TOKEN, rmr('a'));
    await sleep(20);
    expect(fake.calls).to.have.length(1);
  });

  it('runs FIFO, one at a time', async () => {
    const releases = [new Deferred(), new Deferred(), new Deferred()];
    let i = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    fake.impl = async (call) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await blockUntilReleased(releases[i++])(call);
      concurrent--;
    };
    for (const id of ['j1', 'j2', 'j3']) await client.submit(base, TOKEN, rmr(id));
    expect((await client.get(base, TOKEN, 'j2'))?.status).to.equal('pending');
    releases[1].resolve();
    releases[2].resolve();
    await sleep(30);
    expect(fake.calls.map((c) => (c.options as { paths: string[] }).paths[0])).to.deep.equal(['/j1']);
    releases[0].resolve();
    for (const id of ['j1', 'j2', 'j3']) {
      let s = await client.get(base, TOKEN, id, 2);
      if (s?.status !== 'succeeded') s = await client.get(base, TOKEN, id, 2);
      expect(s?.status, id).to.equal('succeeded');
    }
    expect(fake.calls.map((c) => (c.options as { paths: string[] }).paths[0])).to.deep.equal(['/j1', '/j2', '/j3']);
    expect(maxConcurrent).to.equal(1);
  });

  it('long-polls: returns as soon as progress changes, and after waitSeconds otherwise (capped)', async () => {
    const release = new Deferred();
    fake.impl = async (call) => {
      setTimeout(() => call.exec.onProgress({ filesDone: 1, filesTotal: 2 }), 300);
      await blockUntilReleased(release)(call);
    };
    await client.submit(base, TOKEN, rmr('a'));
    await sleep(50);
    const t0 = Date.now();
    const s = await client.get(base, TOKEN, 'a', 10);
    expect(Date.now() - t0).to.be.within(150, 1500);
    expect(s?.progress).to.deep.equal({ filesDone: 1, filesTotal: 2 });
    const t1 = Date.now();
    const unchanged = await client.get(base, TOKEN, 'a', 30); // capped at maxWaitSeconds = 2
    expect(Date.now() - t1).to.be.within(1800, 3500);
    expect(unchanged?.status).to.equal('running');
    release.resolve();
  });

  it('returns undefined for an unknown job (404)', async () => {
    expect(await client.get(base, TOKEN, 'unknown')).to.equal(undefined);
    expect(await client.get(base, TOKEN, 'unknown', 1)).to.equal(undefined);
    expect(await client.cancel(base, TOKEN, 'unknown')).to.equal(undefined);
  });

  it('cancels a running job (DELETE) and terminates everything (POST /terminate)', async () => {
    fake.impl = blockUntilReleased(new Deferred());
    await client.submit(base, TOKEN, rmr('a'));
    await client.submit(base, TOKEN, rmr('b'));
    await client.submit(base, TOKEN, rmr('c'));
    await sleep(30);
    const a = await client.cancel(base, TOKEN, 'a');
    expect(a?.status).to.equal('cancelled');
    await sleep(30);
    expect((await client.get(base, TOKEN, 'b'))?.status).to.equal('running');
    const ids = await client.terminate(base, TOKEN);
    expect(ids).to.deep.equal(['b', 'c']);
    expect((await client.get(base, TOKEN, 'b'))?.status).to.equal('cancelled');
    expect((await client.get(base, TOKEN, 'c'))?.status).to.equal('cancelled');
    expect(fake.calls.every((c) => c.exec.signal.aborted)).to.equal(true);
  });

  it('serves cache statistics, reusing them briefly but not across a finished job', async () => {
    const stats = await client.cacheStats(base, TOKEN);
    expect(stats).to.deep.equal(fake.statsValue);
    await client.cacheStats(base, TOKEN);
    expect(fake.statsCalls).to.equal(1);
    await client.submit(base, TOKEN, rmr('a'));
    let s = await client.get(base, TOKEN, 'a', 2);
    if (s?.status !== 'succeeded') s = await client.get(base, TOKEN, 'a', 2);
    await client.cacheStats(base, TOKEN);
    expect(fake.statsCalls).to.equal(2);
  });

  it('never returns or logs credentials', async () => {
    const creds = { 'access-key': 'AKIAUNIT', 'secret-key': 'unit-secret-value' };
    fake.impl = (call) => {
      call.exec.log(`using ${call.credentials!['secret-key']}`);
      return Promise.reject(new Error(`failed with ${call.credentials!['secret-key']}`));
    };
    const submitted = await raw(base, 'POST', '/jobs', {
      body: JSON.stringify({ id: 's', type: 'sync', options: { source: 's3://b/x' }, credentials: creds }),
    });
    let s = await client.get(base, TOKEN, 's', 2);
    if (s?.status !== 'failed') s = await client.get(base, TOKEN, 's', 2);
    expect(s?.status).to.equal('failed');
    expect(fake.calls[0].credentials).to.deep.equal(creds);
    const text = JSON.stringify([submitted.body, s, logs]);
    expect(text).to.not.include('unit-secret-value');
    expect(text).to.not.include('AKIAUNIT');
  });

  it('shuts down gracefully: ends long-polls, cancels the running job, refuses new connections', async () => {
    fake.impl = blockUntilReleased(new Deferred());
    await client.submit(base, TOKEN, rmr('a'));
    await sleep(20);
    const poll = client.get(base, TOKEN, 'a', 2);
    await sleep(20);
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).to.be.below(1500);
    const s = await poll;
    expect(s?.status).to.be.oneOf(['running', 'cancelled']);
    expect(fake.calls[0].exec.signal.aborted).to.equal(true);
    expect(await client.healthz(base)).to.equal(false);
  });

  it('refuses to start without a token', () => {
    expect(() => new RuntimeServer({ runtime: fake, token: '' })).to.throw(/token/);
  });
});

describe('RuntimeClient', () => {
  it('retries connection errors with backoff, then gives up with a retriable error', async () => {
    const calls: [string, string, number][] = [];
    const client = new RuntimeClient({ retries: 2, retryBaseMs: 10, timeoutMs: 500, onRequest: (m, r, c) => calls.push([m, r, c]) });
    const t0 = Date.now();
    try {
      await client.get('http://127.0.0.1:1', TOKEN, 'x');
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(RuntimeClientError);
      expect((err as RuntimeClientError).retriable).to.equal(true);
    }
    expect(calls).to.deep.equal([
      ['GET', '/jobs/:id', 0],
      ['GET', '/jobs/:id', 0],
      ['GET', '/jobs/:id', 0],
    ]);
    expect(Date.now() - t0).to.be.below(2000);
  });

  it('retries 503 and times out a hung server', async () => {
    let hits = 0;
    const busy = http.createServer((_req, res) => {
      hits++;
      res.writeHead(hits < 3 ? 503 : 200, { 'content-type': 'application/json' });
      res.end(hits < 3 ? '{"error":"busy"}' : '{"cancelled":["a"]}');
    });
    const hung = http.createServer(() => {
      // never answers
    });
    const listen = (s: http.Server) =>
      new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));
    const busyPort = await listen(busy);
    const hungPort = await listen(hung);
    try {
      const client = new RuntimeClient({ retries: 3, retryBaseMs: 5, timeoutMs: 300 });
      expect(await client.terminate(`http://127.0.0.1:${busyPort}`, TOKEN)).to.deep.equal(['a']);
      expect(hits).to.equal(3);
      const t0 = Date.now();
      try {
        await new RuntimeClient({ retries: 0, timeoutMs: 200 }).get(`http://127.0.0.1:${hungPort}`, TOKEN, 'x');
        expect.fail('should time out');
      } catch (err) {
        expect((err as RuntimeClientError).code).to.equal('ETIMEDOUT');
      }
      expect(await new RuntimeClient({ timeoutMs: 200 }).healthz(`http://127.0.0.1:${hungPort}`)).to.equal(false);
      expect(Date.now() - t0).to.be.below(2000);
      expect(RuntimeClient.baseUrl('10.1.2.3')).to.equal('http://10.1.2.3:7716');
      expect(RuntimeClient.baseUrl('fd00::1', 80)).to.equal('http://[fd00::1]:80');
    } finally {
      for (const s of [busy, hung]) {
        s.closeAllConnections();
        s.close();
      }
    }
  });
});
