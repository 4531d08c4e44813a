// Simulated cache nodes. On a real cluster every SampleSet runtime pod runs `paddle-runtime` next to
// a JuiceFS FUSE mount that the JuiceFS CSI driver made on its node. Under KWOK no container runs,
// so this module does what the kubelet and the CSI driver would, for every runtime pod KWOK marks
// Running (pods with the SampleSet label, a node and a pod IP):
//  - volumes: the PVC → its bound PV → the CSI attributes and the nodePublishSecretRef Secret
//    (`name`, `metaurl`, `storage`, `bucket`, keys): `juicefs format` when needed (trash off), then
//    `juicefs mount -d` with the PV's mount options, each cache-dir mapped to a per-node directory
//    `<runDir>/nodes/<node>/<host path>` (simulated nodes never share a cache); hostPath volumes and
//    hostPath PVs map to the same per-node tree; emptyDirs to a per-pod directory;
//  - the container: its command and args as the pod spec says (`paddle-runtime …` becomes
//    `node dist/src/bin/paddle-runtime.js …`), in-pod paths translated to the host directories
//    above, `--listen` bound to the pod IP (127.x addresses work on lo), env resolved (Secret keys,
//    field refs) — so the engine's StatefulSet is exercised as built;
//  - on pod deletion the preStop exec hook (translated the same way), then SIGTERM, then unmount;
//    a pod that changes IP or UID is torn down and set up again.
// KWOK marks the pods Ready at once, before the runtime listens; callers that need the runtime
// itself use waitForRuntime().
//
// startS3Gateway() runs `juicefs gateway` (S3 API, MinIO credentials) over a separate local JuiceFS
// volume — the "remote storage" of the tests — with a mount of that volume to put source files in.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { V1Container, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';
import { POD, PV, PVC, SAMPLESET_LABEL, SECRET } from '../../src/api/constants.js';
import { Informer } from '../../src/kube/informer.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import type { ControlPlane } from './control-plane.js';
import { startClaimConsumers, type ConsumerPod } from './claim-consumers.js';
import { ManagedProcess } from './process.js';
import { defaultLog, errorMessage, freePorts, httpRequest, repoRoot, sleep, waitFor, type LogFn } from './util.js';

export interface CacheNodeSimulatorOptions {
  /** Progress messages (default: stderr with a `[harness]` prefix). */
  log?: LogFn;
  /**
   * The paddle-runtime entry point (default `<repo>/dist/src/bin/paddle-runtime.js`, the installed
   * engines; EXAMPLE_RUNTIME_ENTRY adds the example engine).
   */
  runtimeEntry?: string;
  /** The juicefs binary (default `<cluster.binDir>/juicefs`). */
  juicefsBin?: string;
  /** Simulate only pods in these namespaces (default: every namespace). */
  namespaces?: string[];
  /** Simulate only pods this accepts (e.g. by namespace prefix, so suites do not serve each other's pods). */
  podFilter?: (pod: V1Pod) => boolean;
  /** Extra paddle-runtime arguments appended to the pod's (e.g. ['--log-level', 'debug']). */
  runtimeExtraArgs?: string[];
  /** Root of the per-node directories (default `<cluster.runDir>/nodes`). */
  nodesDir?: string;
  /**
   * Also mount the SampleSet claims of workload pods this accepts (e.g. a PaddleJob's), as the CSI
   * driver would on their node (claim-consumers.ts); default: none.
   */
  claimConsumers?: (pod: V1Pod) => boolean;
}

/** paddle-runtime with the example engine installed too (test/harness/paddle-runtime-example.ts, built). */
export const EXAMPLE_RUNTIME_ENTRY = path.join(repoRoot(), 'dist', 'test', 'harness', 'paddle-runtime-example.js');

