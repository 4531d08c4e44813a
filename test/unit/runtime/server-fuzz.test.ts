// Class 4 of issue 12: one request must never crash paddle-runtime, and nothing it answers or
// logs may echo a credential. A seeded fuzz pass sends malformed, oversized, slow and chunked
// requests over raw TCP to a real RuntimeServer on loopback (fake CacheRuntime), then checks the
// server still serves /healthz and a valid job. Reproduce a failure with FUZZ_SEED=<seed>.
import { expect } from 'chai';
import http from 'node:http';
import { validateJuiceFsRequest } from '../../../src/engines/juicefs/request-validation.js';
import { RuntimeServer } from '../../../src/runtime/server.js';
import { FakeRuntime } from './fake-runtime.js';
import { rawExchange, type RawAnswer, type RawPart } from './raw-http.js';
import { seededRandom } from '../support/seeded-random.js';

const TOKEN = 'fuzz-token-0123456789abcdef-TOKEN';
/** A recognizable credential value planted everywhere a client can put bytes. */
const SECRET = 'PLANTED-SECRET-9f3c1e77';
const SEED = Number(process.env.FUZZ_SEED ?? 12012);
const RANDOM_CASES = Number(process.env.FUZZ_CASES ?? 240);
const MIB = 1024 * 1024;

const rng = seededRandom;

type Header = [string, string];

function request(method: string, target: string, headers: Header[], body?: string | Buffer): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\nHost: runtime\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

const auth: Header = ['Authorization', `Bearer ${TOKEN}`];
const close: Header = ['Connection', 'close'];

