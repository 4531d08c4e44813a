// paddle-runtime against the REAL juicefs binary and FUSE mounts: one JuiceFS volume (SQLite
// metadata, local object storage) mounted twice — two simulated cache nodes, each with its own
// cache dir and its own runtime server — plus a `juicefs gateway` (S3 API) over a separate volume
// as the remote source. Everything goes through the HTTP API with the bearer token.
//
//   npx tsc -p . && npx mocha --timeout 180000 'dist/test/integration/**/*.test.js'
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NodeCacheStats, RuntimeJobState } from '../../src/api/runtime-protocol.js';
import { canonicalOrder, selectShard } from '../../src/engines/juicefs/sharding.js';
import { repoRoot, waitFor } from '../harness/util.js';
import {
  duBytes,
  jfs,
  juicefsBin,
  juicefsChildren,
  makeDataset,
  pidAlive,
  sleep,
  startGateway,
  startRuntime,
  tempDir,
  umountAll,
  Volume,
  type Gateway,
  type Mount,
  type RuntimeProc,
} from './juicefs-fixture.js';

const TOKEN = crypto.randomBytes(24).toString('hex');
const GW_USER = 'paddle-gw-admin';
const GW_PASS = 'gw-s3cr3t+key/0987';

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** rel path → sha256 of every regular file under dir. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else if (e.isFile()) out.set(r, sha(path.join(d, e.name)));
    }
  };
  if (fs.existsSync(dir)) walk(dir, '');
  return out;
}

