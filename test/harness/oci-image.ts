// A minimal, dependency-free writer of OCI image-layout tarballs (the format `ctr images import`
// and `docker load` accept): one layer made from in-memory files, an image config, a manifest and
// an index naming the image. Output is reproducible: fixed mtimes, uid/gid 0, sorted entries.
// appendLayer() derives an image from another OCI tarball: one more layer, a changed config.
//
//   const tar = ociImageTarball({ name: 'registry.k8s.io/pause:3.10', files: [{ path: 'pause', data, mode: 0o755 }], entrypoint: ['/pause'] });
//   fs.writeFileSync('pause.tar', tar);
import crypto from 'node:crypto';
import zlib from 'node:zlib';

export interface ImageFile {
  /** Path inside the image, relative or absolute ('bin/app' and '/bin/app' are the same). */
  path: string;
  /** File contents; omitted for a directory or a symlink. */
  data?: Buffer;
  /** Permission bits (default 0o644 for files, 0o755 for directories). */
  mode?: number;
  /** Make a symbolic link to this target instead of a file. */
  symlink?: string;
  /** Make a directory. */
  dir?: boolean;
}

export interface OciImageOptions {
  /** Full reference, e.g. `registry.k8s.io/pause:3.10` or `docker.io/library/probe:local`. */
  name: string;
  files: ImageFile[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  /** `uid[:gid]` the container runs as by default. */
  user?: string;
  workingDir?: string;
  /** gzip the layer (smaller tarball, slower to write); default false (an uncompressed layer). */
  gzip?: boolean;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  linkname?: string;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  let name = entry.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    // ustar: split at a '/' so that prefix ≤ 155 and name ≤ 100 bytes
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar: path too long for ustar: ${entry.name}`);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  h.write(name, 0, 100, 'utf8');
  h.write(octal(entry.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime
  h.fill(' ', 148, 156); // checksum placeholder
  h.write(entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2', 156, 'ascii');
  if (entry.linkname) h.write(entry.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/** A ustar archive of `entries`, in the order given, ending with the two zero blocks. */
export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    parts.push(header(e, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

/** Reads back a ustar archive written by tarArchive() (for tests and checks). */
export function readTar(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const str = (start: number, len: number): string => h.toString('utf8', start, start + len).replace(/\0.*$/s, '');
    const prefix = str(345, 155);
    const name = prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const flag = str(156, 1);
    const type = flag === '5' ? 'dir' : flag === '2' ? 'symlink' : 'file';
    off += BLOCK;
    if (flag === 'x' || flag === 'g') {
      // pax extended headers (other writers' archives): not an entry of their own
      off += Math.ceil(size / BLOCK) * BLOCK;
      continue;
    }
    out.push({
      name,
      type,
      mode: parseInt(str(100, 8).trim(), 8),
      data: type === 'file' ? Buffer.from(tar.subarray(off, off + size)) : undefined,
      linkname: type === 'symlink' ? str(157, 100) : undefined,
    });
    off += Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

const sha256 = (b: Buffer): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

/** The layer's tar entries: the files plus every parent directory, sorted so parents come first. */
export function layerEntries(files: ImageFile[]): TarEntry[] {
  const entries = new Map<string, TarEntry>();
  for (const f of files) {
    const rel = f.path.replace(/^\/+/, '').replace(/\/+$/, '');
    if (!rel || rel.split('/').some((p) => p === '..' || p === '.'))
      throw new Error(`image file path ${JSON.stringify(f.path)} is not a plain relative path`);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/') + '/';
      if (!entries.has(dir)) entries.set(dir, { name: dir, type: 'dir', mode: 0o755 });
    }
    if (f.dir) entries.set(rel + '/', { name: rel + '/', type: 'dir', mode: f.mode ?? 0o755 });
    else if (f.symlink !== undefined) entries.set(rel, { name: rel, type: 'symlink', mode: 0o777, linkname: f.symlink });
    else entries.set(rel, { name: rel, type: 'file', mode: f.mode ?? 0o644, data: f.data ?? Buffer.alloc(0) });
  }
  return [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** An OCI image-layout tarball holding one single-layer image named `opts.name`. */
export function ociImageTarball(opts: OciImageOptions): Buffer {
  const layerTar = tarArchive(layerEntries(opts.files));
  const layer = opts.gzip ? zlib.gzipSync(layerTar, { level: 6 }) : layerTar;
  const blobs = new Map<string, Buffer>();
  const blob = (b: Buffer): { digest: string; size: number } => {
    const digest = sha256(b);
    blobs.set(digest, b);
    return { digest, size: b.length };
  };
  const layerRef = blob(layer);
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
      ...(opts.cmd ? { Cmd: opts.cmd } : {}),
      ...(opts.user ? { User: opts.user } : {}),
      ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}),
    },
    rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
    history: [{ created_by: 'paddle-operator test harness (oci-image.ts)' }],
  };
  const configRef = blob(Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, ...configRef },
    layers: [{ mediaType: opts.gzip ? OCI_LAYER_GZIP : OCI_LAYER, ...layerRef }],
  };
  const manifestRef = blob(Buffer.from(JSON.stringify(manifest)));
  const tag = opts.name.slice(opts.name.lastIndexOf('/') + 1).split(':')[1] ?? 'latest';
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      {
        mediaType: OCI_MANIFEST,
        ...manifestRef,
        annotations: { 'io.containerd.image.name': opts.name, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  const entries: TarEntry[] = [
    { name: 'oci-layout', type: 'file', mode: 0o644, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify(index)) },
    { name: 'blobs/', type: 'dir', mode: 0o755 },
    { name: 'blobs/sha256/', type: 'dir', mode: 0o755 },
    ...[...blobs].map(([digest, data]): TarEntry => ({
      name: `blobs/sha256/${digest.slice('sha256:'.length)}`,
      type: 'file',
      mode: 0o644,
      data,
    })),
  ];
  return tarArchive(entries);
}

export interface AppendLayerOptions {
  /** The derived image's full reference (the base's name annotation is replaced). */
  name: string;
  /** Files of the added layer (on top of the base's; same rules as OciImageOptions.files). */
  files: ImageFile[];
  /** Config changes; `user: '0'` runs it as root. Unset fields keep the base's values. */
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  /** Appended to the base's environment. */
  env?: string[];
}

/** An OCI content descriptor (index.json and manifest entries). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/**
 * An OCI image-layout tarball holding `base`'s (single-platform, linux/amd64) image with one more
 * layer on top and its config changed as asked, named `opts.name`. The base's layer blobs are
 * copied as they are; the result carries only the derived image.
 */
export function appendLayer(base: Buffer, opts: AppendLayerOptions): Buffer {
  const files = new Map(
    readTar(base)
      .filter((e) => e.type === 'file')
      .map((e) => [e.name, e.data!]),
  );
  const read = (d: Descriptor): Buffer => {
    const b = files.get(`blobs/sha256/${d.digest.replace(/^sha256:/, '')}`);
    if (!b) throw new Error(`base image lacks blob ${d.digest}`);
    return b;
  };
  const indexFile = files.get('index.json');
  if (!indexFile) throw new Error('base is not an OCI image layout (no index.json)');
  let desc = pickManifest((JSON.parse(indexFile.toString()) as { manifests: Descriptor[] }).manifests);
  // an index may name a per-platform index (multi-platform builds): follow it once
  if (desc.mediaType === OCI_INDEX) desc = pickManifest((JSON.parse(read(desc).toString()) as { manifests: Descriptor[] }).manifests);
  const manifest = JSON.parse(read(desc).toString()) as { config: Descriptor; layers: Descriptor[] } & Record<string, unknown>;
  const config = JSON.parse(read(manifest.config).toString()) as {
    config?: Record<string, unknown>;
    rootfs: { type: string; diff_ids: string[] };
    history?: Array<Record<string, unknown>>;
  } & Record<string, unknown>;

  const layer = tarArchive(layerEntries(opts.files));
  const blobs = new Map<string, Buffer>();
  const blob = (b: Buffer): { digest: string; size: number } => {
    const digest = sha256(b);
    blobs.set(digest, b);
    return { digest, size: b.length };
  };
  for (const l of manifest.layers) blobs.set(l.digest, read(l));
  const layerRef = blob(layer);
  const cfg: Record<string, unknown> = { ...(config.config ?? {}) };
  if (opts.user !== undefined) cfg.User = opts.user;
  if (opts.entrypoint) cfg.Entrypoint = opts.entrypoint;
  if (opts.cmd) cfg.Cmd = opts.cmd;
  if (opts.env) cfg.Env = [...((cfg.Env as string[] | undefined) ?? []), ...opts.env];
  const newConfig = {
    ...config,
    config: cfg,
    rootfs: { ...config.rootfs, diff_ids: [...config.rootfs.diff_ids, sha256(layer)] },
    history: [...(config.history ?? []), { created_by: 'paddle-operator test harness (oci-image.ts appendLayer)' }],
  };
  const configRef = blob(Buffer.from(JSON.stringify(newConfig)));
  // the base manifest's annotations (its build date, …) describe the base, not this image
  const { annotations: _baseAnnotations, ...manifestRest } = manifest;
  const newManifest = {
    ...manifestRest,
    config: { mediaType: OCI_CONFIG, ...configRef },
    layers: [...manifest.layers, { mediaType: OCI_LAYER, ...layerRef }],
  };
  const manifestRef = blob(Buffer.from(JSON.stringify(newManifest)));
  const tag = opts.name.slice(opts.name.lastIndexOf('/') + 1).split(':')[1] ?? 'latest';
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      {
        mediaType: OCI_MANIFEST,
        ...manifestRef,
        annotations: { 'io.containerd.image.name': opts.name, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  return tarArchive([
    { name: 'oci-layout', type: 'file', mode: 0o644, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'index.json', type: 'file', mode: 0o644, data: Buffer.from(JSON.stringify(index)) },
    { name: 'blobs/', type: 'dir', mode: 0o755 },
    { name: 'blobs/sha256/', type: 'dir', mode: 0o755 },
    ...[...blobs]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([digest, data]): TarEntry => ({ name: `blobs/sha256/${digest.slice('sha256:'.length)}`, type: 'file', mode: 0o644, data })),
  ]);
}

function pickManifest(manifests: Descriptor[]): Descriptor {
  const amd64 = manifests.filter((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === 'amd64'));
  // attestation manifests (BuildKit) carry an `unknown/unknown` platform and are filtered out above
  if (amd64.length !== 1) throw new Error(`expected one linux/amd64 image in the base index, found ${amd64.length}`);
  return amd64[0];
}
