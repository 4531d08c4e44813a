// The JuiceFS runtime's file-system logic on plain directories (a fake `.config`, a fake juicefs
// script); the real binary, FUSE and the mount's control file are exercised in test/integration.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobExecution } from '../../../../src/engines/cache-engine.js';
import { JuiceFsRuntime } from '../../../../src/engines/juicefs/juicefs-runtime.js';
import { rmrTargets } from '../../../../src/engines/juicefs/juicefs-rmr.js';
import { WARMUP_LIST_MAX_BYTES, warmupTargets } from '../../../../src/engines/juicefs/juicefs-warmup.js';
import { canonicalOrder } from '../../../../src/engines/juicefs/sharding.js';
import type { JobProgressReport } from '../../../../src/api/runtime-protocol.js';

const UUID = '11111111-2222-3333-4444-555555555555';
const OTHER = '99999999-8888-7777-6666-555555555555';

function exec(): JobExecution & { progress: JobProgressReport[]; messages: string[]; logs: string[] } {
  const progress: JobProgressReport[] = [];
  const messages: string[] = [];
  const logs: string[] = [];
  return {
    signal: new AbortController().signal,
    onProgress: (p) => progress.push(p),
    log: (m) => logs.push(m),
    setMessage: (m) => messages.push(m),
    progress,
    messages,
    logs,
  };
}

/**
 * The error `p` rejects with. A `p` that resolves fails the test here, outside any catch, so the
 * failure cannot be taken for the refusal the caller then matches.
 */
