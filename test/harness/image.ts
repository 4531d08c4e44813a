// The project's container image, built from the repository's Dockerfile by
// `test/toolchain/build-image.sh` (BuildKit, local base images, no Docker engine). The script
// reuses a finished tarball when the build inputs are unchanged and prints
// `<OCI tarball path> <image reference>` on its last stdout line.
import fs from 'node:fs';
import path from 'node:path';
import { runBuildScript } from './toolchain.js';
import { defaultLog, repoRoot, type LogFn } from './util.js';

export interface ProjectImage {
  /** An OCI image-layout tarball (oci-layout, index.json, blobs/sha256/...). */
  tarPath: string;
  /** docker.io/library/paddle-operator:<tag>, the tag a hash of the build inputs. */
  ref: string;
}

let built: Promise<ProjectImage> | undefined;

/**
 * Builds the image (or reuses the cached one) at most once per process. The script's progress
 * goes to stderr; a cold build (base images, builder, the juicefs compile) takes about ten minutes.
 */
export function projectImage(log: LogFn = defaultLog): Promise<ProjectImage> {
  built ??= build(log);
  return built;
}

async function build(log: LogFn): Promise<ProjectImage> {
  const script = path.join(repoRoot(), 'test', 'toolchain', 'build-image.sh');
  log(`building the project image (${script})`);
  const started = Date.now();
  const stdout = await runBuildScript(script);
  const last = stdout.trim().split('\n').at(-1)?.trim() ?? '';
  const [tarPath, ref, ...rest] = last.split(' ');
  if (!tarPath || !ref || rest.length > 0 || !path.isAbsolute(tarPath) || !fs.existsSync(tarPath)) {
    throw new Error(`${script} did not print "<tarball> <reference>" on its last line (got ${JSON.stringify(stdout.slice(-300))})`);
  }
  log(`project image ${ref} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { tarPath, ref };
}