function json(method: string, target: string, body: string, extra: Header[] = []): Buffer {
  return request(
    method,
    target,
    [auth, close, ['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(body))], ...extra],
    body,
  );
}

function chunked(body: Buffer | string, size = 64 * 1024): RawPart[] {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const parts: RawPart[] = [];
  for (let i = 0; i < b.length; i += size) {
    const c = b.subarray(i, i + size);
    parts.push(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
  }
  parts.push('0\r\n\r\n');
  return parts;
}

interface Case {
  name: string;
  parts: RawPart[];
  /** Acceptable statuses (default: any 4xx). */
  expect?: number[];
  head?: boolean;
  timeoutMs?: number;
}

const any4xx = (s: number): boolean => s >= 400 && s < 500;

/** Hand-written cases, each with the exact answer it must get. */
function corpus(): Case[] {
  const validJob = JSON.stringify({ id: 'corpus-ok', type: 'rmr', options: { paths: ['/x'] } });
  const deep = '['.repeat(400_000) + ']'.repeat(400_000);
  const deepOpts = `{"id":"deep","type":"sync","options":{"source":"s3://b/x","flags":{"include":${'['.repeat(200_000)}${']'.repeat(200_000)}}}}`;
  const hugeArray = JSON.stringify({
    id: 'huge',
    type: 'warmup',
    options: { shard: 0, shards: 1, paths: Array.from({ length: 200_000 }, () => 'a') },
  });
  const chunkHead = `POST /jobs HTTP/1.1\r\nHost: runtime\r\nAuthorization: Bearer ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`;
  return [
    { name: 'malformed percent-encoding in a job id', parts: [request('GET', '/jobs/%E0%A4%A', [auth, close])], expect: [400] },
    { name: 'lone percent', parts: [request('DELETE', '/jobs/%', [auth, close])], expect: [400] },
    { name: 'encoded NUL in a job id', parts: [request('GET', '/jobs/a%00b', [auth, close])], expect: [400] },
    { name: 'encoded slash in a job id', parts: [request('GET', '/jobs/a%2Fb', [auth, close])], expect: [400] },
    { name: 'raw NUL in the target', parts: [request('GET', '/jobs/a\u0000b', [auth, close])], expect: [400] },
    {
      name: 'raw unicode in the target',
      parts: [
        Buffer.concat([
          Buffer.from('GET /jobs/'),
          Buffer.from('é☃', 'utf8'),
          Buffer.from(` HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`),
        ]),
      ],
    },
    { name: 'escaped unicode job id', parts: [request('GET', '/jobs/%C3%A9%E2%98%83', [auth, close])], expect: [400] },
    { name: 'huge target', parts: [request('GET', `/jobs/${'a'.repeat(20_000)}`, [auth, close])], expect: [431, 414, 400] },
    { name: 'long job id', parts: [request('GET', `/jobs/${'a'.repeat(4000)}`, [auth, close])], expect: [400] },
    { name: 'absolute-form target', parts: [request('GET', 'http://evil.example/jobs', [auth, close])], expect: [400] },
    { name: 'asterisk target', parts: [request('OPTIONS', '*', [auth, close])], expect: [400] },
    { name: 'protocol-relative target', parts: [request('GET', '//jobs/x', [auth, close])], expect: [400] },
    { name: 'bad waitSeconds', parts: [request('GET', '/jobs/x?waitSeconds=1e999', [auth, close])], expect: [400] },
    { name: 'negative waitSeconds', parts: [request('GET', '/jobs/x?waitSeconds=-1', [auth, close])], expect: [400] },
    { name: 'secret in a query', parts: [request('GET', `/jobs/x?waitSeconds=${SECRET}`, [auth, close])], expect: [400] },
    { name: 'unknown method', parts: [request('FOO', '/jobs', [auth, close])], expect: [400] },
    { name: 'lowercase method', parts: [request('get', '/healthz', [close])], expect: [400] },
    { name: 'garbage request line', parts: ['\u0001\u0002garbage\r\n\r\n'], expect: [400] },
    { name: 'HTTP/2 preface', parts: ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], expect: [400, 505] },
    {
      name: 'no auth',
      parts: [json('POST', '/jobs', validJob).subarray(0).toString().replace(`Authorization: Bearer ${TOKEN}\r\n`, '')],
      expect: [401],
    },
    {
      name: 'planted secret as the bearer token',
      parts: [request('GET', '/cache', [['Authorization', `Bearer ${SECRET}`], close])],
      expect: [401],
    },
    {
      name: 'basic auth with a secret',
      parts: [request('GET', '/cache', [['Authorization', `Basic ${Buffer.from(`u:${SECRET}`).toString('base64')}`], close])],
      expect: [401],
    },
    {
      name: 'huge bearer token',
      parts: [request('GET', '/cache', [['Authorization', `Bearer ${'x'.repeat(15_000)}`], close])],
      expect: [401, 431],
    },
    { name: 'oversized headers', parts: [request('GET', '/healthz', [['X-Big', 'y'.repeat(20_000)], close])], expect: [431] },
    {
      name: 'many headers',
      parts: [request('GET', '/healthz', [...Array.from({ length: 3000 }, (_, i): Header => [`X-${i}`, SECRET]), close])],
      expect: [200, 431],
    },
    { name: 'header without colon', parts: [`GET /healthz HTTP/1.1\r\nHost: x\r\nbroken header ${SECRET}\r\n\r\n`], expect: [400] },
    { name: 'header with a NUL', parts: [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000${SECRET}\r\n\r\n`], expect: [400] },
    {
      name: 'duplicate differing content-length',
      parts: [request('POST', '/jobs', [auth, ['Content-Length', '5'], ['Content-Length', '6']], '{}')],
      expect: [400],
    },
    {
      name: 'duplicate equal content-length',
      parts: [request('POST', '/jobs', [auth, close, ['Content-Length', '2'], ['Content-Length', '2']], '{}')],
      expect: [400],
    },
    { name: 'non-numeric content-length', parts: [request('POST', '/jobs', [auth, ['Content-Length', 'abc']], '{}')], expect: [400] },
    { name: 'negative content-length', parts: [request('POST', '/jobs', [auth, ['Content-Length', '-1']], '{}')], expect: [400] },
    {
      name: 'huge declared content-length',
      parts: [request('POST', '/jobs', [auth, ['Content-Length', '99999999999999']], '{}')],
      expect: [413],
    },
    {
      name: 'content-length and chunked',
      parts: [request('POST', '/jobs', [auth, ['Content-Length', '3'], ['Transfer-Encoding', 'chunked']], '0\r\n\r\n')],
      expect: [400],
    },
    {
      name: 'unsupported transfer-encoding',
      parts: [request('POST', '/jobs', [auth, ['Transfer-Encoding', 'gzip']], '{}')],
      expect: [400, 501],
    },
    {
      name: 'bad chunk size',
      parts: [request('POST', '/jobs', [auth, ['Transfer-Encoding', 'chunked']], `zz\r\n${SECRET}\r\n0\r\n\r\n`)],
      expect: [400],
    },
    {
      name: 'truncated chunked body',
      parts: [request('POST', '/jobs', [auth, ['Transfer-Encoding', 'chunked']], `ff\r\n{"id":`), { pauseMs: 50 }],
      expect: [400, 408],
      timeoutMs: 4000,
    },
    { name: 'empty body', parts: [json('POST', '/jobs', '')], expect: [400] },
    {
      name: 'invalid JSON holding a secret',
      parts: [json('POST', '/jobs', `{"id":"x","credentials":{"secret-key":"${SECRET}"`)],
      expect: [400],
    },
    { name: 'JSON that is not an object', parts: [json('POST', '/jobs', `["${SECRET}"]`)], expect: [400] },
    {
      name: 'credential that is not a string',
      parts: [
        json(
          'POST',
          '/jobs',
          JSON.stringify({ id: 'c1', type: 'sync', options: { source: 's3://b/x' }, credentials: { 'secret-key': [SECRET] } }),
        ),
      ],
      expect: [400],
    },
    {
      name: 'credentials with a bad key',
      parts: [
        json(
          'POST',
          '/jobs',
          JSON.stringify({ id: 'c2', type: 'sync', options: { source: 's3://b/x' }, credentials: { 'bad key!': SECRET } }),
        ),
      ],
      expect: [400],
    },
    {
      name: 'credentials in the source URI',
      parts: [
        json(
          'POST',
          '/jobs',
          JSON.stringify({
            id: 'c3',
            type: 'sync',
            options: { source: `s3://AKIA:${SECRET}@bucket/x` },
            credentials: { 'secret-key': SECRET },
          }),
        ),
      ],
      expect: [400],
    },
    {
      name: 'secret as an invalid option value',
      parts: [
        json(
          'POST',
          '/jobs',
          JSON.stringify({ id: 'c4', type: 'warmup', options: { shard: SECRET, shards: 1 }, credentials: { 'secret-key': SECRET } }),
        ),
      ],
      expect: [400],
    },
    { name: 'deeply nested JSON', parts: [json('POST', '/jobs', deep)], expect: [400] },
    { name: 'deeply nested option', parts: [json('POST', '/jobs', deepOpts)], expect: [400] },
    { name: 'huge array', parts: [json('POST', '/jobs', hugeArray)], expect: [400] },
    {
      name: '__proto__ keys',
      parts: [json('POST', '/jobs', `{"id":"p1","type":"rmr","options":{"paths":["/a"]},"credentials":{"__proto__":"${SECRET}"}}`)],
      expect: [202, 200],
    },
    {
      name: 'declared body over the limit',
      parts: [request('POST', '/jobs', [auth, ['Content-Length', String(MIB + 1)]]), Buffer.alloc(MIB + 1, 0x61)],
      expect: [413],
    },
    { name: 'chunked body over the limit, no content-length', parts: [chunkHead, ...chunked(Buffer.alloc(2 * MIB, 0x61))], expect: [413] },
    {
      name: 'chunked body over the limit, one huge chunk',
      parts: [chunkHead, `${(4 * MIB).toString(16)}\r\n`, Buffer.alloc(2 * MIB, 0x62)],
      expect: [413],
    },
    { name: 'body on a GET', parts: [request('GET', '/jobs/x', [auth, close, ['Content-Length', '10']], '0123456789')], expect: [404] },
    {
      name: 'expect 100-continue',
      parts: [request('POST', '/jobs', [auth, close, ['Expect', '100-continue'], ['Content-Length', '2']], '{}')],
      expect: [400],
    },
    {
      name: 'unknown expectation',
      parts: [request('POST', '/jobs', [auth, close, ['Expect', 'tea'], ['Content-Length', '2']], '{}')],
      expect: [417],
    },
    {
      name: 'upgrade request',
      parts: [
        request('GET', '/healthz', [
          ['Connection', 'Upgrade'],
          ['Upgrade', 'websocket'],
        ]),
      ],
      expect: [200],
    },
    { name: 'HEAD healthz', parts: [request('HEAD', '/healthz', [close])], expect: [200], head: true },
    { name: 'POST healthz', parts: [request('POST', '/healthz', [close, ['Content-Length', '0']])], expect: [405] },
    { name: 'PUT jobs', parts: [request('PUT', '/jobs', [auth, close, ['Content-Length', '0']])], expect: [405] },
    { name: 'GET terminate', parts: [request('GET', '/terminate', [auth, close])], expect: [405] },
    { name: 'unknown route', parts: [request('GET', `/${SECRET}`, [auth, close])], expect: [404] },
    { name: 'path traversal', parts: [request('GET', '/jobs/..', [auth, close])], expect: [400, 404] },
    { name: 'valid job', parts: [json('POST', '/jobs', validJob)], expect: [202, 200] },
    {
      name: 'slowloris headers',
      parts: [
        'GET /healthz HTTP/1.1\r\nHost: x\r\n',
        ...Array.from({ length: 30 }, (): RawPart[] => [{ pauseMs: 100 }, `X-Slow: ${SECRET}\r\n`]).flat(),
      ],
      expect: [408],
      timeoutMs: 5000,
    },
    {
      name: 'slow body',
      parts: [
        request('POST', '/jobs', [auth, ['Content-Length', '200']]),
        ...Array.from({ length: 40 }, (): RawPart[] => [{ pauseMs: 100 }, '{']).flat(),
      ],
      expect: [408],
      timeoutMs: 6000,
    },
    {
      name: 'slow chunked body',
      parts: [chunkHead, ...Array.from({ length: 40 }, (): RawPart[] => [{ pauseMs: 100 }, `1\r\n{\r\n`]).flat()],
      expect: [408],
      timeoutMs: 6000,
    },
  ];
}

/** Random cases: a mix of plausible and broken parts everywhere, from the seed. */
function randomCases(seed: number, n: number): Case[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const methods = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'FOO', 'G ET', 'POST\t', ''];
  const ids = [
    'a',
    'job-1',
    `x${Math.floor(r() * 1e6)}`,
    '%',
    '%zz',
    '%E0%A4%A',
    '%00',
    '..',
    '.',
    'a%2F..%2Fb',
    '%C0%AE',
    encodeURIComponent('é☃'),
    'a'.repeat(300),
    `${SECRET}%`,
    '',
    '_bad',
  ];
  const paths = () =>
    pick([
      '/healthz',
      '/jobs',
      '/terminate',
      '/cache',
      '/',
      '',
      '/jobs/',
      `/jobs/${pick(ids)}`,
      `/jobs/${pick(ids)}/x`,
      `/jobs/${pick(ids)}?waitSeconds=${pick(['0', '1', '0.2', 'x', '-3', '1e9', '%', SECRET])}`,
      `/${SECRET}`,
      '/healthz?%zz',
    ]);
  const auths = () =>
    pick<Header | undefined>([
      auth,
      auth,
      auth,
      undefined,
      ['Authorization', ''],
      ['Authorization', 'Bearer'],
      ['Authorization', `Bearer ${SECRET}`],
      ['Authorization', `bearer ${TOKEN}`],
      ['Authorization', `Bearer ${TOKEN} extra`],
      ['Authorization', `Bearer ${TOKEN}\t`],
    ]);
  const bodies = (): string | Buffer | undefined =>
    pick([
      undefined,
      '',
      '{}',
      'null',
      '{"id":',
      `{"id":"r${Math.floor(r() * 1e6)}","type":"rmr","options":{"paths":["/p"]}}`,
      `{"id":"s${Math.floor(r() * 1e6)}","type":"sync","options":{"source":"s3://bucket/x"},"credentials":{"access-key":"AK","secret-key":"${SECRET}"}}`,
      `{"id":"w${Math.floor(r() * 1e6)}","type":"warmup","options":{"shard":0,"shards":1,"paths":["/a"],"threads":${pick(['4', '0', '-1', '"x"', '1e400', 'null'])}}}`,
      `{"id":"z","type":"${pick(['rmr', 'sync', 'nope', SECRET])}","options":${pick(['{}', '[]', '"x"', 'null', `{"paths":["${SECRET}/../x"]}`])}}`,
      `{"id":"${SECRET}!","type":"rmr","options":{"paths":["/a"]}}`,
      Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
      '['.repeat(Math.floor(r() * 100_000)),
      JSON.stringify({ id: 'big', type: 'rmr', options: { paths: Array.from({ length: Math.floor(r() * 30_000) }, () => `/${SECRET}`) } }),
    ]);
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    // a third are submissions (right method, route and token) so the bodies reach validation and the queue
    const submission = r() < 0.35;
    const method = submission ? 'POST' : pick(methods);
    const target = submission ? '/jobs' : paths();
    const headers: Header[] = [];
    const a = submission ? auth : auths();
    if (a) headers.push(a);
    if (r() < 0.1) headers.push(['X-Secret', SECRET]);
    if (r() < 0.05) headers.push(['Content-Type', pick(['text/plain', 'application/json; charset=latin1', `${SECRET}/x`])]);
    if (r() < 0.8) headers.push(close);
    const body = submission ? (bodies() ?? '{}') : bodies();
    const framing = r();
    let parts: RawPart[];
    if (body === undefined) {
      parts = [request(method, target, headers)];
    } else if (framing < 0.6) {
      parts = [request(method, target, [...headers, ['Content-Length', String(Buffer.byteLength(body))]], body)];
    } else if (framing < 0.85) {
      parts = [request(method, target, [...headers, ['Transfer-Encoding', 'chunked']]), ...chunked(body, 1 + Math.floor(r() * 4096))];
    } else {
      // a lying content-length: shorter or longer than the body
      const len = Math.max(0, Buffer.byteLength(body) + pick([-5, -1, 1, 50]));
      parts = [request(method, target, [...headers, ['Content-Length', String(len)]], body)];
    }
    out.push({ name: `random #${i} (${method} ${target.slice(0, 40)})`, parts, head: method === 'HEAD', timeoutMs: 4000 });
  }
  return out;
}

