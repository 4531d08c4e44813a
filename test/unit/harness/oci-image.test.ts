import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { expect } from 'chai';
import { appendLayer, layerEntries, OCI_LAYER, OCI_LAYER_GZIP, ociImageTarball, readTar, tarArchive } from '../../harness/oci-image.js';

const sha = (b: Buffer): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function parseImage(tar: Buffer): { files: Map<string, Buffer>; index: { manifests: Descriptor[] }; blob: (d: Descriptor) => Buffer } {
  const files = new Map(
    readTar(tar)
      .filter((e) => e.type === 'file')
      .map((e) => [e.name, e.data!]),
  );
  const blob = (d: Descriptor): Buffer => {
    const b = files.get(`blobs/sha256/${d.digest.slice(7)}`);
    if (!b) throw new Error(`missing blob ${d.digest}`);
    expect(sha(b)).to.equal(d.digest);
    expect(b.length).to.equal(d.size);
    return b;
  };
  return { files, index: JSON.parse(files.get('index.json')!.toString()) as { manifests: Descriptor[] }, blob };
}

describe('oci-image: tar writer', () => {
  it('writes ustar entries that read back identically, padded to 512-byte blocks', () => {
    const data = Buffer.from('hello\n');
    const tar = tarArchive([
      { name: 'd/', type: 'dir', mode: 0o755 },
      { name: 'd/f', type: 'file', mode: 0o640, data },
      { name: 'd/l', type: 'symlink', mode: 0o777, linkname: 'f' },
    ]);
    expect(tar.length % 512).to.equal(0);
    const back = readTar(tar);
    expect(back.map((e) => [e.name, e.type, e.mode])).to.deep.equal([
      ['d/', 'dir', 0o755],
      ['d/f', 'file', 0o640],
      ['d/l', 'symlink', 0o777],
    ]);
    expect(back[1].data!.toString()).to.equal('hello\n');
    expect(back[2].linkname).to.equal('f');
  });

  it('has a valid header checksum (as tar(1) computes it)', () => {
    const h = tarArchive([{ name: 'x', type: 'file', mode: 0o644, data: Buffer.from('1') }]).subarray(0, 512);
    const stored = parseInt(h.toString('ascii', 148, 154), 8);
    const copy = Buffer.from(h);
    copy.fill(' ', 148, 156);
    expect(stored).to.equal(copy.reduce((a, b) => a + b, 0));
  });

  it('splits long paths into the ustar prefix field', () => {
    const long = `${'a'.repeat(80)}/${'b'.repeat(80)}/file`;
    expect(readTar(tarArchive([{ name: long, type: 'file', mode: 0o644, data: Buffer.alloc(0) }]))[0].name).to.equal(long);
  });

  it('adds parent directories, sorts entries and refuses paths that escape', () => {
    expect(
      layerEntries([
        { path: '/usr/bin/app', data: Buffer.from('x'), mode: 0o755 },
        { path: 'etc/passwd', data: Buffer.from('') },
      ]).map((e) => e.name),
    ).to.deep.equal(['etc/', 'etc/passwd', 'usr/', 'usr/bin/', 'usr/bin/app']);
    expect(() => layerEntries([{ path: '../x', data: Buffer.from('') }])).to.throw(/plain relative path/);
  });
});

describe('oci-image: image layout', () => {
  const pause = Buffer.from('#!fake pause binary');

  it('names the image in index.json and links index → manifest → config and layer by digest', () => {
    const { files, index, blob } = parseImage(
      ociImageTarball({ name: 'registry.k8s.io/pause:3.10', files: [{ path: 'pause', data: pause, mode: 0o755 }], entrypoint: ['/pause'] }),
    );
    expect(files.get('oci-layout')!.toString()).to.equal('{"imageLayoutVersion":"1.0.0"}');
    expect(index.manifests).to.have.length(1);
    expect(index.manifests[0].annotations).to.deep.equal({
      'io.containerd.image.name': 'registry.k8s.io/pause:3.10',
      'org.opencontainers.image.ref.name': '3.10',
    });
    const manifest = JSON.parse(blob(index.manifests[0]).toString()) as { config: Descriptor; layers: Descriptor[] };
    const config = JSON.parse(blob(manifest.config).toString()) as {
      config: { Entrypoint: string[] };
      rootfs: { diff_ids: string[] };
      os: string;
    };
    expect(config.os).to.equal('linux');
    expect(config.config.Entrypoint).to.deep.equal(['/pause']);
    expect(manifest.layers[0].mediaType).to.equal(OCI_LAYER);
    const layer = blob(manifest.layers[0]);
    expect(config.rootfs.diff_ids).to.deep.equal([sha(layer)]);
    const entry = readTar(layer).find((e) => e.name === 'pause')!;
    expect(entry.mode).to.equal(0o755);
    expect(entry.data!.equals(pause)).to.equal(true);
  });

  it('gzips the layer on request, with diff_id over the uncompressed tar', () => {
    const { index, blob } = parseImage(
      ociImageTarball({ name: 'x/y:z', files: [{ path: 'a', data: pause }], gzip: true, user: '65532', cmd: ['a'] }),
    );
    const manifest = JSON.parse(blob(index.manifests[0]).toString()) as { config: Descriptor; layers: Descriptor[] };
    const config = JSON.parse(blob(manifest.config).toString()) as {
      config: { User: string; Cmd: string[] };
      rootfs: { diff_ids: string[] };
    };
    expect(manifest.layers[0].mediaType).to.equal(OCI_LAYER_GZIP);
    const raw = zlib.gunzipSync(blob(manifest.layers[0]));
    expect(config.rootfs.diff_ids).to.deep.equal([sha(raw)]);
    expect(config.config).to.include({ User: '65532' });
    expect(config.config.Cmd).to.deep.equal(['a']);
  });

  it('is reproducible', () => {
    const make = (): Buffer => ociImageTarball({ name: 'a/b:c', files: [{ path: 'f', data: pause }] });
    expect(make().equals(make())).to.equal(true);
  });
});

