// The JuiceFS runtime's file-system logic on plain directories (a fake `.config`, a fake juicefs
// script); the real binary and FUSE are exercised in test/integration.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobExecution } from '../../../../src/engines/cache-engine.js';
import { JuiceFsRuntime } from '../../../../src/engines/juicefs/juicefs-runtime.js';
import { canonicalOrder } from '../../../../src/engines/juicefs/sharding.js';
import type { JobProgressReport } from '../../../../src/runtime/protocol.js';

const UUID = '11111111-2222-3333-4444-555555555555';
const OTHER = '99999999-8888-7777-6666-555555555555';

function exec(): JobExecution & { progress: JobProgressReport[]; messages: string[]; logs: string[] } {
  const progress: JobProgressReport[] = [];
  const messages: string[] = [];
  const logs: string[] = [];
  return { signal: new AbortController().signal, onProgress: (p) => progress.push(p), log: (m) => logs.push(m), setMessage: (m) => messages.push(m), progress, messages, logs };
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
    rt = new JuiceFsRuntime({ dataDir: data, cacheDirs: tiers, hostCacheDirs: ['/host/ssd0', '/host/ssd1'], binary: fakeBin, baseEnv: { PATH: process.env.PATH, FAKE_LOG: fakeLog } });
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
    const refused = [[`/host/ssd0/${OTHER}/raw`], [`/host/ssd0/${UUID}/rawstaging`], ['/etc'], ['/host/ssd0/../../etc'], [`${UUID}/raw/escape`], [`${UUID}/raw/escape/keep`]];
    for (const paths of refused) {
      try {
        await rt.run('clear', { paths }, undefined, exec());
        expect.fail(`should refuse ${paths[0]}`);
      } catch (err) {
        expect((err as Error).message, paths[0]).to.match(/refused|\.\./);
      }
    }
    expect(exists(path.join(tmp, 'outside', 'keep'))).to.equal(true);
    expect(exists(path.join(tiers[0], OTHER, 'raw', 'chunks', '0', '0', '1_0_4'))).to.equal(true);
  });

  it('rmr removes exactly the given paths, never the root, a symlink as a link', async () => {
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(data, 'link-out'));
    const e = exec();
    await rt.run('rmr', { paths: ['/train/f1.bin', 'val', 'link-out', 'missing'] }, undefined, e);
    expect(exists(path.join(data, 'train', 'f1.bin'))).to.equal(false);
    expect(exists(path.join(data, 'train', 'f2.bin'))).to.equal(true);
    expect(exists(path.join(data, 'val'))).to.equal(false);
    expect(fs.existsSync(path.join(data, 'link-out'))).to.equal(false);
    expect(exists(path.join(tmp, 'outside', 'keep'))).to.equal(true);
    expect(e.messages[0]).to.equal('removed 3 path(s); 1 did not exist');
    for (const paths of [['/'], ['../outside'], ['link-out2/keep'], ['.config']]) {
      if (paths[0] === 'link-out2/keep') fs.symlinkSync(path.join(tmp, 'outside'), path.join(data, 'link-out2'));
      try {
        await rt.run('rmr', { paths }, undefined, exec());
        expect.fail(`should refuse ${paths[0]}`);
      } catch (err) {
        expect((err as Error).message).to.match(/refused|\.\./);
      }
    }
    expect(exists(path.join(tmp, 'outside', 'keep'))).to.equal(true);
    expect(exists(data)).to.equal(true);
  });

  it('warmup lists files (no control files), keeps this shard and hands the list to juicefs', async () => {
    const lists: string[][] = [];
    for (let shard = 0; shard < 3; shard++) {
      fs.rmSync(fakeLog, { force: true });
      const e = exec();
      await rt.run('warmup', { shard, shards: 3, strategy: 'sequence' }, undefined, e);
      const listed = fs.readFileSync(fakeLog, 'utf8').trim().split('\n').filter(Boolean);
      lists.push(listed);
      const last = e.progress[e.progress.length - 1];
      expect(last.filesDone).to.equal(listed.length);
      expect(last.filesTotal).to.equal(listed.length);
      expect(last.bytesDone).to.equal(last.bytesTotal);
    }
    const all = lists.flat();
    expect(all).to.have.length(11);
    expect(new Set(all).size).to.equal(11);
    expect(all.every((p) => p.startsWith(`${data}/`))).to.equal(true);
    expect(all.some((p) => p.includes('.config') || p.includes('.stats'))).to.equal(false);
    const rel = canonicalOrder(all.map((p) => path.relative(data, p)));
    expect(lists[0].map((p) => path.relative(data, p))).to.deep.equal(rel.filter((_r, i) => i % 3 === 0));
  });

  it('warmup takes paths and a list file, and refuses escapes', async () => {
    write(path.join(data, 'lists', 'w.txt'), '/train/f1.bin\ntrain/f2.bin\n# comment\n\n');
    fs.rmSync(fakeLog, { force: true });
    await rt.run('warmup', { shard: 0, shards: 1, file: 'lists/w.txt', paths: ['val'] }, undefined, exec());
    const listed = fs.readFileSync(fakeLog, 'utf8').trim().split('\n');
    expect(listed.map((p) => path.relative(data, p))).to.deep.equal(['train/f1.bin', 'train/f2.bin', 'val/v.bin']);
    // a missing path fails; a stale entry of a list file is skipped
    try {
      await rt.run('warmup', { shard: 0, shards: 1, paths: ['nope'] }, undefined, exec());
      expect.fail('should fail');
    } catch (err) {
      expect((err as Error).message).to.match(/does not exist/);
    }
    write(path.join(data, 'lists', 'stale.txt'), 'gone.bin\nval/v.bin\n');
    fs.rmSync(fakeLog, { force: true });
    const e = exec();
    await rt.run('warmup', { shard: 0, shards: 1, file: 'lists/stale.txt' }, undefined, e);
    expect(fs.readFileSync(fakeLog, 'utf8').trim()).to.equal(path.join(data, 'val', 'v.bin'));
    expect(e.logs.join('\n')).to.match(/1 path\(s\) of the list file do not exist/);
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(data, 'esc'));
    for (const o of [{ paths: ['esc'] }, { paths: ['../outside'] }, { file: 'esc/keep' }]) {
      try {
        await rt.run('warmup', { shard: 0, shards: 1, ...o }, undefined, exec());
        expect.fail('should refuse');
      } catch (err) {
        expect((err as Error).message).to.match(/refused|\.\./);
      }
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