function isAcceptable(c: Case, a: RawAnswer): boolean {
  if (c.expect) return c.expect.includes(a.status);
  // random cases: a 4xx, or one of the success answers a plausible request gets
  return any4xx(a.status) || [200, 202].includes(a.status);
}

async function runAll(port: number, cases: Case[], parallel: number): Promise<{ c: Case; a: RawAnswer }[]> {
  const results: { c: Case; a: RawAnswer }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cases.length) {
        const c = cases[next++];
        results.push({ c, a: await rawExchange(port, c.parts, { timeoutMs: c.timeoutMs ?? 4000, head: c.head }) });
      }
    }),
  );
  return results;
}

function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function post(port: number, path: string, body: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('runtime server fuzz (issue 12, class 4)', function () {
  this.timeout(120_000);
  let fake: FakeRuntime;
  let server: RuntimeServer;
  let port: number;
  const logs: unknown[][] = [];

  beforeEach(async () => {
    logs.length = 0;
    fake = new FakeRuntime();
    // the JuiceFS engine's submission checks (pure), so engine-level refusals are fuzzed too
    fake.validateImpl = (type, options) => validateJuiceFsRequest(type, options, { cacheDirs: ['/cache/0'] });
    // jobs take a moment, log their credentials (the queue must scrub them) and end
    fake.impl = async ({ exec, credentials }) => {
      exec.log(`working with ${credentials?.['secret-key'] ?? 'no credentials'}`);
      await new Promise((r) => setTimeout(r, 50));
    };
    server = new RuntimeServer({
      runtime: fake,
      token: TOKEN,
      host: '127.0.0.1',
      port: 0,
      maxWaitSeconds: 1,
      cancelWaitMs: 200,
      requestTimeoutMs: 1000,
      headersTimeoutMs: 500,
      maxPendingJobs: 3,
      log: (...a) => logs.push(a),
    });
    port = (await server.listen()).port;
  });

  afterEach(async () => {
    await server.close();
  });

  it('regression: an authenticated chunked POST /jobs over the body limit gets 413 and the server lives on', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/jobs',
          agent: false,
          headers: { authorization: `Bearer ${TOKEN}`, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (let i = 0; i < 40; i++) req.write(chunk);
      req.end();
    });
    expect(status).to.equal(413);
    // the old server died right after answering (req.socket was null in the 413 path)
    await new Promise((r) => setTimeout(r, 100));
    expect((await get(port, '/healthz')).status).to.equal(200);
  });

  it('regression: malformed percent-encoding in /jobs/{id} is a 400, not a 500', async () => {
    for (const id of ['%E0%A4%A', '%', '%zz', 'a%']) {
      const r = await get(port, `/jobs/${id}`, TOKEN);
      expect(r.status, id).to.equal(400);
    }
  });

  it('answers every malformed, oversized, slow and chunked request with a 4xx, leaks nothing, and keeps serving', async () => {
    const cases = [...corpus(), ...randomCases(SEED, RANDOM_CASES)];
    const started = Date.now();
    const results = await runAll(port, cases, 8);
    if (process.env.FUZZ_DEBUG) for (const { c, a } of results) console.log(a.status, c.name);
    const bad = results.filter(({ c, a }) => !isAcceptable(c, a)).map(({ c, a }) => `${c.name}: got ${a.status} ${a.body.slice(0, 120)}`);
    expect(bad, `seed ${SEED}: unacceptable answers`).to.deep.equal([]);
    expect(Date.now() - started, 'the fuzz pass is bounded in time').to.be.below(90_000);

    // still serving: health, and a valid job from start to finish
    const health = await get(port, '/healthz');
    expect(health.status).to.equal(200);
    expect(JSON.parse(health.body)).to.deep.equal({ ok: true, engine: 'fake' });
    let submitted = await post(port, '/jobs', JSON.stringify({ id: 'after-fuzz', type: 'rmr', options: { paths: ['/a'] } }), TOKEN);
    for (let i = 0; i < 50 && submitted.status === 429; i++) {
      await new Promise((r) => setTimeout(r, 50));
      submitted = await post(port, '/jobs', JSON.stringify({ id: 'after-fuzz', type: 'rmr', options: { paths: ['/a'] } }), TOKEN);
    }
    expect(submitted.status).to.equal(202);
    let state = JSON.parse((await get(port, '/jobs/after-fuzz?waitSeconds=1', TOKEN)).body) as { status: string };
    for (let i = 0; i < 20 && state.status !== 'succeeded'; i++)
      state = JSON.parse((await get(port, '/jobs/after-fuzz?waitSeconds=1', TOKEN)).body) as { status: string };
    expect(state.status).to.equal('succeeded');

    // nothing answered or logged carries the planted credential or the token
    const answers = results.map(({ a }) => a.text).join('\n');
    if (process.env.FUZZ_DEBUG)
      for (const { c, a } of results) if (a.text.includes(SECRET)) console.log('LEAK', c.name, JSON.stringify(a.text.slice(0, 600)));
    const logText = JSON.stringify(logs);
    expect(answers.includes(SECRET), 'a response echoed the planted secret').to.equal(false);
    expect(logText.includes(SECRET), 'a log line carried the planted secret').to.equal(false);
    expect(answers.includes(TOKEN) || logText.includes(TOKEN), 'the token leaked').to.equal(false);
    // no request ended in an internal error
    expect(logs.filter(([level, msg]) => level === 'error' && String(msg).startsWith('request failed'))).to.deep.equal([]);
    expect(results.filter(({ a }) => a.status >= 500)).to.deep.equal([]);
    // the fuzz did reach the queue (jobs with the planted credential ran) and its bound
    expect(fake.calls.some((c) => c.credentials?.['secret-key'] === SECRET)).to.equal(true);
    expect(results.some(({ a }) => a.status === 429)).to.equal(true);
  });
});