/** One runtime pod being served by a local process. */
export interface SimulatedPod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  podIP: string;
  /** Directory of this pod's files (mounts, emptyDirs, logs). */
  podDir: string;
  /** The JuiceFS mount point of each PVC volume, by volume name. */
  mounts: Record<string, string>;
  /** The host directory of each cache-dir of the mount(s), in order. */
  cacheDirs: string[];
  /** Log of the paddle-runtime process. */
  logPath: string;
  /** The runtime answered /healthz. */
  serving: boolean;
}

export interface CacheNodeSimulator {
  /** Stops every simulated node and unmounts whatever it mounted (no preStop: a node shutdown). Idempotent. */
  stop(): Promise<void>;
  /** The pods currently served. */
  pods(): SimulatedPod[];
  /** Resolves once `namespace/name` is served by a runtime that answers /healthz. */
  waitForRuntime(namespace: string, name: string, timeoutMs?: number): Promise<SimulatedPod>;
  /** The directory standing for `hostPath` on `node`. */
  hostPath(node: string, hostPath: string): string;
  /** Problems met while setting up pods (for test diagnostics), newest last. */
  readonly errors: string[];
  /** Workload pods with their claims mounted (option claimConsumers). */
  consumers(): ConsumerPod[];
  /** Resolves once workload pod `namespace/name` has its claims mounted (option claimConsumers). */
  waitForConsumer(namespace: string, name: string, timeoutMs?: number): Promise<ConsumerPod>;
}

interface Sim extends SimulatedPod {
  proc?: ManagedProcess;
  container: V1Container;
  translate: (arg: string) => string;
  env: NodeJS.ProcessEnv;
}

const RUNTIME_COMMAND = 'paddle-runtime';

function podKey(ns: string, name: string): string {
  return `${ns}/${name}`;
}

/** Runs a command to completion; rejects with its output on a non-zero exit. Never logs `env`. */
function run(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8');
      if (code === 0) resolve(text);
      else
        reject(
          new Error(
            `${path.basename(bin)} ${args[0] ?? ''} failed (${signal ?? `exit ${code}`}): ${text.trim().split('\n').slice(-5).join(' | ')}`,
          ),
        );
    });
  });
}

function secretValue(s: V1Secret | undefined, key: string): string | undefined {
  const v = s?.data?.[key];
  if (v !== undefined) return Buffer.from(v, 'base64').toString('utf8');
  return s?.stringData?.[key];
}

/** `a=b,c` → [['a','b'], ['c', undefined]] (CSI mountOptions string and PV spec.mountOptions entries). */
function parseMountOptions(list: string[]): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (const entry of list) {
    for (const part of entry.split(',')) {
      const p = part.trim();
      if (!p) continue;
      const i = p.indexOf('=');
      out.push(i < 0 ? [p, undefined] : [p.slice(0, i), p.slice(i + 1)]);
    }
  }
  return out;
}

/** Serializes async work per key. */
class KeyedChain {
  private readonly chains = new Map<string, Promise<void>>();
  run(key: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn).finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    this.chains.set(key, next);
    return next;
  }
  async drain(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
  }
}