async function refusalOf(p: Promise<unknown>, what: string): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected a refusal: ${what}`);
}

function write(p: string, content = 'x'): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}

describe('JuiceFsRuntime (file-system logic)', () => {
  let tmp: string;
  let data: string;
  let tiers: string[];
  let fakeBin: string;
  let fakeLog: string;
  let rt: JuiceFsRuntime;

  beforeEach(() => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'jfs-runtime-')));
    data = path.join(tmp, 'data');
    tiers = [path.join(tmp, 'tier0'), path.join(tmp, 'tier1')];
    write(path.join(data, '.config'), JSON.stringify({ Format: { Name: 'vol', UUID } }));
    write(path.join(data, '.stats'), 'juicefs_blockcache_bytes 7\n');
    for (let i = 0; i < 10; i++) write(path.join(data, 'train', `f${i}.bin`), 'y'.repeat(100 + i));
    write(path.join(data, 'val', 'v.bin'), 'vv');
    for (const t of tiers) {
      write(path.join(t, UUID, 'raw', 'chunks', '0', '0', '1_0_4'), 'abcd');
      write(path.join(t, UUID, 'raw', 'chunks', '0', '1', '2_0_4'), 'efgh');
      write(path.join(t, UUID, 'rawstaging', 'chunks', '0', '0', '3_0_4'), 'stag');
      write(path.join(t, OTHER, 'raw', 'chunks', '0', '0', '1_0_4'), 'othr');
    }
    fs.mkdirSync(path.join(tmp, 'outside'));
    write(path.join(tmp, 'outside', 'keep'), 'keep');
    fakeLog = path.join(tmp, 'fake.log');
    fakeBin = path.join(tmp, 'juicefs');
    fs.writeFileSync(
      fakeBin,
      `#!/bin/sh\ncase "$1" in\n  warmup) f="\${2#--file=}"; cat "$f" >> "$FAKE_LOG"; echo "warmup cache: ok" >&2 ;;\n  info) echo "no JuiceFS" >&2; exit 1 ;;\n  *) exit 2 ;;\nesac\n`,
      { mode: 0o755 },
    );
    rt = new JuiceFsRuntime({
      dataDir: data,
      cacheDirs: tiers,
      hostCacheDirs: ['/host/ssd0', '/host/ssd1'],
      binary: fakeBin,
      baseEnv: { PATH: process.env.PATH, FAKE_LOG: fakeLog },
    });
  });

  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const exists = (p: string) => fs.existsSync(p);

  it('reads the volume UUID from .config', async () => {
    expect(await rt.volumeUuid()).to.equal(UUID);
    fs.writeFileSync(path.join(data, '.config'), '{"Format":{"UUID":"../../etc"}}');
    const fresh = new JuiceFsRuntime({ dataDir: data, cacheDirs: tiers, binary: fakeBin });
    try {
      await fresh.volumeUuid();
      expect.fail('should throw');
    } catch (err) {
      expect((err as Error).message).to.match(/UUID/);
    }
  });

  it('reads .config again when a read does not parse (a mount that is still settling)', async () => {
    const good = fs.readFileSync(path.join(data, '.config'), 'utf8');
    fs.writeFileSync(path.join(data, '.config'), good.slice(0, good.length - 3)); // truncated
    const fresh = new JuiceFsRuntime({ dataDir: data, cacheDirs: tiers, binary: fakeBin });
    setTimeout(() => fs.writeFileSync(path.join(data, '.config'), good), 250);
    expect(await fresh.volumeUuid()).to.equal(UUID);
  });

  it('clear with no paths empties only <tier>/<uuid>/raw of every tier', async () => {
    const e = exec();
    await rt.run('clear', {}, undefined, e);
    for (const t of tiers) {
      expect(fs.readdirSync(path.join(t, UUID, 'raw'))).to.deep.equal([]);
      expect(exists(path.join(t, UUID, 'rawstaging', 'chunks', '0', '0', '3_0_4'))).to.equal(true);
      expect(exists(path.join(t, OTHER, 'raw', 'chunks', '0', '0', '1_0_4'))).to.equal(true);
    }
    expect(e.messages[0]).to.match(/removed 4 cached blocks/);
  });

  it('clear maps host paths to tiers and accepts paths inside raw only', async () => {
    await rt.run('clear', { paths: ['/host/ssd0'] }, undefined, exec());
    expect(fs.readdirSync(path.join(tiers[0], UUID, 'raw'))).to.deep.equal([]);
    expect(exists(path.join(tiers[1], UUID, 'raw', 'chunks', '0', '0', '1_0_4'))).to.equal(true);

    await rt.run('clear', { paths: [`/host/ssd1/${UUID}/raw/chunks/0/1`] }, undefined, exec());
    expect(exists(path.join(tiers[1], UUID, 'raw', 'chunks', '0', '1'))).to.equal(false);
    expect(exists(path.join(tiers[1], UUID, 'raw', 'chunks', '0', '0', '1_0_4'))).to.equal(true);

    // relative to a tier: applied to every tier
    await rt.run('clear', { paths: [`${UUID}/raw`] }, undefined, exec());
    expect(fs.readdirSync(path.join(tiers[1], UUID, 'raw'))).to.deep.equal([]);
  });

  it('clear refuses other volumes, staging blocks, paths outside the tiers and symlink escapes', async () => {
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(tiers[0], UUID, 'raw', 'escape'));
    const refused = [
      [`/host/ssd0/${OTHER}/raw`],
      [`/host/ssd0/${UUID}/rawstaging`],
      ['/etc'],
      ['/host/ssd0/../../etc'],
      [`${UUID}/raw/escape`],
      [`${UUID}/raw/escape/keep`],
    ];
    for (const paths of refused) {
      const err = await refusalOf(rt.run('clear', { paths }, undefined, exec()), paths[0]);
      expect(err.message, paths[0]).to.match(/refused|\.\./);
    }
    expect(exists(path.join(tmp, 'outside', 'keep'))).to.equal(true);
    expect(exists(path.join(tiers[0], OTHER, 'raw', 'chunks', '0', '0', '1_0_4'))).to.equal(true);
  });

  it('rmr targets: never the root or a control file; duplicates and nested paths collapse', () => {
    expect(rmrTargets(['/train/f1.bin', 'train', 'val/', 'val', 'b/c', 'b/c/d'])).to.deep.equal(canonicalOrder(['b/c', 'train', 'val']));
    for (const p of ['/', '', '.', '.config', '/.control', '.trash/x', '../outside', 'a/../../x']) {
      expect(() => rmrTargets([p]), p).to.throw();
    }
  });

  it('rmr refuses to run on a directory that is not a JuiceFS mount (nothing removed)', async () => {
    write(path.join(data, '.control'), "a tenant file, not the mount's control file");
    try {
      await rt.run('rmr', { paths: ['val'] }, undefined, exec());
      expect.fail('should refuse');
    } catch (err) {
      expect((err as Error).message).to.match(/not a JuiceFS mount/);
    }
    expect(exists(path.join(data, 'val', 'v.bin'))).to.equal(true);
  });

  it('warmup lists files without control files, symlinks or special files', async () => {
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(data, 'train', 'link-dir'));
    fs.symlinkSync(path.join(tmp, 'outside', 'keep'), path.join(data, 'train', 'link-file'));
    execFileSync('mkfifo', [path.join(data, 'train', 'fifo')]);
    const e = exec();
    const files = await warmupTargets({ shard: 0, shards: 1 }, data, e);
    expect(canonicalOrder(files.keys())).to.deep.equal(
      canonicalOrder([...Array.from({ length: 10 }, (_, i) => `train/f${i}.bin`), 'val/v.bin']),
    );
  });

  it('warmup takes paths and a list file; a missing path fails, a stale list entry is skipped', async () => {
    write(path.join(data, 'lists', 'w.txt'), '/train/f1.bin\ntrain/f2.bin\n# comment\n\n');
    const listed = await warmupTargets({ shard: 0, shards: 1, file: 'lists/w.txt', paths: ['val'] }, data, exec());
    expect(canonicalOrder(listed.keys())).to.deep.equal(['train/f1.bin', 'train/f2.bin', 'val/v.bin']);
    try {
      await warmupTargets({ shard: 0, shards: 1, paths: ['nope'] }, data, exec());
      expect.fail('should fail');
    } catch (err) {
      expect((err as Error).message).to.match(/does not exist/);
    }
    write(path.join(data, 'lists', 'stale.txt'), 'gone.bin\nval/v.bin\n../../outside/keep\nesc/keep\n');
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(data, 'esc'));
    const e = exec();
    const stale = await warmupTargets({ shard: 0, shards: 1, file: 'lists/stale.txt' }, data, e);
    expect([...stale.keys()]).to.deep.equal(['val/v.bin']);
    expect(e.logs.join('\n')).to.match(/1 path\(s\) of the list file do not exist/);
  });

  it('warmup refuses escapes, symlinked, special and oversized list files', async () => {
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(data, 'esc'));
    fs.symlinkSync(path.join(tmp, 'outside', 'keep'), path.join(data, 'list-link'));
    execFileSync('mkfifo', [path.join(data, 'list-fifo')]);
    fs.mkdirSync(path.join(data, 'list-dir'));
    const big = fs.openSync(path.join(data, 'list-big'), 'w');
    fs.ftruncateSync(big, WARMUP_LIST_MAX_BYTES + 1);
    fs.closeSync(big);
    const cases: [object, RegExp][] = [
      [{ paths: ['../outside'] }, /\.\./],
      [{ paths: ['esc/keep'] }, /symlink/],
      [{ file: 'esc/keep' }, /symlink/],
      [{ file: 'list-link' }, /symlink/],
      [{ file: 'list-fifo' }, /not a regular file/],
      [{ file: 'list-dir' }, /not a regular file/],
      [{ file: 'list-big' }, /larger than/],
      [{ file: '.config' }, /not a dataset file/],
      [{ file: '.accesslog' }, /not a dataset file/],
    ];
    for (const [o, why] of cases) {
      const started = Date.now();
      const err = await refusalOf(warmupTargets({ shard: 0, shards: 1, ...o }, data, exec()), JSON.stringify(o));
      expect(err.message, JSON.stringify(o)).to.match(why);
      expect(Date.now() - started, JSON.stringify(o)).to.be.lessThan(2000);
    }
  });

  it('refuses file:// sync sources unless allowed, and outside the allowed roots', async () => {
    try {
      await rt.run('sync', { source: `file://${tmp}/outside/` }, undefined, exec());
      expect.fail('should refuse');
    } catch (err) {
      expect((err as Error).message).to.match(/disabled/);
    }
    const allowed = new JuiceFsRuntime({ dataDir: data, cacheDirs: tiers, binary: fakeBin, fileSourceRoots: [path.join(tmp, 'src')] });
    fs.mkdirSync(path.join(tmp, 'src'));
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(tmp, 'src', 'link'));
    for (const source of [`file://${tmp}/outside/`, `file://${tmp}/src/link/`]) {
      try {
        await allowed.run('sync', { source }, undefined, exec());
        expect.fail('should refuse');
      } catch (err) {
        expect((err as Error).message).to.match(/outside the allowed/);
      }
    }
    try {
      await allowed.run('sync', { source: 's3://b/x', destination: '../../etc' }, undefined, exec());
      expect.fail('should refuse');
    } catch (err) {
      expect((err as Error).message).to.match(/refused/);
    }
  });

  it('reports statistics: dataset by walking (when juicefs info fails), cached blocks of this volume, tiers once per device', async () => {
    const s = await rt.stats();
    expect(s.totalFiles).to.equal(11);
    expect(s.totalBytes).to.equal(Array.from({ length: 10 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0) + 2);
    expect(s.cachedBytes).to.equal(16); // 2 blocks x 4 bytes x 2 tiers; not staging, not the other volume
    expect(s.tiers).to.have.length(1); // both tiers live on the same file system
    expect(s.tiers[0].path).to.equal('/host/ssd0');
    expect(s.tiers[0].sizeBytes).to.be.greaterThan(0);
    expect(s.errors?.join(' ')).to.match(/juicefs info/);
  });
});
