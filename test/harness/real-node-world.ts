// The real-node tier's world, started once per run: a control plane bound to a harness bridge, one
// real node (kubelet, containerd, kube-proxy, the JuiceFS CSI driver) and no KWOK node — so every
// pod, the operator's own included, runs for real — the project image built from the Dockerfile
// and imported into the node's containerd, and a JuiceFS S3 gateway on the bridge as the "remote"
// source and as the volumes' object storage. JuiceFS metadata lives in the cluster's etcd, also on
// the bridge, under one prefix per volume: pods (runtime syncs) and the CSI driver both reach it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startS3Gateway, type S3Gateway } from './cache-nodes.js';
import { ControlPlane } from './control-plane.js';
import { projectImage } from './image.js';
import { cleanupStaleRealNodes, createNodeBridge, RealNode, type NodeBridge } from './real-node.js';
import { repoRoot, type LogFn } from './util.js';

export interface RealNodeEnv {
  cp: ControlPlane;
  node: RealNode;
  bridge: NodeBridge;
  gw: S3Gateway;
  /** The project image reference (docker.io/library/paddle-operator:<input hash>). */
  image: string;
  /**
   * Keys of a JuiceFS volume Secret (as the CSI driver reads them) for a new volume named `volume`,
   * formatted beforehand (see formatVolume).
   */
  volumeSecret(volume: string): Promise<Record<string, string>>;
  /** Dumps the node's and the control plane's log tails (after a failure). */
  dumpLogs(): void;
  stop(): Promise<void>;
}

const KEEP_RUNS = 3;

export const log: LogFn = (msg) => {
  process.stderr.write(`      [real-node] ${msg}\n`);
};

function runDirectory(): string {
  const base = path.join(repoRoot(), '.cache', 'real-node');
  fs.mkdirSync(base, { recursive: true });
  const old = fs.readdirSync(base).sort();
  for (const d of old.slice(0, Math.max(0, old.length - (KEEP_RUNS - 1)))) fs.rmSync(path.join(base, d), { recursive: true, force: true });
  return path.join(base, new Date().toISOString().replace(/[:.]/g, '-'));
}

/** Starts everything; on a failure part-way, stops what was started and rethrows. */
export async function realNodeEnv(): Promise<RealNodeEnv> {
  const runDir = runDirectory();
  fs.mkdirSync(runDir, { recursive: true });
  const started: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of started.reverse()) await s().catch((e: unknown) => log(`stop: ${String(e)}`));
    started.length = 0;
    await cleanupStaleRealNodes({ log });
  };
  try {
    // the image build is the long pole on a cold machine: start it first
    const image = projectImage(log);
    image.catch(() => undefined);
    const bridge = await createNodeBridge({ runDir, log });
    started.push(() => bridge.remove());
    const cp = await ControlPlane.start({
      runDir,
      nodes: 0,
      crdsDir: 'crds',
      bindAddress: bridge.address,
      extraArgs: { 'kube-controller-manager': ['--pvclaimbinder-sync-period=1s'] },
      log,
    });
    started.push(() => cp.stop());
    const node = await RealNode.start({ cluster: cp, bridge, name: 'real-node-0', index: 0, log });
    started.push(async () => {
      // controllers would re-create pods while the node drains: delete what the operator owns while
      // it still runs (its finalizers), then the operator itself, then drain the node
      await cp.kubectl(['delete', 'paddlejobs,samplejobs,samplesets', '--all', '--all-namespaces', '--wait=true', '--timeout=90s'], {
        allowFail: true,
        timeoutMs: 100_000,
      });
      await cp.kubectl(
        ['-n', 'paddle-system', 'delete', 'deployment', 'paddle-operator', '--ignore-not-found', '--wait=true', '--timeout=60s'],
        { allowFail: true },
      );
      await node.stop();
    });
    const gw = await startS3Gateway({
      dir: path.join(runDir, 's3'),
      juicefsBin: path.join(cp.binDir, 'juicefs'),
      listenAddress: bridge.address,
      log,
    });
    started.push(() => gw.stop());
    const { tarPath, ref } = await image;
    // the mount image first (start() did not wait for it): it carries the project image's layers, so
    // the project image's import afterwards is quick (≈4 s against ≈15–30 s)
    await node.mountImageReady();
    const t = Date.now();
    await node.importImage(tarPath);
    log(`imported ${ref} into the node's containerd in ${Date.now() - t} ms`);
    const metaBase = cp.etcdBindUrl.replace(/^http:/, 'etcd:');
    return {
      cp,
      node,
      bridge,
      gw,
      image: ref,
      async volumeSecret(volume: string): Promise<Record<string, string>> {
        gw.createBucket(volume);
        const secret = {
          name: volume,
          metaurl: `${metaBase}/jfs-${volume}`,
          storage: 'minio',
          bucket: `${gw.endpoint}/${volume}`,
          'access-key': gw.accessKey,
          'secret-key': gw.secretKey,
        };
        await formatVolume(path.join(cp.binDir, 'juicefs'), secret);
        return secret;
      },
      dumpLogs(): void {
        node.dumpLogs(30);
        cp.dumpLogs(20);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Formats the volume as the CSI driver would (same name, storage, bucket), before any pod mounts it.
 * In mount-pod mode the driver keys a mount pod by a hash of the volume's settings, which include
 * the volume's UUID once it can read one: the first publish of a volume nobody formatted yet hashes
 * an empty UUID (the mount pod formats it), every later publish hashes the real one, so the next pod
 * on that node would get a second mount pod instead of sharing the first (juicefs-csi-driver
 * v0.31.0, pkg/config ParseSetting → GetJfsVolUUID). A volume formatted beforehand, as the driver's
 * documentation has it, keeps one mount per node from the start.
 */
async function formatVolume(juicefs: string, s: Record<string, string>): Promise<void> {
  await promisify(execFile)(juicefs, ['format', '--storage', s.storage, '--bucket', s.bucket, s.metaurl, s.name], {
    // credentials through the environment: never on a command line that an error message repeats
    env: { ...process.env, ACCESS_KEY: s['access-key'], SECRET_KEY: s['secret-key'] },
    timeout: 60_000,
  }).catch((err: unknown) => {
    throw new Error(
      `juicefs format of volume ${s.name} failed: ${((err as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`,
    );
  });
}