export async function startCacheNodeSimulator(cluster: ControlPlane, opts: CacheNodeSimulatorOptions = {}): Promise<CacheNodeSimulator> {
  const log = opts.log ?? defaultLog;
  const juicefs = opts.juicefsBin ?? path.join(cluster.binDir, 'juicefs');
  const runtimeEntry = opts.runtimeEntry ?? path.join(repoRoot(), 'dist', 'src', 'bin', 'paddle-runtime.js');
  const nodesDir = opts.nodesDir ?? path.join(cluster.runDir, 'nodes');
  fs.mkdirSync(nodesDir, { recursive: true });
  const api = new KubeApi(cluster.kubeConfig());
  const informer = new Informer<V1Pod>(api, POD, { labelSelector: SAMPLESET_LABEL, watchTimeoutSeconds: 60 });
  const sims = new Map<string, Sim>();
  const chain = new KeyedChain();
  const formatChain = new KeyedChain();
  const retryTimers = new Map<string, NodeJS.Timeout>();
  const errors: string[] = [];
  let stopped = false;

  const nodeDir = (node: string): string => path.join(nodesDir, node);
  const hostPath = (node: string, p: string): string => path.join(nodeDir(node), path.resolve('/', p));
  const baseEnv = (): NodeJS.ProcessEnv => ({
    ...process.env,
    PATH: `${cluster.binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    JUICEFS_BIN: juicefs,
  });

  const noteError = (msg: string): void => {
    errors.push(msg);
    if (errors.length > 200) errors.shift();
    log(`cache-nodes: ${msg}`);
  };

  const wanted = (pod: V1Pod | undefined): boolean =>
    !!pod &&
    !pod.metadata?.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    !!pod.status.podIP &&
    !!pod.spec?.nodeName &&
    (!opts.namespaces || opts.namespaces.includes(pod.metadata?.namespace ?? '')) &&
    (!opts.podFilter || opts.podFilter(pod));

  /** The PV the claim `claimName` is bound to (Retry until it is). */
  async function boundVolume(ns: string, claimName: string): Promise<V1PersistentVolume> {
    const pvc = await api.get<V1PersistentVolumeClaim>(PVC, claimName, ns);
    if (!pvc) throw new Retry(`PVC ${ns}/${claimName} does not exist yet`);
    if (pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName) throw new Retry(`PVC ${ns}/${claimName} is not bound yet`);
    const pv = await api.get<V1PersistentVolume>(PV, pvc.spec.volumeName);
    if (!pv) throw new Retry(`PV ${pvc.spec.volumeName} of PVC ${ns}/${claimName} does not exist`);
    return pv;
  }

  /** CSI NodePublish: format (if needed) and mount the JuiceFS PV `pv` for a pod; the cache dirs of the mount. */
  async function mountClaim(pv: V1PersistentVolume, ns: string, node: string, mountPoint: string, logFile: string): Promise<string[]> {
    const csi = pv.spec?.csi;
    if (!csi) throw new Error(`PV ${pv.metadata?.name} has neither a CSI nor a hostPath source`);
    const ref = csi.nodePublishSecretRef;
    if (!ref?.name) throw new Error(`PV ${pv.metadata?.name} has no nodePublishSecretRef`);
    const secret = await api.get<V1Secret>(SECRET, ref.name, ref.namespace || ns);
    if (!secret) throw new Retry(`Secret ${ref.namespace || ns}/${ref.name} does not exist`);
    const name = secretValue(secret, 'name');
    let metaurl = secretValue(secret, 'metaurl');
    if (!name || !metaurl) throw new Error(`Secret ${ref.name} lacks name or metaurl`);
    if (!metaurl.includes('://')) metaurl = `redis://${metaurl}`;
    const storage = secretValue(secret, 'storage');
    const bucket = secretValue(secret, 'bucket');
    const credEnv: NodeJS.ProcessEnv = { ...baseEnv() };
    const ak = secretValue(secret, 'access-key');
    const sk = secretValue(secret, 'secret-key');
    if (ak) credEnv.ACCESS_KEY = ak;
    if (sk) credEnv.SECRET_KEY = sk;

    // format once per metaurl at a time (SQLite does not like concurrent formats)
    await formatChain.run(metaurl, async () => {
      const args = ['format', '--no-update', '--trash-days', '0'];
      if (storage) args.push('--storage', storage);
      if (bucket) args.push('--bucket', bucket);
      for (const [k, v] of parseMountOptions([secretValue(secret, 'format-options') ?? '']))
        args.push(`--${k}`, ...(v === undefined ? [] : [v]));
      await run(juicefs, [...args, metaurl, name], { env: credEnv, timeoutMs: 60_000 });
    });

    const options = parseMountOptions([...(pv.spec?.mountOptions ?? []), csi.volumeAttributes?.mountOptions ?? '']);
    const cacheDirs: string[] = [];
    const args = ['mount', '-d', '--no-usage-report', '--no-syslog', '--log', logFile];
    let backup = false;
    for (const [k, v] of options) {
      if (k === 'cache-dir' && v !== undefined && v !== 'memory') {
        const dirs = v
          .split(':')
          .filter(Boolean)
          .map((d) => hostPath(node, d));
        for (const d of dirs) fs.mkdirSync(d, { recursive: true });
        cacheDirs.push(...dirs);
        args.push('--cache-dir', dirs.join(':'));
        continue;
      }
      if (k === 'backup-meta') backup = true;
      args.push(v === undefined ? `--${k}` : `--${k}=${v}`);
    }
    if (!backup) args.push('--backup-meta', '0');
    fs.mkdirSync(mountPoint, { recursive: true });
    await run(juicefs, [...args, metaurl, mountPoint], { env: credEnv, timeoutMs: 60_000 });
    return cacheDirs;
  }

  async function unmount(mountPoint: string): Promise<void> {
    for (const args of [
      ['umount', mountPoint],
      ['umount', '--force', mountPoint],
    ]) {
      try {
        await run(juicefs, args, { timeoutMs: 30_000 });
        return;
      } catch (e) {
        if (/not a mount point|not mounted|no such file/i.test(errorMessage(e))) return;
      }
    }
    await run('umount', ['-l', mountPoint], { timeoutMs: 10_000 }).catch((e: unknown) =>
      noteError(`could not unmount ${mountPoint}: ${errorMessage(e)}`),
    );
  }

  /** Env of the container: plain values, Secret keys, a few field refs; paths translated. */
  async function containerEnv(pod: V1Pod, c: V1Container, translate: (s: string) => string): Promise<NodeJS.ProcessEnv> {
    const env = baseEnv();
    const ns = pod.metadata!.namespace!;
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value.startsWith('/') ? translate(e.value) : e.value;
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const s = await api.get<V1Secret>(SECRET, ref.name!, ns);
        const v = secretValue(s, ref.key);
        if (v === undefined && !ref.optional) throw new Retry(`Secret ${ns}/${ref.name} key ${ref.key} (env ${e.name}) is missing`);
        if (v !== undefined) env[e.name] = v;
      } else if (e.valueFrom?.fieldRef) {
        const f = e.valueFrom.fieldRef.fieldPath;
        const v =
          f === 'metadata.name'
            ? pod.metadata?.name
            : f === 'metadata.namespace'
              ? ns
              : f === 'status.podIP'
                ? pod.status?.podIP
                : f === 'spec.nodeName'
                  ? pod.spec?.nodeName
                  : undefined;
        if (v !== undefined) env[e.name] = v;
      }
    }
    return env;
  }

  /** `paddle-runtime …` → `node <entry> …`, paths translated, `--listen` on the pod IP. */
  function commandLine(c: V1Container, argv: string[], translate: (s: string) => string, podIP: string): { bin: string; args: string[] } {
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--listen' && i + 1 < argv.length) {
        const port = /:(\d+)$/.exec(argv[i + 1])?.[1] ?? '7716';
        out.push(a, `${podIP}:${port}`);
        i++;
      } else if (a.startsWith('--listen=')) {
        out.push(`--listen=${podIP}:${/:(\d+)$/.exec(a)?.[1] ?? '7716'}`);
      } else if (a === '--host-cache-dir' && i + 1 < argv.length) {
        // host paths as the user wrote them (the runtime only matches clear paths against them)
        out.push(a, argv[i + 1]);
        i++;
      } else if (a.startsWith('--') && a.includes('=')) {
        const j = a.indexOf('=');
        out.push(`${a.slice(0, j)}=${translate(a.slice(j + 1))}`);
      } else {
        out.push(translate(a));
      }
    }
    const [first, ...rest] = out;
    if (first === RUNTIME_COMMAND || first?.endsWith('/' + RUNTIME_COMMAND)) {
      if (!fs.existsSync(runtimeEntry)) throw new Error(`${runtimeEntry} does not exist (npm run build)`);
      return { bin: process.execPath, args: ['--enable-source-maps', runtimeEntry, ...rest] };
    }
    if (!first) throw new Error(`container ${c.name} has no command`);
    return { bin: first, args: rest };
  }

  async function setup(pod: V1Pod): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const node = pod.spec!.nodeName!;
    const podIP = pod.status!.podIP!;
    const podDir = path.join(nodeDir(node), 'pods', `${ns}_${name}`);
    fs.mkdirSync(podDir, { recursive: true });
    const c = pod.spec!.containers.find((x) => x.name === 'runtime') ?? pod.spec!.containers[0];
    const volumeHost = new Map<string, string>();
    const mounts: Record<string, string> = {};
    const cacheDirs: string[] = [];
    const sim: Sim = {
      namespace: ns,
      name,
      uid: pod.metadata!.uid!,
      node,
      podIP,
      podDir,
      mounts,
      cacheDirs,
      logPath: path.join(podDir, 'runtime.log'),
      serving: false,
      container: c,
      translate: (s) => s,
      env: {},
    };
    sims.set(podKey(ns, name), sim);
    for (const v of pod.spec!.volumes ?? []) {
      if (v.persistentVolumeClaim) {
        const pv = await boundVolume(ns, v.persistentVolumeClaim.claimName);
        if (pv.spec?.hostPath) {
          // a hostPath PV (e.g. the example engine's): the node's directory, as the kubelet does
          const d = hostPath(node, pv.spec.hostPath.path);
          fs.mkdirSync(d, { recursive: true });
          volumeHost.set(v.name, d);
          continue;
        }
        const mp = path.join(podDir, v.name);
        const dirs = await mountClaim(pv, ns, node, mp, path.join(podDir, `juicefs-${v.name}.log`));
        mounts[v.name] = mp;
        cacheDirs.push(...dirs);
        volumeHost.set(v.name, mp);
      } else if (v.hostPath) {
        const d = hostPath(node, v.hostPath.path);
        fs.mkdirSync(d, { recursive: true });
        volumeHost.set(v.name, d);
      } else if (v.emptyDir) {
        const d = path.join(podDir, 'empty', v.name);
        fs.mkdirSync(d, { recursive: true });
        volumeHost.set(v.name, d);
      }
    }
    const mountsByPath = (c.volumeMounts ?? [])
      .filter((m) => volumeHost.has(m.name))
      .map((m) => ({ at: m.mountPath.replace(/\/+$/, '') || '/', host: path.join(volumeHost.get(m.name)!, m.subPath ?? '') }))
      .sort((a, b) => b.at.length - a.at.length);
    sim.translate = (s: string): string => {
      for (const m of mountsByPath) {
        if (s === m.at) return m.host;
        if (s.startsWith(m.at + '/')) return m.host + s.slice(m.at.length);
      }
      return s;
    };
    sim.env = await containerEnv(pod, c, sim.translate);
    const { bin, args } = commandLine(c, [...(c.command ?? []), ...(c.args ?? [])], sim.translate, podIP);
    const port = Number(/:(\d+)$/.exec(args[args.indexOf('--listen') + 1] ?? '')?.[1] ?? 7716);
    // another process on this address (e.g. a second test cluster with the same pod CIDR) would
    // answer in our runtime's place: refuse rather than test against a stranger
    await assertAddressFree(podIP, port);
    sim.proc = ManagedProcess.spawn({
      name: `runtime ${ns}/${name}`,
      bin,
      args: [...args, ...(opts.runtimeExtraArgs ?? [])],
      logPath: sim.logPath,
      env: sim.env,
      cwd: podDir,
    });
    try {
      await waitFor(
        `paddle-runtime of ${ns}/${name} on ${podIP}:${port}`,
        async () => (await httpRequest(`http://${podIP}:${port}/healthz`, { timeoutMs: 1000 })).status === 200,
        { timeoutMs: 30_000, intervalMs: 100, check: () => sim.proc!.assertRunning() },
      );
      await sleep(100);
      sim.proc.assertRunning();
      sim.serving = true;
      log(`cache-nodes: ${ns}/${name} served on ${node} at ${podIP}:${port}`);
    } catch (e) {
      noteError(`runtime of ${ns}/${name} did not come up: ${errorMessage(e)}`);
    }
  }

  async function teardown(sim: Sim, preStop: boolean): Promise<void> {
    sims.delete(podKey(sim.namespace, sim.name));
    const hook = sim.container.lifecycle?.preStop?.exec?.command;
    if (preStop && hook && hook.length > 0 && Object.keys(sim.mounts).length > 0) {
      try {
        const { bin, args } = commandLine(sim.container, hook, sim.translate, sim.podIP);
        await run(bin, args, { env: sim.env, timeoutMs: 30_000, cwd: sim.podDir });
      } catch (e) {
        noteError(`preStop of ${sim.namespace}/${sim.name} failed: ${errorMessage(e)}`);
      }
    }
    await sim.proc?.stop(10_000);
    for (const mp of Object.values(sim.mounts)) await unmount(mp);
    log(`cache-nodes: ${sim.namespace}/${sim.name} stopped${preStop ? ' (pod deleted)' : ''}`);
  }

  function scheduleRetry(key: string, ms: number): void {
    if (stopped || retryTimers.has(key)) return;
    const t = setTimeout(() => {
      retryTimers.delete(key);
      schedule(key);
    }, ms);
    t.unref?.();
    retryTimers.set(key, t);
  }

  function schedule(key: string): void {
    if (stopped) return;
    void chain.run(key, async () => {
      if (stopped) return;
      const [ns, name] = key.split('/', 2);
      const pod = informer.get(name, ns);
      const cur = sims.get(key);
      const want = wanted(pod);
      if (cur && (!want || cur.uid !== pod!.metadata!.uid || cur.podIP !== pod!.status!.podIP)) {
        await teardown(cur, !pod || !!pod.metadata?.deletionTimestamp || cur.uid !== pod.metadata?.uid);
      }
      if (want && !sims.has(key)) {
        try {
          await setup(pod!);
        } catch (e) {
          const s = sims.get(key);
          if (s) await teardown(s, false).catch(() => undefined);
          if (e instanceof Retry) {
            log(`cache-nodes: ${key}: ${e.message}; retrying`);
          } else {
            noteError(`could not set up ${key}: ${errorMessage(e)}`);
          }
          scheduleRetry(key, e instanceof Retry ? e.delayMs : 3000);
        }
      }
    });
  }

  informer.addHandler((_type, pod) => schedule(podKey(pod.metadata!.namespace!, pod.metadata!.name!)));
  informer.start();
  await informer.waitForSync();
  const consumers = opts.claimConsumers
    ? await startClaimConsumers({ api, log, nodeDir, boundVolume, mountClaim, unmount, noteError }, opts.claimConsumers)
    : undefined;
  log(`cache-nodes: watching runtime pods; node directories under ${nodesDir}`);

  return {
    errors,
    pods: () =>
      [...sims.values()].map(({ namespace, name, uid, node, podIP, podDir, mounts, cacheDirs, logPath, serving }) => ({
        namespace,
        name,
        uid,
        node,
        podIP,
        podDir,
        mounts,
        cacheDirs,
        logPath,
        serving,
      })),
    hostPath,
    consumers: () => consumers?.list() ?? [],
    waitForConsumer: (namespace, name, timeoutMs) => {
      if (!consumers) throw new Error('startCacheNodeSimulator was not given claimConsumers');
      return consumers.waitFor(namespace, name, timeoutMs);
    },
    async waitForRuntime(namespace: string, name: string, timeoutMs = 60_000): Promise<SimulatedPod> {
      return waitFor(
        `simulated runtime ${namespace}/${name}`,
        () => {
          const s = sims.get(podKey(namespace, name));
          return s?.serving ? { ...s } : undefined;
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      for (const t of retryTimers.values()) clearTimeout(t);
      retryTimers.clear();
      await consumers?.stop();
      await informer.stop();
      await chain.drain();
      for (const s of [...sims.values()]) await teardown(s, false);
      log('cache-nodes: stopped');
    },
  };
}

/** A condition that should clear by itself (PVC not bound yet, Secret not created yet). */
class Retry extends Error {
  constructor(
    message: string,
    readonly delayMs = 500,
  ) {
    super(message);
  }
}

/** Throws Retry when something already listens on host:port. */
async function assertAddressFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new Retry(`${host}:${port} is taken by another process (another test cluster using the same pod IPs?)`, 3000)
          : e,
      ),
    );
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

