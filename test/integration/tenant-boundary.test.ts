// The tenant boundary on a REAL JuiceFS mount: a tenant (anyone who can write into the dataset,
// e.g. a training pod) plants symlinks, FIFOs, virtual files and huge files, and swaps directories
// for symlinks while jobs run. Whatever it does, a job never writes, deletes or reads outside the
// dataset, always ends, and never wedges the one-at-a-time queue.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { RuntimeJobState } from '../../src/api/runtime-protocol.js';
import {
  juicefsBin,
  makeDataset,
  sleep,
  startRuntime,
  tempDir,
  umountAll,
  Volume,
  type Mount,
  type RuntimeProc,
} from './juicefs-fixture.js';

const TOKEN = crypto.randomBytes(24).toString('hex');

/** Every entry (files, dirs, links) under dir with its type and content digest: what "untouched" means. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out.push(`d ${r}`);
        walk(p, r);
      } else if (e.isFile()) out.push(`f ${r} ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
      else out.push(`o ${r}`);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('tenant boundary on a real JuiceFS mount (integration)', function () {
  this.timeout(180_000);

  let tmp: string;
  let vol: Volume;
  let mnt: Mount;
  let rt: RuntimeProc;
  let src: string;
  let outside: string;
  let outsideBefore: string[];
  let seq = 0;

  before(async function () {
    this.timeout(1_800_000);
    const bin = await juicefsBin();
    tmp = tempDir('paddle-tenant-');
    src = path.join(tmp, 'sources', 'ds');
    // The source holds files under the names the tenant turns into links below the destination.
    const files = [];
    for (const top of ['mirror', 'up', 'plain']) for (let i = 0; i < 4; i++) files.push({ path: `${top}/f${i}.bin`, size: 4096 + i });
    for (let d = 0; d < 4; d++) for (let i = 0; i < 4; i++) files.push({ path: `slow/d${d}/f${i}.bin`, size: 48 * 1024 });
    makeDataset(src, files);
    outside = path.join(tmp, 'outside');
    makeDataset(outside, [
      { path: 'keep', size: 10 },
      { path: 'f0.bin', size: 3 },
      { path: 'sub/victim', size: 5 },
    ]);
    outsideBefore = snapshot(outside);
    vol = Volume.create(bin, path.join(tmp, 'vol'), 'tenant');
    mnt = vol.mount(path.join(tmp, 'node', 'mnt'), path.join(tmp, 'node', 'cache'));
    rt = await startRuntime({
      bin,
      token: TOKEN,
      dataDir: mnt.mountpoint,
      cacheDirs: [mnt.cacheDir],
      fileSourceRoots: [path.dirname(src)],
      extraEnv: { PADDLE_JUICEFS_META_URL: vol.metaUrl },
    });
  });

  after(async () => {
    await rt?.stop();
    umountAll();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(function () {
    if (process.env.PADDLE_IT_DEBUG && this.currentTest?.state === 'failed') console.log(rt.proc.text().slice(-6000));
    // the class every test here is about
    expect(snapshot(outside)).to.deep.equal(outsideBefore);
  });

  /** A relative link from `linkDir` (inside the mount) that the kernel resolves to `outside`. */
  function escapingRelativeLink(linkDir: string): string {
    return path.relative(linkDir, outside);
  }

  async function run(req: { type: string; options: unknown }): Promise<RuntimeJobState> {
    const id = `t-${++seq}`;
    const r = await rt.call('POST', '/jobs', { id, ...req });
    expect(r.status, JSON.stringify(r.body)).to.be.oneOf([200, 202]);
    return rt.waitJob(id);
  }

  it('class 1: sync never writes or deletes through symlinks planted below its destination (with and without delete-dst)', async () => {
    const dst = path.join(mnt.mountpoint, 'dst');
    fs.mkdirSync(dst);
    fs.symlinkSync(outside, path.join(dst, 'mirror'));
    fs.symlinkSync(escapingRelativeLink(dst), path.join(dst, 'up'));
    for (const flags of [{}, { 'delete-dst': true }, { 'delete-dst': true, dirs: true, 'force-update': true }]) {
      const job = await run({ type: 'sync', options: { source: `file://${src}/`, destination: 'dst', flags } });
      // Whatever juicefs makes of the links (it may fail on them), nothing outside changed.
      expect(job.status, job.message).to.be.oneOf(['succeeded', 'failed']);
      expect(snapshot(outside)).to.deep.equal(outsideBefore);
    }
    expect(fs.readdirSync(path.join(dst, 'plain')).sort()).to.deep.equal(['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin']);
  });

  it('class 1: a destination that is a symlink is refused with a clear message', async () => {
    fs.symlinkSync(outside, path.join(mnt.mountpoint, 'dst-link'));
    const job = await run({ type: 'sync', options: { source: `file://${src}/`, destination: 'dst-link/x' } });
    expect(job.status).to.equal('failed');
    expect(job.message).to.match(/refused: sync destination "dst-link\/x": "dst-link" is a symlink/);
  });

  it('class 1: directories swapped for escaping symlinks while a sync runs change nothing outside', async () => {
    const dst = path.join(mnt.mountpoint, 'race');
    const stop = { on: true };
    // Swaps for 4 s, then removes its links so that juicefs's retries of the refused copies succeed
    // and the job ends (it retries each failed object for a while).
    const until = Date.now() + 4000;
    const planter = (async () => {
      let n = 0;
      while (stop.on && Date.now() < until) {
        const d = path.join(dst, 'slow', `d${n++ % 4}`);
        try {
          fs.rmSync(d, { recursive: true, force: true });
          fs.symlinkSync(n % 2 ? outside : escapingRelativeLink(path.dirname(d)), d);
        } catch {
          // the sync may be creating the same directory right now
        }
        await sleep(5);
      }
      for (let d = 0; d < 4; d++) {
        const p = path.join(dst, 'slow', `d${d}`);
        if (fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink()) fs.unlinkSync(p);
      }
    })();
    try {
      const job = await run({
        type: 'sync',
        options: { source: `file://${src}/slow/`, destination: 'race/slow', flags: { bwlimit: 1, threads: 2, 'delete-dst': true } },
      });
      expect(job.status, job.message).to.be.oneOf(['succeeded', 'failed']);
    } finally {
      stop.on = false;
      await planter;
    }
  });

  it('class 2: rmr never deletes outside while the parent of its target is swapped for a symlink', async () => {
    const a = path.join(mnt.mountpoint, 'swap');
    const stop = { on: true };
    const swapper = (async () => {
      while (stop.on) {
        try {
          fs.rmSync(path.join(a, 'sub'), { recursive: true, force: true });
          fs.symlinkSync(path.join(outside, 'sub'), path.join(a, 'sub'));
          await sleep(1);
          fs.rmSync(path.join(a, 'sub'), { force: true });
          fs.mkdirSync(path.join(a, 'sub'), { recursive: true });
          fs.writeFileSync(path.join(a, 'sub', 'victim'), 'mine');
        } catch {
          // racing the removal itself
        }
        await sleep(1);
      }
    })();
    try {
      fs.mkdirSync(path.join(a, 'sub'), { recursive: true });
      for (let i = 0; i < 25; i++) {
        const job = await run({ type: 'rmr', options: { paths: ['swap/sub/victim'] } });
        // refused (the parent was a link at that moment) or done inside the dataset
        expect(job.status, job.message).to.be.oneOf(['succeeded', 'failed']);
        if (job.status === 'failed') expect(job.message).to.match(/refused: .*symlink/);
      }
    } finally {
      stop.on = false;
      await swapper;
    }
  });

  it('class 2: rmr removes a planted link as a link and fails (not falls through) when the mount refuses', async () => {
    fs.mkdirSync(path.join(mnt.mountpoint, 'links'));
    fs.symlinkSync(outside, path.join(mnt.mountpoint, 'links', 'out'));
    const ok = await run({ type: 'rmr', options: { paths: ['links/out'] } });
    expect(ok.status, ok.message).to.equal('succeeded');
    expect(fs.existsSync(path.join(mnt.mountpoint, 'links', 'out'))).to.equal(false);
    // a path through a regular file: refused before the mount is asked
    fs.writeFileSync(path.join(mnt.mountpoint, 'links', 'file'), 'x');
    const bad = await run({ type: 'rmr', options: { paths: ['links/file/x'] } });
    expect(bad.status).to.equal('failed');
    expect(bad.message).to.match(/not a directory/);
  });

  it('class 3: warmup list files that are FIFOs, sockets, links, virtual or huge files are refused at once; the queue goes on', async () => {
    const lists = path.join(mnt.mountpoint, 'lists');
    fs.mkdirSync(lists);
    execFileSync('mkfifo', [path.join(lists, 'fifo')]);
    fs.symlinkSync('../.accesslog', path.join(lists, 'accesslog-link'));
    fs.symlinkSync(path.join(outside, 'keep'), path.join(lists, 'out-link'));
    const big = fs.openSync(path.join(lists, 'huge'), 'w');
    fs.ftruncateSync(big, 3 * 1024 ** 3);
    fs.closeSync(big);
    const cases: [string, RegExp][] = [
      ['lists/fifo', /not a regular file/],
      ['lists/accesslog-link', /symlink/],
      ['lists/out-link', /symlink/],
      ['lists/huge', /larger than/],
      ['.accesslog', /not a dataset file/],
      ['.stats', /not a dataset file/],
      ['lists', /not a regular file/],
    ];
    for (const [file, why] of cases) {
      const t0 = Date.now();
      const job = await run({ type: 'warmup', options: { file, shard: 0, shards: 1 } });
      expect(job.status, `${file}: ${job.message}`).to.equal('failed');
      expect(job.message, file).to.match(why);
      expect(Date.now() - t0, file).to.be.below(5000);
    }
    // and a good list still works afterwards
    fs.writeFileSync(path.join(lists, 'good'), 'plain/f0.bin\nplain/f1.bin\n');
    fs.mkdirSync(path.join(mnt.mountpoint, 'plain'), { recursive: true });
    for (const f of ['f0.bin', 'f1.bin']) fs.writeFileSync(path.join(mnt.mountpoint, 'plain', f), crypto.randomBytes(2048));
    const good = await run({ type: 'warmup', options: { file: 'lists/good', shard: 0, shards: 1 } });
    expect(good.status, good.message).to.equal('succeeded');
    expect(good.progress).to.include({ filesDone: 2, filesTotal: 2 });
  });

  it('class 3: warmup never lists through links swapped in while it walks', async () => {
    const tree = path.join(mnt.mountpoint, 'walk');
    for (let d = 0; d < 20; d++) {
      fs.mkdirSync(path.join(tree, `d${d}`), { recursive: true });
      fs.writeFileSync(path.join(tree, `d${d}`, 'f'), 'x');
    }
    fs.symlinkSync(outside, path.join(tree, 'link'));
    const job = await run({ type: 'warmup', options: { paths: ['walk'], shard: 0, shards: 1 } });
    expect(job.status, job.message).to.equal('succeeded');
    // 20 files of the dataset, none of the 3 outside
    expect(job.progress).to.include({ filesTotal: 20 });
  });
});