describe('oci-image: appendLayer', () => {
  const base = ociImageTarball({
    name: 'docker.io/library/base:1',
    files: [{ path: 'usr/local/bin/tool', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 }],
    entrypoint: ['/usr/local/bin/tool'],
    user: '65532',
    env: ['A=1'],
  });

  it('keeps the base layers, adds one layer and changes only the asked config fields', () => {
    const derived = appendLayer(base, {
      name: 'docker.io/library/derived:2',
      files: [{ path: 'bin/mount.juicefs', symlink: '/usr/local/bin/juicefs' }],
      user: '0',
      env: ['B=2'],
    });
    const b = parseImage(base);
    const d = parseImage(derived);
    expect(d.index.manifests).to.have.length(1);
    expect(d.index.manifests[0].annotations).to.deep.equal({
      'io.containerd.image.name': 'docker.io/library/derived:2',
      'org.opencontainers.image.ref.name': '2',
    });
    type M = { config: Descriptor; layers: Descriptor[] };
    type C = { config: { User?: string; Env: string[]; Entrypoint: string[] }; rootfs: { diff_ids: string[] }; history: unknown[] };
    const bm = JSON.parse(b.blob(b.index.manifests[0]).toString()) as M;
    const dm = JSON.parse(d.blob(d.index.manifests[0]).toString()) as M;
    expect(dm.layers.slice(0, -1)).to.deep.equal(bm.layers);
    expect(dm.layers).to.have.length(2);
    const layer = d.blob(dm.layers[1]);
    expect(readTar(layer).map((e) => [e.name, e.type, e.linkname])).to.deep.equal([
      ['bin/', 'dir', undefined],
      ['bin/mount.juicefs', 'symlink', '/usr/local/bin/juicefs'],
    ]);
    const bc = JSON.parse(b.blob(bm.config).toString()) as C;
    const dc = JSON.parse(d.blob(dm.config).toString()) as C;
    expect(dc.config.User).to.equal('0');
    expect(dc.config.Entrypoint).to.deep.equal(['/usr/local/bin/tool']);
    expect(dc.config.Env).to.deep.equal(['A=1', 'B=2']);
    expect(dc.rootfs.diff_ids).to.deep.equal([...bc.rootfs.diff_ids, sha(layer)]);
    expect(dc.history).to.have.length(bc.history.length + 1);
  });

  it('is reproducible and rejects a tarball that is not an image layout', () => {
    const opts = { name: 'x/y:z', files: [{ path: 'f', data: Buffer.from('1') }] };
    expect(appendLayer(base, opts).equals(appendLayer(base, opts))).to.equal(true);
    expect(() => appendLayer(tarArchive([{ name: 'a', type: 'file', mode: 0o644, data: Buffer.from('') }]), opts)).to.throw(
      /no index.json/,
    );
  });

  it('skips pax extended headers when reading an archive', () => {
    const tar = tarArchive([{ name: 'a', type: 'file', mode: 0o644, data: Buffer.from('x') }]);
    const pax = Buffer.from(
      tarArchive([{ name: 'PaxHeader/a', type: 'file', mode: 0o644, data: Buffer.from('17 path=abcdefgh\n') }]).subarray(0, 1024),
    );
    pax.write('x', 156, 'ascii');
    // recompute the header checksum after changing the type flag
    pax.fill(' ', 148, 156);
    let sum = 0;
    for (const c of pax.subarray(0, 512)) sum += c;
    pax.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    expect(readTar(Buffer.concat([pax, tar])).map((e) => e.name)).to.deep.equal(['a']);
  });
});