// ------------------------------------------------------------------------------------ S3 gateway

export interface S3GatewayOptions {
  /** Directory for the gateway volume (metadata, objects, mount point, logs). */
  dir: string;
  /** The juicefs binary. */
  juicefsBin: string;
  /** MinIO credentials the gateway accepts (defaults: generated). */
  accessKey?: string;
  secretKey?: string;
  log?: LogFn;
  /** The address the gateway listens on (default 127.0.0.1; a real-node bridge address makes it reachable from pods). */
  listenAddress?: string;
}

/** A local S3 endpoint (JuiceFS gateway, multi-bucket: every top-level directory is a bucket). */
export interface S3Gateway {
  /** `http://<listenAddress>:<port>` */
  endpoint: string;
  /** `127.0.0.1:<port>` */
  hostPort: string;
  accessKey: string;
  secretKey: string;
  /** A mount of the gateway's volume: `<mountPoint>/<bucket>/<key>` is object `<key>` of `<bucket>`. */
  mountPoint: string;
  /** `minio://127.0.0.1:<port>/<bucket>/<prefix>` — the source URI form JuiceFS sync takes. */
  uri(bucket: string, prefix?: string): string;
  createBucket(bucket: string): void;
  /** Writes objects (key → content or a size in bytes of deterministic pseudo-random content); creates the bucket. */
  put(bucket: string, objects: Record<string, string | Buffer | number>): { files: number; bytes: number };
  /** Copies a local directory tree under `bucket/prefix`. */
  putDir(localDir: string, bucket: string, prefix?: string): { files: number; bytes: number };
  stop(): Promise<void>;
}

