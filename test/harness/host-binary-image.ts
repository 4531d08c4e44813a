// Makes a container image out of a binary of this machine and the shared libraries `ldd` says it
// loads (each at the path ldd prints, symlinks resolved), e.g. the host's `node` as a small
// general-purpose image for real-node tests, where nothing can be pulled.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { ociImageTarball, type ImageFile, type OciImageOptions } from './oci-image.js';

/** Paths of the shared objects `binary` needs, from ldd (absolute paths only; the vDSO is skipped). */
export function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs].sort();
}

export interface HostBinaryImageOptions extends Omit<OciImageOptions, 'files'> {
  /** Absolute path of the binary on this machine; it lands at the same path in the image. */
  binary: string;
  /** More files to put into the image. */
  extraFiles?: ImageFile[];
}

/** An OCI image-layout tarball with `binary`, its libraries, /tmp and an /etc/passwd naming root and nobody. */
export function hostBinaryImage(opts: HostBinaryImageOptions): Buffer {
  const { binary, extraFiles, ...image } = opts;
  const files: ImageFile[] = [
    { path: binary, data: fs.readFileSync(binary), mode: 0o755 },
    ...sharedLibraries(binary).map((lib) => ({ path: lib, data: fs.readFileSync(lib), mode: 0o755 })),
    { path: 'tmp', dir: true, mode: 0o1777 },
    {
      path: 'etc/passwd',
      data: Buffer.from('root:x:0:0:root:/root:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n'),
    },
    ...(extraFiles ?? []),
  ];
  return ociImageTarball({ ...image, files });
}
