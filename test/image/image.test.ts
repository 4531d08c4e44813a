/**
 * The container image as actually built from the repository's Dockerfile (test/harness/image.ts:
 * BuildKit with local stand-ins for the base images, no Docker engine), inspected as the OCI
 * tarball a registry or containerd would receive: index.json → manifest → config → layers, read
 * with `tar`. Checks what a user of the image relies on and what must never ship:
 *  - config: USER 65532:65532, CMD ["paddle-operator"], no ENTRYPOINT (the node base's is reset);
 *  - layers: /usr/local/bin/juicefs (it runs, inside the image's root filesystem), both entry
 *    points under /app/dist/src/bin (paddle-operator starts from PATH as the image's user),
 *    production node_modules only (nothing package-lock.json marks dev-only);
 *  - none of this machine's CA certificates (/usr/local/share/ca-certificates), which the build
 *    needed to download through the egress proxy, in any layer, nor in the environment.
 * The operator's and runtime's behaviour from the image's /app tree is test/e2e/image-layout.test.ts.
 *
 *   npx tsc -p . && npx mocha --no-config --timeout 1200000 --enable-source-maps dist/test/image/image.test.js
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { projectImage } from '../harness/image.js';
import type { Descriptor } from '../harness/oci-image.js';
import { repoRoot } from '../harness/util.js';

interface ImageConfig {
  config: { User?: string; Cmd?: string[] | null; Entrypoint?: string[] | null; Env?: string[]; WorkingDir?: string };
  rootfs: { diff_ids: string[] };
}

const blobPath = (dir: string, digest: string): string => path.join(dir, 'blobs', ...digest.split(':'));
const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

/** Applies one layer to `rootfs` as a container runtime would (whiteouts first, then the files). */
function applyLayer(layer: string, rootfs: string): string[] {
  const entries = execFileSync('tar', ['-tzf', layer], { maxBuffer: 256 * 1024 * 1024 })
    .toString('utf8')
    .split('\n')
    .filter(Boolean);
  for (const e of entries) {
    const base = path.posix.basename(e);
    const dir = path.join(rootfs, path.posix.dirname(e));
    if (base === '.wh..wh..opq') {
      for (const child of fs.existsSync(dir) ? fs.readdirSync(dir) : []) fs.rmSync(path.join(dir, child), { recursive: true, force: true });
    } else if (base.startsWith('.wh.')) {
      fs.rmSync(path.join(dir, base.slice(4)), { recursive: true, force: true });
    }
  }
  execFileSync('tar', ['-xzf', layer, '-C', rootfs, '--exclude=.wh.*']);
  return entries.map((e) => '/' + e.replace(/^\.\//, '').replace(/\/$/, ''));
}

/**
 * `unshare` arguments that run a command in the unpacked image: its own mount and PID namespaces
 * with /proc mounted (both go away with the process), chrooted, optionally as `user`.
 */
function inImage(rootfs: string, user?: string): string[] {
  return [
    '--mount',
    '--pid',
    '--fork',
    `--mount-proc=${path.join(rootfs, 'proc')}`,
    'chroot',
    ...(user ? [`--userspec=${user}`] : []),
    rootfs,
  ];
}

/** Distinctive base64 lines of each machine CA certificate (the PEM body without its first and last lines). */
function machineCaFingerprints(): Map<string, string> {
  const dir = '/usr/local/share/ca-certificates';
  const out = new Map<string, string>();
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.crt')) : []) {
    const lines = fs
      .readFileSync(path.join(dir, f), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
    const middle = lines[Math.floor(lines.length / 2)];
    if (middle) out.set(f, middle);
  }
  return out;
}

describe('container image built from the Dockerfile', function () {
  let work: string;
  let ref: string;
  let config: ImageConfig;
  let layerFiles: Set<string>;
  let rootfs: string;
  let layerDir: string;

  before(async function () {
    this.timeout(60 * 60 * 1000);
    const image = await projectImage();
    ref = image.ref;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-image-'));
    layerDir = path.join(work, 'oci');
    rootfs = path.join(work, 'rootfs');
    fs.mkdirSync(layerDir);
    fs.mkdirSync(rootfs);
    execFileSync('tar', ['-xf', image.tarPath, '-C', layerDir]);

    const index = readJson<{ manifests: Descriptor[] }>(path.join(layerDir, 'index.json'));
    expect(index.manifests, 'index.json manifests').to.have.length(1);
    let desc = index.manifests[0];
    expect(desc.annotations?.['io.containerd.image.name'], 'image name annotation').to.equal(ref);
    if (desc.mediaType.endsWith('image.index.v1+json')) {
      const nested = readJson<{ manifests: Descriptor[] }>(blobPath(layerDir, desc.digest));
      desc = nested.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? nested.manifests[0];
    }
    const manifest = readJson<{ config: Descriptor; layers: Descriptor[] }>(blobPath(layerDir, desc.digest));
    config = readJson<ImageConfig>(blobPath(layerDir, manifest.config.digest));
    expect(manifest.layers.length, 'layers').to.equal(config.rootfs.diff_ids.length);
    layerFiles = new Set<string>();
    for (const l of manifest.layers) {
      expect(l.mediaType).to.match(/layer\.v1\.tar\+gzip$/);
      for (const f of applyLayer(blobPath(layerDir, l.digest), rootfs)) layerFiles.add(f);
    }
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('is tagged with a hash of its inputs under docker.io/library/paddle-operator', function () {
    expect(ref).to.match(/^docker\.io\/library\/paddle-operator:[0-9a-f]{12}$/);
  });

  it('runs paddle-operator as 65532:65532 with no entry point of the base image', function () {
    expect(config.config.User).to.equal('65532:65532');
    expect(config.config.Cmd).to.deep.equal(['paddle-operator']);
    expect(config.config.Entrypoint ?? []).to.deep.equal([]);
    expect(config.config.WorkingDir).to.equal('/app');
    expect(config.config.Env).to.include('NODE_ENV=production');
  });

  it('holds juicefs, and it runs inside the image root filesystem', function () {
    expect(layerFiles).to.include('/usr/local/bin/juicefs');
    if (process.getuid?.() !== 0) this.skip();
    const r = spawnSync('unshare', [...inImage(rootfs), '/usr/local/bin/juicefs', 'version'], {
      encoding: 'utf8',
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    expect(r.status, r.stderr).to.equal(0);
    // The version the tests run (test/toolchain/versions.env), as the Dockerfile's comment requires.
    const pinned = /^JUICEFS_VERSION=v(\S+)$/m.exec(
      fs.readFileSync(path.join(repoRoot(), 'test', 'toolchain', 'versions.env'), 'utf8'),
    )?.[1];
    expect(pinned, 'JUICEFS_VERSION in versions.env').to.be.a('string');
    expect(r.stdout).to.contain(`juicefs version ${pinned}+`);
  });

  it('starts paddle-operator (--help) from PATH as the image user', function () {
    for (const bin of ['paddle-operator', 'paddle-runtime']) {
      expect(layerFiles).to.include(`/app/dist/src/bin/${bin}.js`);
      expect(fs.readlinkSync(path.join(rootfs, 'usr/local/bin', bin))).to.equal(`/app/dist/src/bin/${bin}.js`);
    }
    if (process.getuid?.() !== 0) this.skip();
    const env = Object.fromEntries((config.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    const r = spawnSync('unshare', [...inImage(rootfs, '65532:65532'), 'paddle-operator', '--help'], { encoding: 'utf8', env });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout + r.stderr).to.match(/paddle-operator/);
  });

  it('ships production dependencies only', function () {
    const pkg = readJson<{ dependencies: Record<string, string> }>(path.join(repoRoot(), 'package.json'));
    for (const dep of Object.keys(pkg.dependencies)) expect(layerFiles, dep).to.include(`/app/node_modules/${dep}/package.json`);
    // What the lock file marks dev-only (a devDependency that a dependency also needs is not).
    const lock = readJson<{ packages: Record<string, { dev?: boolean }> }>(path.join(repoRoot(), 'package-lock.json'));
    const devOnly = Object.entries(lock.packages)
      .filter(([p, v]) => p.startsWith('node_modules/') && v.dev === true)
      .map(([p]) => p);
    expect(devOnly.length, 'dev-only packages in package-lock.json').to.be.greaterThan(0);
    expect(
      devOnly.filter((p) => fs.existsSync(path.join(rootfs, 'app', p))),
      'dev-only packages in the image',
    ).to.deep.equal([]);
    expect(layerFiles).to.include('/app/node_modules/@kubernetes/client-node/package.json');
    expect(
      [...layerFiles].filter((f) => f.startsWith('/app/') && !/^\/app\/(package\.json|node_modules|dist)(\/|$)/.test(f)),
    ).to.deep.equal([]);
    expect([...layerFiles].filter((f) => f.startsWith('/app/dist/') && !f.startsWith('/app/dist/src'))).to.deep.equal([]);
  });

  it("contains none of this machine's CA certificates, in any layer", function () {
    const cas = machineCaFingerprints();
    for (const name of cas.keys()) {
      expect(
        [...layerFiles].filter((f) => path.posix.basename(f) === name || path.posix.basename(f) === name.replace(/\.crt$/, '.pem')),
      ).to.deep.equal([]);
    }
    expect(
      [...layerFiles].filter((f) => f.startsWith('/usr/local/share/ca-certificates/') && f !== '/usr/local/share/ca-certificates'),
    ).to.deep.equal([]);
    expect([...layerFiles].filter((f) => f.startsWith('/dev/') && f.includes('paddle'))).to.deep.equal([]);
    expect((config.config.Env ?? []).filter((e) => /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR)=/.test(e))).to.deep.equal([]);
    if (cas.size === 0) return; // a machine without CA certificates of its own: nothing to look for
    // Every layer's file contents, streamed: not one holds a line of a machine CA's PEM body.
    const patterns = path.join(work, 'ca-lines');
    fs.writeFileSync(patterns, [...cas.values()].join('\n') + '\n');
    const blobs = path.join(layerDir, 'blobs', 'sha256');
    let scanned = 0;
    for (const blob of fs.readdirSync(blobs)) {
      const header = fs.readFileSync(path.join(blobs, blob)).subarray(0, 2);
      if (header[0] !== 0x1f || header[1] !== 0x8b) continue;
      const g = spawnSync('sh', ['-c', 'tar -xzOf "$1" | grep -aoFf "$2" | sort -u', 'sh', path.join(blobs, blob), patterns], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      });
      expect(g.status, g.stderr).to.equal(0);
      const found = [...cas].filter(([, line]) => g.stdout.includes(line)).map(([name]) => name);
      expect(found, `machine CA certificates in layer ${blob}`).to.deep.equal([]);
      scanned++;
    }
    expect(scanned, 'layers scanned').to.be.greaterThan(0);
  });
});
