import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  isInside,
  normalizeUserPath,
  PathSafetyError,
  resolveExistingUnderRoot,
  resolveUnderRoot,
} from '../../../../src/engines/toolkit/path-safety.js';

async function rejects(p: Promise<unknown>, re?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(PathSafetyError);
    if (re) expect((err as Error).message).to.match(re);
    return;
  }
  expect.fail('expected a PathSafetyError');
}

describe('path safety', () => {
  let tmp: string;
  let root: string;
  let outside: string;

  before(() => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'path-safety-')));
    root = path.join(tmp, 'root');
    outside = path.join(tmp, 'outside');
    fs.mkdirSync(path.join(root, 'train', 'a'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(root, 'train', 'a', 'x.jpg'), 'x');
    fs.writeFileSync(path.join(outside, 'secret'), 's');
    fs.symlinkSync(outside, path.join(root, 'escape-dir'));
    fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'escape-file'));
    fs.symlinkSync('../outside', path.join(root, 'escape-rel'));
    fs.symlinkSync('train/a', path.join(root, 'inside-link'));
    fs.symlinkSync('/nonexistent/target', path.join(root, 'dangling'));
    fs.symlinkSync(path.join(outside, 'not-yet'), path.join(root, 'dangling-out'));
    fs.symlinkSync(root, path.join(tmp, 'root-link'));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('normalizeUserPath', () => {
    it('treats a leading / as the root and collapses empty and . segments', () => {
      expect(normalizeUserPath('/')).to.equal('');
      expect(normalizeUserPath('')).to.equal('');
      expect(normalizeUserPath('/train//a/./b/')).to.equal('train/a/b');
      expect(normalizeUserPath('train')).to.equal('train');
      expect(normalizeUserPath('..foo/bar..')).to.equal('..foo/bar..');
    });
    it('rejects .. segments, NUL and over-long paths', () => {
      for (const bad of ['..', '../x', 'a/../b', 'a/..', '/..', 'a/b/../../..', 'a\0b']) {
        expect(() => normalizeUserPath(bad), JSON.stringify(bad)).to.throw(PathSafetyError);
      }
      expect(() => normalizeUserPath('a'.repeat(5000))).to.throw(PathSafetyError);
      expect(() => normalizeUserPath(42 as unknown as string)).to.throw(PathSafetyError);
    });
  });

  it('isInside', () => {
    expect(isInside('/a', '/a')).to.equal(true);
    expect(isInside('/a', '/a/b')).to.equal(true);
    expect(isInside('/a', '/ab')).to.equal(false);
    expect(isInside('/a', '/')).to.equal(false);
    expect(isInside('/a', '/a/..b')).to.equal(true);
  });

  it('resolves paths inside the root, existing or not', async () => {
    expect(await resolveUnderRoot(root, '/train/a/x.jpg')).to.equal(path.join(root, 'train/a/x.jpg'));
    expect(await resolveUnderRoot(root, 'train')).to.equal(path.join(root, 'train'));
    expect(await resolveUnderRoot(root, '/')).to.equal(root);
    expect(await resolveUnderRoot(root, 'new/dir/file')).to.equal(path.join(root, 'new/dir/file'));
    expect(await resolveUnderRoot(root, 'inside-link/x.jpg')).to.equal(path.join(root, 'train/a/x.jpg'));
    // a root that is itself a symlink is resolved first
    expect(await resolveUnderRoot(path.join(tmp, 'root-link'), 'train')).to.equal(path.join(root, 'train'));
  });

  it('refuses .. and NUL', async () => {
    await rejects(resolveUnderRoot(root, '../outside/secret'), /\.\./);
    await rejects(resolveUnderRoot(root, 'train/../../outside'), /\.\./);
    await rejects(resolveUnderRoot(root, 'train\0'), /NUL/);
  });

  it('refuses symlink escapes (absolute, relative, through a directory, dangling)', async () => {
    await rejects(resolveUnderRoot(root, 'escape-dir'), /outside/);
    await rejects(resolveUnderRoot(root, 'escape-dir/secret'), /outside/);
    await rejects(resolveUnderRoot(root, 'escape-file'), /outside/);
    await rejects(resolveUnderRoot(root, 'escape-rel/secret'), /outside/);
    await rejects(resolveUnderRoot(root, 'escape-dir/new/file'), /outside/);
    await rejects(resolveUnderRoot(root, 'dangling'), /dangling/);
    await rejects(resolveUnderRoot(root, 'dangling-out/x'), /dangling/);
  });

  it('noFollowFinal names a symlink itself (to remove it) but still checks its parent', async () => {
    expect(await resolveUnderRoot(root, 'escape-dir', { noFollowFinal: true })).to.equal(path.join(root, 'escape-dir'));
    expect(await resolveUnderRoot(root, 'dangling', { noFollowFinal: true })).to.equal(path.join(root, 'dangling'));
    await rejects(resolveUnderRoot(root, 'escape-dir/secret', { noFollowFinal: true }), /outside/);
  });

  it('allowRoot: false refuses the root itself, also through a link', async () => {
    await rejects(resolveUnderRoot(root, '/', { allowRoot: false }), /root/);
    await rejects(resolveUnderRoot(root, '.', { allowRoot: false }), /root/);
    fs.symlinkSync('.', path.join(root, 'self'));
    try {
      await rejects(resolveUnderRoot(root, 'self', { allowRoot: false }), /root/);
    } finally {
      fs.unlinkSync(path.join(root, 'self'));
    }
  });

  it('mustExist and resolveExistingUnderRoot', async () => {
    await rejects(resolveUnderRoot(root, 'nope', { mustExist: true }), /does not exist/);
    expect(await resolveExistingUnderRoot(root, 'nope')).to.equal(undefined);
    expect(await resolveExistingUnderRoot(root, 'train')).to.equal(path.join(root, 'train'));
  });
});