describe('paddle-runtime with real JuiceFS (integration)', function () {
  this.timeout(180_000);

  let bin: string;
  let tmp: string;
  let srcRoot: string;
  let localSrc: string;
  let localBytes: number;
  let vol: Volume;
  let node0: Mount;
  let node1: Mount;
  let rt0: RuntimeProc;
  let rt1: RuntimeProc;
  let srcVol: Volume;
  let gateway: Gateway;
  const childCmdlines: string[] = [];

  before(async function () {
    this.timeout(1_800_000); // a cold toolchain build may run first
    bin = await juicefsBin();
    tmp = tempDir('paddle-it-');
    srcRoot = path.join(tmp, 'sources');
    localSrc = path.join(srcRoot, 'dataset');
    const files: { path: string; size: number }[] = [];
    for (let i = 0; i < 24; i++)
      files.push({
        path: `${['train', 'val', 'test'][i % 3]}/part-${i % 4}/f${i}.bin`,
        size: 64 * 1024 + ((i * 337_123) % (3 * 1024 * 1024)),
      });
    files.push({ path: 'README', size: 100 });
    localBytes = makeDataset(localSrc, files);

    vol = Volume.create(bin, path.join(tmp, 'vol'), 'dataset');
    node0 = vol.mount(path.join(tmp, 'node0', 'mnt'), path.join(tmp, 'node0', 'cache'));
    node1 = vol.mount(path.join(tmp, 'node1', 'mnt'), path.join(tmp, 'node1', 'cache'));
    rt0 = await startRuntime({
      bin,
      token: TOKEN,
      dataDir: node0.mountpoint,
      cacheDirs: [node0.cacheDir],
      hostCacheDirs: ['/host/node0/cache'],
      fileSourceRoots: [srcRoot],
      extraEnv: { PADDLE_JUICEFS_META_URL: vol.metaUrl },
    });
    rt1 = await startRuntime({
      bin,
      token: TOKEN,
      dataDir: node1.mountpoint,
      cacheDirs: [node1.cacheDir],
      hostCacheDirs: ['/host/node1/cache'],
      fileSourceRoots: [srcRoot],
      extraEnv: { PADDLE_JUICEFS_META_URL: vol.metaUrl },
    });

    srcVol = Volume.create(bin, path.join(tmp, 'srcvol'), 'remote');
    srcVol.load(localSrc, 'dataset');
    gateway = await startGateway(srcVol, GW_USER, GW_PASS);
  });

  after(async () => {
    for (const r of [rt0, rt1]) await r?.stop();
    // PADDLE_IT_LOG_DIR=<dir> keeps the runtime servers' logs for a look afterwards.
    if (process.env.PADDLE_IT_LOG_DIR) {
      fs.mkdirSync(process.env.PADDLE_IT_LOG_DIR, { recursive: true });
      for (const [name, r] of [
        ['runtime-0', rt0],
        ['runtime-1', rt1],
      ] as const)
        if (r) fs.writeFileSync(path.join(process.env.PADDLE_IT_LOG_DIR, `${name}.log`), r.proc.text());
    }
    await gateway?.proc.stop();
    umountAll();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function run(rt: RuntimeProc, req: unknown): Promise<RuntimeJobState> {
    const r = await rt.call('POST', '/jobs', req);
    expect(r.status, JSON.stringify(r.body)).to.be.oneOf([200, 202]);
    return rt.waitJob((req as { id: string }).id);
  }

  it('answers /healthz openly and everything else only with the token (401)', async () => {
    expect((await rt0.call('GET', '/healthz', undefined, null)).status).to.equal(200);
    for (const token of [null, 'wrong', TOKEN.slice(1)]) {
      expect((await rt0.call('GET', '/cache', undefined, token)).status).to.equal(401);
      expect((await rt0.call('POST', '/jobs', { id: 'x', type: 'clear', options: {} }, token)).status).to.equal(401);
      expect((await rt0.call('POST', '/terminate', {}, token)).status).to.equal(401);
    }
    expect((await rt0.call('GET', '/jobs/x', undefined, null)).status).to.equal(401);
  });

  it('syncs a local directory into the volume', async () => {
    const job = await run(rt0, { id: 'sync-local', type: 'sync', options: { source: `file://${localSrc}`, destination: '/local' } });
    expect(job.status, job.message).to.equal('succeeded');
    expect(job.message).to.match(/^Found: \d+, .*copied: 25 /);
    expect(job.progress).to.include({ filesDone: 25, filesTotal: 25 });
    // visible from the other node: the data is in the volume
    expect(tree(path.join(node1.mountpoint, 'local'))).to.deep.equal(tree(localSrc));
    // incremental: a second run copies nothing
    const again = await run(rt0, { id: 'sync-local-2', type: 'sync', options: { source: `file://${localSrc}/`, destination: 'local/' } });
    expect(again.message).to.match(/copied: 0/);
  });

  it('syncs from the S3 gateway (minio:// and s3://), credentials only in the child environment', async () => {
    const credentials = { 'access-key': GW_USER, 'secret-key': GW_PASS };
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        for (const c of juicefsChildren(rt0.proc.pid)) childCmdlines.push(c.cmdline);
        await sleep(20);
      }
    })();
    // bwlimit (Mbit/s) stretches the copy so the child can be observed while it runs
    const minio = await run(rt0, {
      id: 'sync-minio',
      type: 'sync',
      options: { source: `minio://${gateway.endpoint}/remote/dataset`, destination: '/s3', flags: { bwlimit: 200, threads: 4 } },
      credentials,
    });
    const s3 = await run(rt0, {
      id: 'sync-s3',
      type: 'sync',
      options: { source: `s3://${gateway.endpoint}/remote/dataset/`, destination: '/s3b', flags: { 'no-https': true } },
      credentials,
    });
    watching.on = false;
    await watcher;
    expect(minio.status, minio.message).to.equal('succeeded');
    expect(s3.status, s3.message).to.equal('succeeded');
    expect(tree(path.join(node1.mountpoint, 's3'))).to.deep.equal(tree(localSrc));
    expect(tree(path.join(node1.mountpoint, 's3b'))).to.deep.equal(tree(localSrc));
    expect(
      childCmdlines.some((c) => c.includes(' sync ') && c.includes(gateway.endpoint)),
      'saw the juicefs sync child',
    ).to.equal(true);
    for (const c of childCmdlines) {
      expect(c).to.not.include(GW_PASS);
      expect(c).to.not.include(encodeURIComponent(GW_PASS));
      expect(c).to.not.include(GW_USER);
    }
    // without credentials the gateway refuses
    const denied = await run(rt0, {
      id: 'sync-denied',
      type: 'sync',
      options: { source: `minio://${gateway.endpoint}/remote/dataset/`, destination: '/denied' },
    });
    expect(denied.status).to.equal('failed');
    expect(denied.message).to.match(/juicefs sync failed/);
  });

  it('warms two nodes with shards 0 and 1 of 2: each caches its shard, together the dataset', async () => {
    for (const [rt, id] of [
      [rt0, 'clear-before-0'],
      [rt1, 'clear-before-1'],
    ] as const) {
      const r = await run(rt, { id, type: 'clear', options: {} });
      expect(r.status, r.message).to.equal('succeeded');
    }
    const before0 = (await rt0.call<NodeCacheStats>('GET', '/cache')).body;
    const before1 = (await rt1.call<NodeCacheStats>('GET', '/cache')).body;
    expect(before0.cachedBytes).to.equal(0);
    expect(before1.cachedBytes).to.equal(0);

    const [w0, w1] = await Promise.all([
      run(rt0, { id: 'warm-0', type: 'warmup', options: { paths: ['/local'], shard: 0, shards: 2, strategy: 'sequence', threads: 8 } }),
      run(rt1, { id: 'warm-1', type: 'warmup', options: { paths: ['/local'], shard: 1, shards: 2, strategy: 'sequence', threads: 8 } }),
    ]);
    expect(w0.status, w0.message).to.equal('succeeded');
    expect(w1.status, w1.message).to.equal('succeeded');
    const rels = canonicalOrder([...tree(localSrc).keys()].map((r) => `local/${r}`));
    const size = (r: string) => fs.statSync(path.join(localSrc, r.slice('local/'.length))).size;
    const shardBytes = [0, 1].map((s) => selectShard(rels, (x) => x, s, 2, 'sequence').reduce((a, r) => a + size(r), 0));
    expect(w0.progress).to.include({ filesDone: 13, filesTotal: 13, bytesDone: shardBytes[0] });
    expect(w1.progress).to.include({ filesDone: 12, filesTotal: 12, bytesDone: shardBytes[1] });

    // juicefs writes the last blocks of a warmup into the cache dir in the background: let them land
    const near = (got: number, want: number): boolean => got / want >= 0.98 && got / want <= 1.05;
    const stats = async (): Promise<[NodeCacheStats, NodeCacheStats]> => [
      (await rt0.call<NodeCacheStats>('GET', '/cache')).body,
      (await rt1.call<NodeCacheStats>('GET', '/cache')).body,
    ];
    const [s0, s1] = await waitFor(
      'both shards in the cache dirs',
      async () => {
        const [a, b] = await stats();
        return near(a.cachedBytes, shardBytes[0]) && near(b.cachedBytes, shardBytes[1]) ? ([a, b] as const) : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    ).catch(stats);
    expect(s0.cachedBytes).to.be.greaterThan(0);
    expect(s1.cachedBytes).to.be.greaterThan(0);
    // cached block files hold the data (plus small checksums): each node ≈ its shard
    expect(s0.cachedBytes / shardBytes[0]).to.be.within(0.98, 1.05);
    expect(s1.cachedBytes / shardBytes[1]).to.be.within(0.98, 1.05);
    expect((s0.cachedBytes + s1.cachedBytes) / localBytes).to.be.within(0.98, 1.05);
    // statistics: the dataset (4 copies synced so far), the tier's disk
    expect(s0.totalFiles).to.be.at.least(25 * 3);
    expect(s0.totalBytes).to.be.at.least(localBytes * 3);
    expect(s0.tiers).to.have.length(1);
    expect(s0.tiers[0].path).to.equal('/host/node0/cache');
    expect(s0.tiers[0].sizeBytes).to.be.greaterThan(0);
  });

  it('rmr removes exactly the given paths', async () => {
    const root = path.join(node0.mountpoint, 's3b');
    const before = [...tree(root).keys()];
    const job = await run(rt0, {
      id: 'rmr-1',
      type: 'rmr',
      options: { paths: ['/s3b/train', 's3b/val/part-1/f1.bin', 's3b/does-not-exist'] },
    });
    expect(job.status, job.message).to.equal('succeeded');
    expect(job.message).to.equal('removed 2 path(s); 1 did not exist');
    const after = [...tree(root).keys()];
    const expected = before.filter((r) => !r.startsWith('train/') && r !== 'val/part-1/f1.bin');
    expect(after.sort()).to.deep.equal(expected.sort());
    expect(fs.existsSync(path.join(root, 'train'))).to.equal(false);
    expect(fs.existsSync(path.join(root, 'val', 'part-1'))).to.equal(true);
    // the other node sees the same once its metadata cache (1 s) expires
    await sleep(1200);
    expect([...tree(path.join(node1.mountpoint, 's3b')).keys()].sort()).to.deep.equal(expected.sort());
  });

  it('clear empties only this volume cache: another volume cached in the same tier dir survives', async () => {
    const uuid = vol.uuid();
    const other = Volume.create(bin, path.join(tmp, 'othervol'), 'other');
    const otherUuid = other.uuid();
    const otherMount = other.mount(path.join(tmp, 'other', 'mnt'), node0.cacheDir); // same tier dir as node0
    try {
      fs.writeFileSync(path.join(otherMount.mountpoint, 'blob'), crypto.randomBytes(3 * 1024 * 1024));
      jfs(bin, ['warmup', path.join(otherMount.mountpoint, 'blob')]);
      const otherRaw = path.join(node0.cacheDir, otherUuid, 'raw');
      const otherBefore = duBytes(otherRaw);
      expect(otherBefore).to.be.greaterThan(0);
      const ownRaw = path.join(node0.cacheDir, uuid, 'raw');
      expect(duBytes(ownRaw)).to.be.greaterThan(0);

      const job = await run(rt0, { id: 'clear-1', type: 'clear', options: { paths: ['/host/node0/cache'] } });
      expect(job.status, job.message).to.equal('succeeded');
      expect(duBytes(ownRaw)).to.equal(0);
      expect(duBytes(otherRaw)).to.equal(otherBefore);
      expect((await rt0.call<NodeCacheStats>('GET', '/cache')).body.cachedBytes).to.equal(0);
      // node1's cache is untouched by node0's clear
      expect((await rt1.call<NodeCacheStats>('GET', '/cache')).body.cachedBytes).to.be.greaterThan(0);
      // the data is still readable (now from object storage)
      expect(tree(path.join(node0.mountpoint, 'local'))).to.deep.equal(tree(localSrc));
    } finally {
      otherMount.umount();
    }
  });

  it('refuses every path-traversal attempt', async () => {
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'keep'), 'keep');
    fs.symlinkSync(outside, path.join(node0.mountpoint, 'escape'));
    fs.symlinkSync('../../..', path.join(node0.mountpoint, 'local', 'up'));

    // rejected by validation (400)
    const bad = [
      { id: 'pt-1', type: 'rmr', options: { paths: ['../outside'] } },
      { id: 'pt-2', type: 'rmr', options: { paths: ['/'] } },
      { id: 'pt-3', type: 'warmup', options: { paths: ['/local/../../..'], shard: 0, shards: 1 } },
      { id: 'pt-4', type: 'sync', options: { source: `file://${localSrc}`, destination: 'a/../../b' } },
      { id: 'pt-5', type: 'clear', options: { paths: ['../../etc'] } },
      { id: 'pt-6', type: 'rmr', options: { paths: ['a\u0000b'] } },
      { id: 'pt-16', type: 'clear', options: { paths: ['/etc'] } },
      { id: 'pt-17', type: 'clear', options: { paths: [path.join(node0.cacheDir, '..')] } },
    ];
    for (const req of bad) {
      const r = await rt0.call('POST', '/jobs', req);
      expect(r.status, req.id).to.equal(400);
    }
    // rejected when resolving (symlinks, outside roots): the job fails with "refused"
    const refused = [
      { id: 'pt-10', type: 'rmr', options: { paths: ['escape/keep'] } },
      { id: 'pt-11', type: 'rmr', options: { paths: ['local/up/etc'] } },
      { id: 'pt-12', type: 'warmup', options: { paths: ['escape'], shard: 0, shards: 1 } },
      { id: 'pt-13', type: 'sync', options: { source: `file://${localSrc}`, destination: 'escape' } },
      { id: 'pt-14', type: 'sync', options: { source: `file://${outside}` } },
      { id: 'pt-15', type: 'sync', options: { source: 'file:///etc/' } },
      { id: 'pt-18', type: 'rmr', options: { paths: ['.config'] } },
    ];
    for (const req of refused) {
      const job = await run(rt0, req);
      expect(job.status, `${req.id}: ${job.message}`).to.equal('failed');
      expect(job.message, req.id).to.match(/refused|outside|not inside|\.\./);
    }
    // an absolute path means "from the dataset root", never the host path
    const abs = await run(rt0, { id: 'pt-20', type: 'rmr', options: { paths: [path.join(outside, 'keep')] } });
    expect(abs.status).to.equal('succeeded');
    expect(abs.message).to.match(/1 did not exist/);
    expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).to.equal('keep');
    // removing the link removes the link, not its target
    expect((await run(rt0, { id: 'pt-21', type: 'rmr', options: { paths: ['escape'] } })).status).to.equal('succeeded');
    expect(fs.existsSync(path.join(node0.mountpoint, 'escape'))).to.equal(false);
    expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).to.equal('keep');
    fs.unlinkSync(path.join(node0.mountpoint, 'local', 'up'));
  });

  it('terminate stops a long (bandwidth-limited) sync within a second, and the child is gone', async () => {
    const big = path.join(srcRoot, 'big');
    makeDataset(big, [{ path: 'blob', size: 16 * 1024 * 1024 }]);
    // 16 MiB at 1 Mbit/s: minutes of work
    const r = await rt0.call('POST', '/jobs', {
      id: 'sync-slow',
      type: 'sync',
      options: { source: `file://${big}`, destination: '/big-slow', flags: { bwlimit: 1 } },
    });
    expect(r.status).to.equal(202);
    // a job queued behind it is cancelled too
    expect((await rt0.call('POST', '/jobs', { id: 'queued-after', type: 'clear', options: {} })).status).to.equal(202);
    let child: { pid: number } | undefined;
    const end = Date.now() + 10_000;
    while (!child && Date.now() < end) {
      child = juicefsChildren(rt0.proc.pid).find((c) => c.cmdline.includes('--bwlimit=1'));
      if (!child) await sleep(10);
    }
    expect(child).to.not.equal(undefined);
    await sleep(500);
    expect((await rt0.call<RuntimeJobState>('GET', '/jobs/sync-slow')).body.status).to.equal('running');
    const t0 = Date.now();
    const term = await rt0.call<{ cancelled: string[] }>('POST', '/terminate', {});
    expect(term.body.cancelled).to.deep.equal(['sync-slow', 'queued-after']);
    const state = (await rt0.call<RuntimeJobState>('GET', '/jobs/sync-slow')).body;
    expect(Date.now() - t0).to.be.below(1000);
    expect(state.status).to.equal('cancelled');
    expect(pidAlive(child!.pid)).to.equal(false);
    expect(juicefsChildren(rt0.proc.pid)).to.deep.equal([]);
    expect((await rt0.call<RuntimeJobState>('GET', '/jobs/queued-after')).body.status).to.equal('cancelled');
    // the queue goes on
    expect((await run(rt0, { id: 'after-terminate', type: 'rmr', options: { paths: ['big-slow'] } })).status).to.equal('succeeded');
  });

  it('keeps secrets out of logs, responses and child command lines', () => {
    const secrets = [GW_PASS, encodeURIComponent(GW_PASS), GW_USER, TOKEN];
    const corpus = [rt0.proc.text(), rt1.proc.text(), ...rt0.responses, ...rt1.responses, ...childCmdlines].join('\n');
    expect(rt0.proc.text()).to.include('sync-minio'); // the logs were captured
    for (const s of secrets) expect(corpus, 'secret found').to.not.include(s);
  });

  it('clean-cache (the runtime pod preStop) empties only this volume blocks on every tier', () => {
    const uuid = vol.uuid();
    const ownRaw = path.join(node1.cacheDir, uuid, 'raw');
    expect(duBytes(ownRaw)).to.be.greaterThan(0);
    const foreign = path.join(node1.cacheDir, '00000000-0000-0000-0000-000000000000', 'raw', 'chunks', 'x');
    const staging = path.join(node1.cacheDir, uuid, 'rawstaging', 'chunks', 'y');
    for (const f of [foreign, staging]) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, 'keep');
    }
    const r = spawnSync(
      process.execPath,
      [
        path.join(repoRoot(), 'dist', 'src', 'bin', 'paddle-runtime.js'),
        'clean-cache',
        '--engine',
        'juicefs',
        '--data-dir',
        node1.mountpoint,
        '--cache-dir',
        node1.cacheDir,
        '--binary',
        bin,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(duBytes(ownRaw)).to.equal(0);
    expect(fs.readFileSync(foreign, 'utf8')).to.equal('keep');
    expect(fs.readFileSync(staging, 'utf8')).to.equal('keep');
  });

  it('shuts down gracefully on SIGTERM, killing the running child', async () => {
    const big = path.join(srcRoot, 'big');
    await rt1.call('POST', '/jobs', {
      id: 'sync-at-shutdown',
      type: 'sync',
      options: { source: `file://${big}`, destination: '/big-shutdown', flags: { bwlimit: 1 } },
    });
    let child: { pid: number } | undefined;
    const end = Date.now() + 10_000;
    while (!child && Date.now() < end) {
      child = juicefsChildren(rt1.proc.pid).find((c) => c.cmdline.includes(' sync '));
      if (!child) await sleep(10);
    }
    expect(child).to.not.equal(undefined);
    const t0 = Date.now();
    const code = await rt1.stop();
    expect(code).to.equal(0);
    expect(Date.now() - t0).to.be.below(5000);
    expect(pidAlive(child!.pid)).to.equal(false);
  });
});
