// Starts a real node's JuiceFS CSI node plugin and its registration sidecar, in either mode (see
// real-node-csi.ts for mount-pod mode and how the daemon stands in for the DaemonSet pod). RealNode
// passes what it owns (its daemons, its namespaces) through CsiNodeHost.
import fs from 'node:fs';
import path from 'node:path';
import type { ControlPlane } from './control-plane.js';
import { JUICEFS_CSI_DRIVER, juicefsCsiDriverObject, KUBELET_ROOT } from './real-node-config.js';
import {
  CSI_NAMESPACE,
  csiByProcessArgs,
  csiDriverConfigYaml,
  csiNodeArgs,
  csiNodeEnv,
  csiNodePodName,
  csiRootScript,
  csiSocketDir,
  SERVICE_ACCOUNT_DIR,
  type CsiMode,
} from './real-node-csi.js';
import { applyCsiNodeObjects } from './real-node-csi-api.js';
import { juicefsMountImage, type MountImage } from './real-node-mount-image.js';
import { waitFor, type LogFn } from './util.js';

export interface CsiNodeHost {
  name: string;
  nodeIP: string;
  cluster: ControlPlane;
  /** The node toolchain (the driver, the registrar) and the control-plane toolchain (juicefs). */
  binDir: string;
  cpBinDir: string;
  /** A directory of the node's for the driver's root (mount-pod mode). */
  rootDir: string;
  log: LogFn;
  /** Starts a daemon in the node's namespaces; with `root`, chrooted there. */
  startDaemon(name: 'juicefs-csi' | 'csi-registrar', bin: string, args: string[], env?: Record<string, string>, root?: string): void;
  assertDriverRunning(): void;
  exec(args: string[]): Promise<string>;
  /** The host path of a path of the node's mount namespace. */
  inside(p: string): string;
  importImage(tarPath: string): Promise<void>;
}

/**
 * Starts the driver and, once it listens, the registrar. In mount-pod mode it then starts importing
 * the mount image and returns that import (not awaited here: RealNode.mountImageReady()).
 */
export async function startCsiPlugin(
  h: CsiNodeHost,
  mode: CsiMode,
  mountImage?: MountImage,
): Promise<{ mountImageImport?: Promise<void> }> {
  if (mode === 'by-process') {
    await h.cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(juicefsCsiDriverObject()) });
    h.startDaemon('juicefs-csi', path.join(h.binDir, 'juicefs-csi-driver'), csiByProcessArgs(h.name), {
      // the driver's main() only runs the node service when POD_NAME names a csi-node pod
      POD_NAME: csiNodePodName(h.name),
      NODE_NAME: h.name,
      JUICEFS_CSI_WEB_PORT: '18080',
    });
    await startRegistrar(h);
    return {};
  }
  const image = mountImage ? Promise.resolve(mountImage) : juicefsMountImage(h.log);
  image.catch(() => undefined);
  const token = await applyCsiNodeObjects(h.cluster, h.name);
  const root = h.rootDir;
  const hostEntries = fs
    .readdirSync('/', { withFileTypes: true })
    .map((e) => ({ name: e.name, symlink: e.isSymbolicLink() ? fs.readlinkSync(path.join('/', e.name)) : undefined }));
  await h.exec(['sh', '-c', csiRootScript(root, hostEntries, [h.binDir, h.cpBinDir]).join('\n')]);
  const sa = h.inside(SERVICE_ACCOUNT_DIR);
  fs.writeFileSync(path.join(sa, 'token'), token, { mode: 0o600 });
  fs.copyFileSync(h.cluster.pki.caCert, path.join(sa, 'ca.crt'));
  fs.writeFileSync(path.join(sa, 'namespace'), CSI_NAMESPACE);
  // the DaemonSet mounts its ConfigMap; here the file lives in the driver's root (a tmpfs)
  fs.writeFileSync(h.inside(path.join(root, 'config.yaml')), csiDriverConfigYaml());
  const server = new URL(h.cluster.server);
  const { ref, tarPath } = await image;
  const env = csiNodeEnv({
    node: h.name,
    nodeIP: h.nodeIP,
    mountImage: ref,
    apiHost: server.hostname,
    apiPort: Number(server.port || 443),
  });
  h.startDaemon('juicefs-csi', path.join(h.binDir, 'juicefs-csi-driver'), csiNodeArgs(h.name, '/config.yaml'), env, root);
  await startRegistrar(h);
  const mountImageImport = h.importImage(tarPath);
  mountImageImport.catch(() => undefined);
  return { mountImageImport };
}

/** Starts the registration sidecar once the driver listens (it registers once, and kubelet dials the driver's socket right away). */
async function startRegistrar(h: CsiNodeHost): Promise<void> {
  const socket = `${csiSocketDir()}/csi.sock`;
  await waitFor('the CSI driver socket', () => fs.existsSync(h.inside(socket)), {
    timeoutMs: 60_000,
    intervalMs: 50,
    check: () => h.assertDriverRunning(),
  });
  h.startDaemon('csi-registrar', path.join(h.binDir, 'csi-registrar'), [
    '--csi-endpoint',
    socket,
    '--registration-socket',
    `${KUBELET_ROOT}/plugins_registry/${JUICEFS_CSI_DRIVER}-reg.sock`,
  ]);
}
