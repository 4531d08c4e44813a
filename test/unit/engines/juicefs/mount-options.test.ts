import { expect } from 'chai';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { checkCacheRoots } from '../../../../src/engines/toolkit/cache-roots.js';
import {
  buildMountConfig,
  checkCacheDir,
  defaultCacheDir,
  mountOptionsString,
  parseMountOptions,
  placeCacheDir,
} from '../../../../src/engines/juicefs/mount-options.js';
import type { JuiceFSMountOptions } from '../../../../src/api/sampleset.js';
import { sampleSet } from '../fixtures.js';

function specError(fn: () => unknown, reason: string, text?: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(SpecError);
    expect((err as SpecError).reason).to.equal(reason);
    if (text) expect((err as SpecError).message).to.match(text);
    return;
  }
  expect.fail(`expected SpecError ${reason}`);
}

/** Cache roots of these tests (the operator's --cache-root). */
const ROOTS = ['/dev/shm/paddle-operator', '/data/cache'];

describe('juicefs mount options', () => {
  it('builds the original example deterministically, sorted by flag', () => {
    const s = sampleSet({
      csi: {
        driver: 'juicefs',
        juiceFSMountOptions: {
          'open-cache': 7200,
          'attr-cache': 7200,
          'entry-cache': 7200,
          'dir-entry-cache': 7200,
          prefetch: 1,
          'buffer-size': 1024,
          'enable-xattr': true,
          writeback: true,
          'free-space-ratio': '0.2',
        },
      },
      cache: {
        levels: [
          { mediumType: 'MEM', path: '/dev/shm/paddle-operator/imagenet-0:/dev/shm/paddle-operator/imagenet-1', cacheSize: 150 },
          { mediumType: 'SSD', path: '/data/cache', cacheSize: 150 },
        ],
      },
    });
    const cfg = buildMountConfig(s, ROOTS);
    expect(cfg.options).to.deep.equal([
      'attr-cache=7200',
      'buffer-size=1024',
      'cache-dir=/dev/shm/paddle-operator/ml_imagenet/imagenet-0:/dev/shm/paddle-operator/ml_imagenet/imagenet-1:/data/cache/ml_imagenet',
      'cache-size=300',
      'dir-entry-cache=7200',
      'enable-xattr',
      'entry-cache=7200',
      'free-space-ratio=0.2',
      'open-cache=7200',
      'prefetch=1',
      'writeback',
    ]);
    expect(cfg.cacheDirs).to.deep.equal([
      '/dev/shm/paddle-operator/ml_imagenet/imagenet-0',
      '/dev/shm/paddle-operator/ml_imagenet/imagenet-1',
      '/data/cache/ml_imagenet',
    ]);
    expect(cfg.declaredCacheDirs).to.deep.equal([
      '/dev/shm/paddle-operator/imagenet-0',
      '/dev/shm/paddle-operator/imagenet-1',
      '/data/cache',
    ]);
    expect(cfg.cacheSize).to.equal('300');
    expect(mountOptionsString(cfg)).to.equal(cfg.options.join(','));
  });

  it('is independent of the key order of the spec', () => {
    const a = sampleSet({ csi: { juiceFSMountOptions: { prefetch: 2, 'attr-cache': 5, writeback: true } } });
    const b = sampleSet({ csi: { juiceFSMountOptions: { writeback: true, 'attr-cache': 5, prefetch: 2 } } });
    expect(mountOptionsString(buildMountConfig(a))).to.equal(mountOptionsString(buildMountConfig(b)));
  });

  it('has sane defaults: a per-SampleSet cache dir and 100 GiB, not 1 EiB', () => {
    const cfg = buildMountConfig(sampleSet());
    expect(cfg.cacheDirs).to.deep.equal(['/var/lib/paddle-operator/cache/ml_imagenet']);
    expect(defaultCacheDir(sampleSet())).to.equal('/var/lib/paddle-operator/cache/ml_imagenet');
    expect(cfg.options).to.deep.equal(['cache-dir=/var/lib/paddle-operator/cache/ml_imagenet', 'cache-size=102400', 'open-cache=300']);
    expect(buildMountConfig(sampleSet(), ROOTS).cacheDirs).to.deep.equal(['/dev/shm/paddle-operator/ml_imagenet']);
  });

  it('keeps opened files in the open cache for 300 s unless the SampleSet says otherwise', () => {
    const openCache = (o?: JuiceFSMountOptions): string[] =>
      buildMountConfig(sampleSet(o ? { csi: { juiceFSMountOptions: o } } : {})).options.filter((f) => f.startsWith('open-cache'));
    expect(openCache()).to.deep.equal(['open-cache=300']);
    expect(openCache({ prefetch: 2 })).to.deep.equal(['open-cache=300']);
    expect(openCache({ 'open-cache': 0 })).to.deep.equal(['open-cache=0']);
    expect(openCache({ 'open-cache': '1h' })).to.deep.equal(['open-cache=1h']);
    expect(openCache({ 'open-cache': null } as unknown as JuiceFSMountOptions)).to.deep.equal(['open-cache=300']);
    // the kernel's metadata caches stay JuiceFS's (1 s): the engine sets none of them
    const flags = buildMountConfig(sampleSet()).options.map((f) => f.split('=')[0]);
    expect(flags).to.not.include.members(['attr-cache', 'entry-cache', 'dir-entry-cache', 'negative-entry-cache']);
    specError(() => openCache({ 'open-cache': -1 }), 'InvalidMountOption', /open-cache/);
  });

  it('uses the user cache-size when no level has one, the levels sum otherwise', () => {
    expect(buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'cache-size': 2048 } } })).cacheSize).to.equal('2048');
    const levels = sampleSet({
      csi: { juiceFSMountOptions: { 'cache-size': 2048 } },
      cache: { levels: [{ mediumType: 'SSD', path: '/data/cache/x', cacheSize: 10 }] },
    });
    expect(buildMountConfig(levels, ROOTS).cacheSize).to.equal('10');
    const noSizes = sampleSet({ cache: { levels: [{ mediumType: 'SSD', path: '/data/cache/x' }] } });
    expect(buildMountConfig(noSizes, ROOTS).cacheSize).to.equal('102400');
  });

  it('levels win over a cache-dir option; cache-dir alone is used when there are no levels', () => {
    const both = sampleSet({
      csi: { juiceFSMountOptions: { 'cache-dir': '/data/cache/a' } },
      cache: { levels: [{ mediumType: 'SSD', path: '/data/cache/b' }] },
    });
    expect(buildMountConfig(both, ROOTS).cacheDirs).to.deep.equal(['/data/cache/ml_imagenet/b']);
    const only = sampleSet({ csi: { juiceFSMountOptions: { 'cache-dir': '/data/cache/a:/dev/shm/paddle-operator/c' } } });
    expect(buildMountConfig(only, ROOTS).cacheDirs).to.deep.equal(['/data/cache/ml_imagenet/a', '/dev/shm/paddle-operator/ml_imagenet/c']);
    const mem = sampleSet({ csi: { juiceFSMountOptions: { 'cache-dir': 'memory' } } });
    expect(buildMountConfig(mem).cacheDirs).to.deep.equal([]);
    expect(buildMountConfig(mem).options).to.include('cache-dir=memory');
  });

  it('maps sub-dir to subdir and leaves false booleans out', () => {
    const cfg = buildMountConfig(
      sampleSet({ csi: { juiceFSMountOptions: { 'sub-dir': '/datasets/imagenet/', writeback: false, 'enable-xattr': true } } }),
    );
    expect(cfg.options).to.include('subdir=datasets/imagenet');
    expect(cfg.options).to.include('enable-xattr');
    expect(cfg.options.join(',')).to.not.include('writeback');
    expect(cfg.options.join(',')).to.not.include('sub-dir');
  });

  it('validates free-space-ratio in [0, 1)', () => {
    for (const ok of ['0', '0.1', '.5', '0.99'])
      expect(() => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'free-space-ratio': ok } } }))).to.not.throw();
    for (const bad of ['1', '1.0', '-0.1', 'abc', '2']) {
      specError(
        () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'free-space-ratio': bad } } })),
        'InvalidMountOption',
        /free-space-ratio/,
      );
    }
  });

  it('rejects unknown and unsafe options', () => {
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'update-fstab': true } } })),
      'InvalidMountOption',
      /not a supported/,
    );
    specError(() => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { bucket: 's3://x' } } })), 'InvalidMountOption');
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'attr-cache': '1,allow_root' as unknown as number } } })),
      'InvalidMountOption',
      /','/,
    );
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { prefetch: 'x' as unknown as number } } })),
      'InvalidMountOption',
    );
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { writeback: 'yes' as unknown as boolean } } })),
      'InvalidMountOption',
    );
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'sub-dir': 'a/../../b' } } })),
      'InvalidMountOption',
      /\.\./,
    );
    specError(() => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { metrics: 'not an address' } } })), 'InvalidMountOption');
  });

  it('rejects cache dirs with .., relative paths, commas and system directories', () => {
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'cache-dir': '/dev/shm/../etc' } } })),
      'InvalidCacheDir',
      /\.\./,
    );
    specError(
      () => buildMountConfig(sampleSet({ cache: { levels: [{ mediumType: 'MEM', path: 'relative/dir' }] } })),
      'InvalidCacheDir',
      /absolute/,
    );
    specError(() => buildMountConfig(sampleSet({ cache: { levels: [{ mediumType: 'MEM', path: '/a,b' }] } })), 'InvalidCacheDir');
    for (const dir of ['/', '/etc', '/etc/juicefs', '/proc/1', '/var/lib/kubelet/pods', '/dev/shm', '/usr/local']) {
      expect(() => checkCacheDir(dir, 'x'), dir).to.throw(SpecError);
    }
    for (const dir of ['/dev/shm/imagenet', '/mnt/ssd0/imagenet', '/data/cache', '/var/lib/paddle-operator/cache/x']) {
      expect(checkCacheDir(dir, 'x'), dir).to.equal(dir);
    }
    expect(checkCacheDir('/mnt//ssd/./x/', 'x')).to.equal('/mnt/ssd/x');
    specError(
      () =>
        buildMountConfig(
          sampleSet({
            cache: {
              levels: [
                { mediumType: 'MEM', path: '/data/cache/a' },
                { mediumType: 'SSD', path: '/data/cache//a/' },
              ],
            },
          }),
          ROOTS,
        ),
      'InvalidCacheDir',
      /twice/,
    );
  });

  // Class 8 of issue 12: host paths of cache tiers.
  it('refuses cache dirs outside the configured roots, naming the allowed roots', () => {
    const level = (p: string) => sampleSet({ cache: { levels: [{ mediumType: 'SSD', path: p }] } });
    for (const p of [
      '/var/lib/etcd',
      '/home/alice/.ssh',
      '/mnt/ssd0/imagenet',
      '/dev/shm/imagenet',
      '/data/cachex',
      '/data',
      '/dev/shm/paddle-operator-x',
    ]) {
      specError(
        () => buildMountConfig(level(p), ROOTS),
        'InvalidCacheDir',
        /not under an allowed cache root \(allowed: \/dev\/shm\/paddle-operator, \/data\/cache\)/,
      );
    }
    specError(() => buildMountConfig(level('/data/cache/../../var/lib/etcd'), ROOTS), 'InvalidCacheDir', /\.\./);
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'cache-dir': '/data/cache/a:/etc/x' } } }), ROOTS),
      'InvalidCacheDir',
      /system directory|not under/,
    );
    specError(
      () => buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { 'cache-dir': '/var/lib/kubelet' } } }), ROOTS),
      'InvalidCacheDir',
    );
    // the default roots when none are given
    specError(
      () => buildMountConfig(level('/data/cache/x')),
      'InvalidCacheDir',
      /\/var\/lib\/paddle-operator\/cache, \/dev\/shm\/paddle-operator/,
    );
    expect(buildMountConfig(level('/dev/shm/paddle-operator/x')).cacheDirs).to.deep.equal(['/dev/shm/paddle-operator/ml_imagenet/x']);
  });

  it('gives every SampleSet its own directory under the root, so none can reach into another', () => {
    const a = sampleSet({ cache: { levels: [{ mediumType: 'SSD', path: '/data/cache' }] } });
    const b = sampleSet({ cache: { levels: [{ mediumType: 'SSD', path: '/data/cache/ml_imagenet' }] } });
    b.metadata.name = 'other';
    const c = sampleSet({ cache: { levels: [{ mediumType: 'SSD', path: '/data/cache' }] } });
    c.metadata.namespace = 'ml_imagenet'.replace('_', '-');
    const dirs = [a, b, c].map((s) => buildMountConfig(s, ROOTS).cacheDirs[0]);
    expect(dirs).to.deep.equal(['/data/cache/ml_imagenet', '/data/cache/ml_other/ml_imagenet', '/data/cache/ml-imagenet_imagenet']);
    // b named a's directory, and got a directory inside its own
    expect(dirs[1].startsWith('/data/cache/ml_other/')).to.equal(true);
    expect(placeCacheDir('/data/cache//x/./y/', 'w', ROOTS, a)).to.deep.equal({
      declared: '/data/cache/x/y',
      effective: '/data/cache/ml_imagenet/x/y',
    });
  });

  it('validates the configured roots', () => {
    expect(checkCacheRoots(['/data/cache/', '/dev/shm//paddle-operator'])).to.deep.equal(['/data/cache', '/dev/shm/paddle-operator']);
    for (const bad of [
      [],
      ['relative'],
      ['/'],
      ['/etc'],
      ['/var/lib/kubelet/x'],
      ['/a:/b'],
      ['/a,b'],
      ['/a/../b'],
      ['/data', '/data/cache'],
      ['/x', '/x/'],
    ]) {
      expect(() => checkCacheRoots(bad), JSON.stringify(bad)).to.throw(Error);
    }
  });

  it('round-trips through parseMountOptions', () => {
    const cfg = buildMountConfig(sampleSet({ csi: { juiceFSMountOptions: { writeback: true, 'attr-cache': 3 } } }));
    const m = parseMountOptions(mountOptionsString(cfg));
    expect(m.get('writeback')).to.equal('');
    expect(m.get('attr-cache')).to.equal('3');
    expect(m.get('cache-size')).to.equal('102400');
  });
});
