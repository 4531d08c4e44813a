// The JuiceFS mount pods' image on real test nodes, a TEST image derived from the project image
// (image.ts): the project image's /usr/local/bin/juicefs is the JuiceFS the runtime uses, and its
// Debian base has the `sh` and `umount` the mount pod's command and preStop hook run. The derived
// image adds `/bin/mount.juicefs` (the path the CSI driver runs, pkg/config CeMountPath) and runs
// as root, as the driver's mount pods do. The project image itself is unchanged.
//
// The tarball is written once per project image (keyed by its reference) under .cache/ and reused.
import fs from 'node:fs';
import path from 'node:path';
import { projectImage } from './image.js';
import { appendLayer, type AppendLayerOptions } from './oci-image.js';
import { mountImageRef } from './real-node-csi.js';
import { defaultLog, repoRoot, type LogFn } from './util.js';

export interface MountImage {
  /** An OCI image-layout tarball. */
  tarPath: string;
  ref: string;
}

/** What the mount image adds to the project image `projectRef`. */
export function mountImageLayer(projectRef: string): AppendLayerOptions {
  return {
    name: mountImageRef(projectRef),
    // /bin is a symlink to usr/bin in the Debian base: the link goes where /bin/mount.juicefs resolves
    files: [{ path: 'usr/bin/mount.juicefs', symlink: '/usr/local/bin/juicefs' }],
    user: '0',
  };
}

let derived: Promise<MountImage> | undefined;

/** Builds (or reuses) the mount image from the project image, at most once per process. */
export function juicefsMountImage(log: LogFn = defaultLog): Promise<MountImage> {
  derived ??= (async () => {
    const project = await projectImage(log);
    const layer = mountImageLayer(project.ref);
    const dir = path.join(repoRoot(), '.cache', 'real-node-images');
    const tarPath = path.join(dir, `${layer.name.slice(layer.name.lastIndexOf('/') + 1).replace(/:/g, '-')}.oci.tar`);
    if (!fs.existsSync(tarPath)) {
      const t = Date.now();
      fs.mkdirSync(dir, { recursive: true });
      // written aside and renamed, so a concurrent run never reads a partial tarball
      const tmp = `${tarPath}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, appendLayer(fs.readFileSync(project.tarPath), layer));
      fs.renameSync(tmp, tarPath);
      log(`mount image ${layer.name} derived from ${project.ref} in ${Date.now() - t} ms`);
    }
    return { tarPath, ref: layer.name };
  })();
  return derived;
}