/** Deterministic pseudo-random bytes (xorshift), so datasets are reproducible and incompressible. */
export function pseudoRandomBytes(size: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 0x9e3779b9;
  let i = 0;
  while (i + 4 <= size) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
    i += 4;
  }
  for (; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

function hashSeed(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export async function startS3Gateway(opts: S3GatewayOptions): Promise<S3Gateway> {
  const log = opts.log ?? defaultLog;
  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });
  const metaurl = `sqlite3://${path.join(dir, 'meta.db')}`;
  const accessKey = opts.accessKey ?? 'paddletest';
  const secretKey = opts.secretKey ?? `s3cret-${Math.random().toString(36).slice(2, 12)}`;
  await run(
    opts.juicefsBin,
    ['format', '--no-update', '--trash-days', '0', '--storage', 'file', '--bucket', path.join(dir, 'objects') + '/', metaurl, 'source'],
    { timeoutMs: 60_000 },
  );
  const mountPoint = path.join(dir, 'mnt');
  fs.mkdirSync(mountPoint, { recursive: true });
  await run(
    opts.juicefsBin,
    ['mount', '-d', '--no-usage-report', '--no-syslog', '--backup-meta', '0', '--log', path.join(dir, 'mount.log'), metaurl, mountPoint],
    { timeoutMs: 60_000 },
  );

  let proc: ManagedProcess | undefined;
  let port = 0;
  const host = opts.listenAddress ?? '127.0.0.1';
  for (let attempt = 1; ; attempt++) {
    [port] = await freePorts(1, host);
    proc = ManagedProcess.spawn({
      name: 's3-gateway',
      bin: opts.juicefsBin,
      // metadata caches off: files written through the mount are visible through S3 at once
      args: [
        'gateway',
        '--multi-buckets',
        '--no-usage-report',
        '--backup-meta',
        '0',
        '--attr-cache',
        '0',
        '--entry-cache',
        '0',
        '--dir-entry-cache',
        '0',
        metaurl,
        `${host}:${port}`,
      ],
      logPath: path.join(dir, 'gateway.log'),
      env: { ...process.env, MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey },
      cwd: dir,
    });
    try {
      await waitFor(
        `juicefs gateway on ${host}:${port}`,
        async () => (await httpRequest(`http://${host}:${port}/minio/health/live`, { timeoutMs: 1000 })).status === 200,
        {
          timeoutMs: 30_000,
          intervalMs: 100,
          check: () => proc!.assertRunning(),
        },
      );
      break;
    } catch (e) {
      await proc.stop(2000);
      if (attempt >= 3) {
        await run(opts.juicefsBin, ['umount', '--force', mountPoint], { timeoutMs: 30_000 }).catch(() => undefined);
        throw e;
      }
    }
  }
  log(`s3 gateway at http://${host}:${port} (volume ${dir})`);

  const writeTree = (bucket: string, entries: Array<[string, string | Buffer | number]>): { files: number; bytes: number } => {
    let files = 0;
    let bytes = 0;
    for (const [key, content] of entries) {
      const rel = path.normalize(key).replace(/^(\.\.(\/|$))+/, '');
      const file = path.join(mountPoint, bucket, rel);
      if (!file.startsWith(path.join(mountPoint, bucket) + path.sep)) throw new Error(`object key ${key} escapes the bucket`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const data = typeof content === 'number' ? pseudoRandomBytes(content, hashSeed(`${bucket}/${key}`)) : content;
      fs.writeFileSync(file, data);
      files++;
      bytes += Buffer.byteLength(data);
    }
    return { files, bytes };
  };

  let stopped = false;
  return {
    endpoint: `http://${host}:${port}`,
    hostPort: `${host}:${port}`,
    accessKey,
    secretKey,
    mountPoint,
    uri: (bucket, prefix = '') => `minio://${host}:${port}/${bucket}/${prefix.replace(/^\/+/, '')}`,
    createBucket: (bucket) => fs.mkdirSync(path.join(mountPoint, bucket), { recursive: true }),
    put: (bucket, objects) => {
      fs.mkdirSync(path.join(mountPoint, bucket), { recursive: true });
      return writeTree(bucket, Object.entries(objects));
    },
    putDir: (localDir, bucket, prefix = '') => {
      const entries: Array<[string, Buffer]> = [];
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.isFile()) entries.push([path.join(prefix, path.relative(localDir, p)), fs.readFileSync(p)]);
        }
      };
      walk(localDir);
      fs.mkdirSync(path.join(mountPoint, bucket), { recursive: true });
      return writeTree(bucket, entries);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await proc?.stop(5000);
      await run(opts.juicefsBin, ['umount', mountPoint], { timeoutMs: 30_000 }).catch(() =>
        run(opts.juicefsBin, ['umount', '--force', mountPoint], { timeoutMs: 30_000 }).catch(() => undefined),
      );
    },
  };
}

/** Waits until nothing is mounted under `dir` (after stop()); for tests that clean up run dirs. */
export async function waitUnmounted(dir: string, timeoutMs = 10_000): Promise<void> {
  const abs = path.resolve(dir);
  await waitFor(
    `no mounts under ${abs}`,
    () =>
      !fs
        .readFileSync('/proc/mounts', 'utf8')
        .split('\n')
        .some((l) => l.split(' ')[1]?.startsWith(abs + '/')),
    { timeoutMs, intervalMs: 200 },
  );
  await sleep(0);
}
