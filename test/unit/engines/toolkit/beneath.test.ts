// Race-free access under a root: symlinks are never followed, special files never read, and an
// entry swapped while an operation holds its parent changes nothing outside.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  lstatIn,
  openDirBeneath,
  readRegularFileBeneath,
  removeIn,
  walkBeneath,
  writeFileBeneath,
} from '../../../../src/engines/toolkit/beneath.js';
import { PathSafetyError } from '../../../../src/engines/toolkit/path-safety.js';

function write(p: string, content = 'x'): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof PathSafetyError ? `safety: ${err.message}` : `other: ${(err as Error).message}`;
  }
  return 'no error';
}

describe('beneath: file-system access that cannot leave its root', () => {
  let tmp: string;
  let root: string;
  let outside: string;

  beforeEach(() => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'beneath-')));
    root = path.join(tmp, 'root');
    outside = path.join(tmp, 'outside');
    write(path.join(outside, 'keep'), 'keep');
    write(path.join(outside, 'sub', 'victim'), 'victim');
    write(path.join(root, 'a', 'b', 'f'), 'ff');
    write(path.join(root, 'a', 'list'), 'a/b/f\n');
  });

  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const outsideIntact = (): void => {
    expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).to.equal('keep');
    expect(fs.readFileSync(path.join(outside, 'sub', 'victim'), 'utf8')).to.equal('victim');
  };

  it('opens directories one component at a time and refuses a symlink anywhere on the way', async () => {
    fs.symlinkSync(outside, path.join(root, 'a', 'out'));
    fs.symlinkSync('b', path.join(root, 'a', 'inner'));
    const dir = await openDirBeneath(root, '/a/b');
    expect(await lstatIn(dir, 'f')).to.have.property('size', 2);
    await dir.close();
    expect(await refusal(openDirBeneath(root, 'a/out/sub'))).to.match(/safety: "out" is a symlink/);
    // even a link that stays inside is not followed
    expect(await refusal(openDirBeneath(root, 'a/inner'))).to.match(/safety: "inner" is a symlink/);
    expect(await refusal(openDirBeneath(root, 'a/b/f'))).to.match(/safety: "f" is not a directory/);
    expect(await refusal(openDirBeneath(root, '../outside'))).to.match(/\.\./);
  });

  it('keeps working on the directory it holds when the path to it is swapped for a link', async () => {
    const dir = await openDirBeneath(root, 'a/b');
    // the tenant moves the real directory away and puts a link to outside in its place
    fs.renameSync(path.join(root, 'a', 'b'), path.join(root, 'a', 'moved'));
    fs.symlinkSync(path.join(outside, 'sub'), path.join(root, 'a', 'b'));
    expect(await lstatIn(dir, 'victim')).to.equal(undefined);
    expect(await removeIn(dir, 'f')).to.equal(1);
    await dir.close();
    expect(fs.existsSync(path.join(root, 'a', 'moved', 'f'))).to.equal(false);
    outsideIntact();
  });

  it('walks without following links and skips directories swapped while it walks', async () => {
    for (let i = 0; i < 5; i++) write(path.join(root, 'w', `d${i}`, 'f'), 'y');
    fs.symlinkSync(outside, path.join(root, 'w', 'link'));
    fs.symlinkSync(path.join(outside, 'keep'), path.join(root, 'w', 'file-link'));
    const seen: string[] = [];
    const skipped: string[] = [];
    const r = await walkBeneath(root, 'w', {
      onFile: (f) => {
        seen.push(f.rel);
        // after the first file, swap every not-yet-visited directory for a link to outside
        if (seen.length === 1) {
          for (let i = 0; i < 5; i++) {
            const d = path.join(root, 'w', `d${i}`);
            if (!seen.includes(`w/d${i}/f`)) {
              fs.rmSync(d, { recursive: true });
              fs.symlinkSync(outside, d);
            }
          }
        }
      },
      onSkipped: (rel) => skipped.push(rel),
    });
    expect(seen).to.have.length(1);
    expect(r.files).to.equal(1);
    expect(skipped).to.have.length(4);
    expect(seen.concat(skipped).every((p) => p.startsWith('w/d'))).to.equal(true);
    expect(await refusal(walkBeneath(root, 'w/link', { onFile: () => {} }))).to.match(/safety: "w\/link" is a symlink/);
    expect((await walkBeneath(root, 'nope', { onFile: () => {} })).exists).to.equal(false);
  });

  it('removes trees containing links to outside by unlinking the links only', async () => {
    write(path.join(root, 't', 'x', 'y'), 'z');
    fs.symlinkSync(outside, path.join(root, 't', 'dirlink'));
    fs.symlinkSync(path.join(outside, 'keep'), path.join(root, 't', 'x', 'filelink'));
    fs.symlinkSync('../../../outside', path.join(root, 't', 'x', 'rel'));
    const dir = await openDirBeneath(root, '');
    expect(await removeIn(dir, 't')).to.equal(6); // t, x, y and the three links
    await dir.close();
    expect(fs.existsSync(path.join(root, 't'))).to.equal(false);
    outsideIntact();
  });

  it('reads only regular files, bounded in size and time: FIFOs, devices, links and big files are refused at once', async () => {
    expect(await readRegularFileBeneath(root, 'a/list', { maxBytes: 100, timeoutMs: 1000 })).to.equal('a/b/f\n');
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    fs.symlinkSync(path.join(outside, 'keep'), path.join(root, 'link'));
    fs.symlinkSync('/dev/zero', path.join(root, 'zero-link'));
    let device = false;
    try {
      execFileSync('mknod', [path.join(root, 'zero'), 'c', '1', '5'], { stdio: 'ignore' });
      device = true;
    } catch {
      // not permitted here (not root): the other cases still run
    }
    const big = fs.openSync(path.join(root, 'big'), 'w');
    fs.ftruncateSync(big, 1024 * 1024);
    fs.closeSync(big);
    const cases: [string, RegExp][] = [
      ['fifo', /not a regular file/],
      ['link', /symlink/],
      ['zero-link', /symlink/],
      ['big', /larger than 1000 bytes/],
      ['a', /not a regular file/],
      ['a/b/missing', /does not exist/],
      ...(device ? ([['zero', /not a regular file/]] as [string, RegExp][]) : []),
    ];
    for (const [rel, why] of cases) {
      const t0 = Date.now();
      expect(await refusal(readRegularFileBeneath(root, rel, { maxBytes: 1000, timeoutMs: 2000 })), rel).to.match(why);
      expect(Date.now() - t0, rel).to.be.below(1000);
    }
  });

  it('a cancelled read ends at once', async () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled by the user'));
    expect(await refusal(readRegularFileBeneath(root, 'a/list', { maxBytes: 100, timeoutMs: 1000, signal: ac.signal }))).to.match(
      /cancelled by the user/,
    );
  });

  it('writes never through a planted link', async () => {
    await writeFileBeneath(root, 'new/dir/file', Buffer.from('data'));
    expect(fs.readFileSync(path.join(root, 'new', 'dir', 'file'), 'utf8')).to.equal('data');
    fs.symlinkSync(path.join(outside, 'keep'), path.join(root, 'new', 'l'));
    fs.symlinkSync(outside, path.join(root, 'new', 'dl'));
    expect(await refusal(writeFileBeneath(root, 'new/l', Buffer.from('evil')))).to.match(/symlink/);
    expect(await refusal(writeFileBeneath(root, 'new/dl/keep', Buffer.from('evil')))).to.match(/symlink/);
    outsideIntact();
  });
});
