// A REAL Kubernetes node next to the KWOK nodes: kubelet, containerd + runc + CNI bridge,
// kube-proxy (nftables), the JuiceFS CSI driver (mount-pod mode by default, see real-node-csi.ts)
// and its plugin registration, all in private mount + network + PID namespaces made by the harness.
//
//   const bridge = await createNodeBridge({ runDir });
//   const cp = await ControlPlane.start({ runDir, bindAddress: bridge.address, ... });
//   const node = await RealNode.start({ cluster: cp, bridge, name: 'real-0', index: 0 });
//   await node.importImage('image.tar');     // OCI tarball; pods use imagePullPolicy: Never
//   await node.exec(['crictl', 'ps']);       // any command inside the node's namespaces
//   await node.stop();                       // pods deleted, everything killed, nothing left behind
//
// Layout: the holder is `unshare --mount --net --pid --fork --mount-proc` running the `pause`
// binary as the namespace's init (it reaps orphans); every daemon is started into it with nsenter,
// so killing the holder ends everything inside. Inside, /run is a tmpfs, /var/lib, /var/log,
// /usr/local/bin and /usr/bin are overlays over the host's (writes land in the node directory),
// and the /proc/sys files kubelet writes are private copies. The node's eth0 is a veth on the host
// bridge; the host routes the node's pod CIDR via the node IP, so host processes reach pod IPs.
// See real-node-config.ts for the address plan and every configuration file.
import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, StorageV1Api } from '@kubernetes/client-node';
import type { ControlPlane } from './control-plane.js';
import { ociImageTarball } from './oci-image.js';
import { csiSocketDir, type CsiMode } from './real-node-csi.js';
import { drainNodePods, releaseMountPods } from './real-node-csi-api.js';
import { startCsiPlugin } from './real-node-csi-start.js';
import type { MountImage } from './real-node-mount-image.js';
import { issueClientCertificate } from './pki.js';
import { ManagedProcess } from './process.js';
import {
  CONTAINERD_SOCKET,
  fuseMountPoints,
  JUICEFS_CSI_DRIVER,
  KUBELET_ROOT,
  KUBELET_SYSCTLS,
  NODE_OVERLAYS,
  nodeCgroupRoot,
  nodeConfigFiles,
  nodeNetwork,
  SANDBOX_IMAGE,
  type NodeNetwork,
} from './real-node-config.js';
import {
  createCgroup,
  linkExists,
  namespacesOf,
  nodeStateFile,
  run,
  teardownNodeState,
  type NodeBridge,
  type NodeState,
} from './real-node-host.js';
import { nodeToolchainBinDir, toolchainBinDir } from './toolchain.js';
import { defaultLog, errorMessage, pidAlive, waitFor, type LogFn } from './util.js';

export { cleanupStaleRealNodes, createNodeBridge, type NodeBridge } from './real-node-host.js';
export { releaseMountPods } from './real-node-csi-api.js';

export interface RealNodeOptions {
  cluster: ControlPlane;
  /** The bridge the cluster's apiserver is bound on (createNodeBridge, ControlPlane bindAddress). */
  bridge: NodeBridge;
  name: string;
  /** 0..15, unique per bridge: picks the node IP and pod CIDR. */
  index: number;
  log?: LogFn;
  /** Node labels (kubelet --node-labels; `type=real` is always set). */
  labels?: Record<string, string>;
  /** Taints the node registers with (kubelet --register-with-taints), e.g. `dedicated=real:NoSchedule`, to keep other suites' pods off it. */
  taints?: string[];
  /** Deadline for Ready + CSINode (default 120 s). */
  timeoutMs?: number;
  /** How the JuiceFS CSI node plugin mounts volumes (default 'mount-pod', the driver's production default; see real-node-csi.ts). */
  csiMode?: CsiMode;
  /** The mount pods' image (mount-pod mode); default: derived from the project image (real-node-mount-image.ts). */
  mountImage?: MountImage;
}

type Daemon = 'containerd' | 'kubelet' | 'kube-proxy' | 'juicefs-csi' | 'csi-registrar';

export class RealNode {
  readonly name: string;
  readonly net: NodeNetwork;
  readonly nodeDir: string;
  readonly logDir: string;
  /** How long start() took until Ready with the CSI driver registered, in milliseconds. */
  startupMs = 0;
  /**
   * What the last stop() did: app pods deleted through the API; mount pods the CSI driver deleted
   * itself once their last user was gone (and those the harness had to delete); whether every FUSE
   * mount was released before the kill.
   */
  stopReport: { pods: number; mountPodsByDriver: number; mountPodsByHarness: number; fuseReleased: boolean; ms: number } | undefined;
  private holder: ManagedProcess | undefined;
  private initPid = 0;
  private namespaceIds: string[] = [];
  private readonly daemons = new Map<Daemon, ManagedProcess>();
  private mountImageImport: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private readonly log: LogFn;

  private constructor(
    private readonly opts: RealNodeOptions,
    private readonly binDir: string,
    private readonly cpBinDir: string,
  ) {
    this.name = opts.name;
    this.net = nodeNetwork(opts.bridge.index, opts.index);
    this.nodeDir = path.join(opts.cluster.runDir, 'real-nodes', opts.name);
    this.logDir = path.join(this.nodeDir, 'logs');
    this.log = opts.log ?? defaultLog;
  }

  /** How this node's CSI plugin mounts volumes. */
  get csiMode(): CsiMode {
    return this.opts.csiMode ?? 'mount-pod';
  }

  get nodeIP(): string {
    return this.net.nodeIP;
  }

  get podCIDR(): string {
    return this.net.podCIDR;
  }

  /** kubelet's cgroupRoot (present in every cgroup hierarchy while the node runs). */
  get cgroupRoot(): string {
    return nodeCgroupRoot(this.opts.bridge.index, this.opts.index);
  }

  /** pid of the holder process (`unshare`); killing it ends the node. */
  get holderPid(): number {
    return this.holder?.pid ?? 0;
  }

  /** The node's pid, mount and network namespaces (`pid:[…]`, `mnt:[…]`, `net:[…]`). */
  get namespaces(): string[] {
    return [...this.namespaceIds];
  }

  /** pid (on the host) of the node's PID-namespace init, the `pause` process the holder forked. */
  get initProcessPid(): number {
    return this.initPid;
  }

  /** Starts the node and resolves once it is Ready and its CSINode lists csi.juicefs.com. */
  static async start(opts: RealNodeOptions): Promise<RealNode> {
    const node = new RealNode(opts, await nodeToolchainBinDir(), await toolchainBinDir());
    try {
      await node.boot();
    } catch (err) {
      node.log(`real node ${opts.name} failed to start: ${errorMessage(err)}`);
      node.dumpLogs(30);
      await node.stop();
      throw new Error(`real node ${opts.name} failed to start (logs in ${node.logDir}): ${errorMessage(err)}`, { cause: err });
    }
    return node;
  }

  private async boot(): Promise<void> {
    const t0 = Date.now();
    const deadline = t0 + (this.opts.timeoutMs ?? 120_000);
    const remaining = (): number => Math.max(1000, deadline - Date.now());
    const { cluster } = this.opts;
    const phases: string[] = [];
    const mark = (what: string, since: number): void => {
      phases.push(`${what} ${((Date.now() - since) / 1000).toFixed(1)}s`);
    };
    if (fs.existsSync(nodeStateFile(this.nodeDir)))
      throw new Error(`${this.nodeDir} holds a node's state: stop it or run cleanupStaleRealNodes() first`);
    fs.rmSync(this.nodeDir, { recursive: true, force: true });
    for (const d of ['logs', 'pki', 'containerd', 'cni/net.d', 'cni/ipam', 'pod-logs', 'volume-plugins', 'sysctl', 'overlay'])
      fs.mkdirSync(path.join(this.nodeDir, d), { recursive: true });

    let t = Date.now();
    const pkiDir = path.join(this.nodeDir, 'pki');
    const [kubeletCert, proxyCert] = await Promise.all([
      issueClientCertificate(cluster.pki, pkiDir, 'kubelet', `system:node:${this.name}`, 'system:nodes'),
      issueClientCertificate(cluster.pki, pkiDir, 'kube-proxy', 'system:kube-proxy'),
    ]);
    this.writeConfigs(kubeletCert, proxyCert);
    this.writePauseImage();
    mark('config', t);

    t = Date.now();
    await this.startHolder();
    await this.setupInside();
    await this.setupNetwork();
    mark('namespaces', t);

    t = Date.now();
    this.daemon('containerd', path.join(this.binDir, 'containerd'), ['--config', this.file('containerd/config.toml')]);
    await waitFor('containerd socket', () => fs.existsSync(this.inside(CONTAINERD_SOCKET)), {
      timeoutMs: remaining(),
      intervalMs: 50,
      check: () => this.assertRunning('containerd'),
    });
    await this.importImage(this.file('pause.tar'));
    mark('containerd', t);

    t = Date.now();
    const csiDir = csiSocketDir();
    await this.exec(['mkdir', '-p', csiDir, `${KUBELET_ROOT}/plugins_registry`, '/var/lib/jfs']);
    const csiStarted = startCsiPlugin(
      {
        name: this.name,
        nodeIP: this.net.nodeIP,
        cluster,
        binDir: this.binDir,
        cpBinDir: this.cpBinDir,
        rootDir: this.file('csi-root'),
        log: this.log,
        startDaemon: (name, bin, args, env, root) => void this.daemon(name, bin, args, env, root),
        assertDriverRunning: () => this.assertRunning('juicefs-csi'),
        exec: (args) => this.exec(args),
        inside: (p) => this.inside(p),
        importImage: (tar) => this.importImage(tar),
      },
      this.csiMode,
      this.opts.mountImage,
    ).then((r) => {
      this.mountImageImport = r.mountImageImport;
    });
    let csiFailure: unknown;
    csiStarted.catch((err: unknown) => {
      csiFailure = err;
    });
    const labels = Object.entries({ type: 'real', ...this.opts.labels })
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    this.daemon('kubelet', path.join(this.binDir, 'kubelet'), [
      `--config=${this.file('kubelet.yaml')}`,
      `--kubeconfig=${this.file('kubelet.kubeconfig')}`,
      `--root-dir=${KUBELET_ROOT}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${this.net.nodeIP}`,
      `--node-labels=${labels}`,
      ...(this.opts.taints?.length ? [`--register-with-taints=${this.opts.taints.join(',')}`] : []),
      '-v=2',
    ]);
    this.daemon('kube-proxy', path.join(this.binDir, 'kube-proxy'), [`--config=${this.file('kube-proxy.yaml')}`, '-v=2']);
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    const storage = cluster.kubeConfig().makeApiClient(StorageV1Api);
    const all = (): void => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the CSI driver's start rejected with
      if (csiFailure) throw csiFailure;
      ['containerd', 'kubelet', 'kube-proxy', 'juicefs-csi', 'csi-registrar'].forEach((d) => this.assertRunning(d as Daemon));
    };
    await waitFor(
      `node ${this.name} Ready`,
      async () => (await core.readNode({ name: this.name })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      { timeoutMs: remaining(), intervalMs: 200, check: all },
    );
    mark('Ready', t);
    await waitFor(
      `CSINode ${this.name} lists ${JUICEFS_CSI_DRIVER}`,
      async () => (await storage.readCSINode({ name: this.name })).spec?.drivers?.some((d) => d.name === JUICEFS_CSI_DRIVER),
      { timeoutMs: remaining(), intervalMs: 200, check: all },
    );
    mark('CSINode', t);
    await csiStarted;
    this.startupMs = Date.now() - t0;
    this.log(
      `real node ${this.name} (${this.net.nodeIP}, pods ${this.net.podCIDR}) Ready in ${(this.startupMs / 1000).toFixed(1)} s (${phases.join(', ')})`,
    );
  }

  /**
   * Resolves once the mount pods' image is in the node's containerd (mount-pod mode; at once in
   * by-process mode). start() does not wait for this import (≈15–40 s for the project image's
   * layers): await it before the first pod with a JuiceFS volume, or its mount pod fails to pull.
   */
  mountImageReady(): Promise<void> {
    return this.mountImageImport ?? Promise.resolve();
  }

  private file(rel: string): string {
    return path.join(this.nodeDir, rel);
  }

  /** The host path of `p` as the node's mount namespace sees it (through the init's /proc/<pid>/root). */
  inside(p: string): string {
    return path.join(`/proc/${this.initPid}/root`, p);
  }

  private writeConfigs(kubeletCert: { cert: string; key: string }, proxyCert: { cert: string; key: string }): void {
    const { cluster } = this.opts;
    const files = nodeConfigFiles({
      nodeDir: this.nodeDir,
      name: this.name,
      net: this.net,
      binDir: this.binDir,
      server: cluster.server,
      caFile: cluster.pki.caCert,
      cgroupRoot: this.cgroupRoot,
      kubeletCert,
      proxyCert,
    });
    for (const [rel, text] of Object.entries(files)) fs.writeFileSync(this.file(rel), text, { mode: 0o600 });
  }

  private writePauseImage(): void {
    const data = fs.readFileSync(path.join(this.binDir, 'pause'));
    fs.writeFileSync(
      this.file('pause.tar'),
      ociImageTarball({ name: SANDBOX_IMAGE, files: [{ path: 'pause', data, mode: 0o755 }], entrypoint: ['/pause'] }),
    );
  }

  private async startHolder(): Promise<void> {
    this.holder = ManagedProcess.spawn({
      name: `${this.name}-holder`,
      bin: '/usr/bin/unshare',
      args: [
        '--mount',
        '--net',
        '--pid',
        '--fork',
        '--kill-child=SIGKILL',
        '--mount-proc',
        '--propagation',
        'private',
        path.join(this.binDir, 'pause'),
      ],
      logPath: path.join(this.logDir, 'holder.log'),
    });
    const holderPid = this.holder.pid;
    this.initPid = await waitFor(
      'the node namespace init',
      () => {
        const children = fs.readFileSync(`/proc/${holderPid}/task/${holderPid}/children`, 'utf8').trim();
        const pid = Number(children.split(' ')[0]);
        // the forked child has exec'd pause once its command line names it
        return pid > 0 && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pause') ? pid : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 20, check: () => this.holder!.assertRunning() },
    );
    this.namespaceIds = namespacesOf(this.initPid);
    const state: NodeState = {
      owner: process.pid,
      name: this.name,
      bridge: this.opts.bridge.index,
      index: this.opts.index,
      holderPid,
      initPid: this.initPid,
      hostVeth: this.net.hostVeth,
      nodeIP: this.net.nodeIP,
      podCIDR: this.net.podCIDR,
      cgroupRoot: this.cgroupRoot,
      nodeDir: this.nodeDir,
      namespaces: this.namespaceIds,
    };
    fs.writeFileSync(nodeStateFile(this.nodeDir), JSON.stringify(state, null, 2));
  }

  /** Mounts inside the node's mount namespace (see the header) and the cgroup root kubelet requires. */
  private async setupInside(): Promise<void> {
    const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const lines = ['set -eu', 'mount -t tmpfs -o mode=0755 tmpfs /run', 'ip link set lo up'];
    for (const f of KUBELET_SYSCTLS) {
      const copy = this.file(`sysctl/${f.replace(/\//g, '_')}`);
      lines.push(`if [ -e /proc/sys/${f} ]; then cat /proc/sys/${f} > ${sh(copy)}; mount --bind ${sh(copy)} /proc/sys/${f}; fi`);
    }
    for (const d of NODE_OVERLAYS) {
      const o = this.file(`overlay/${d.replace(/\//g, '_')}`);
      lines.push(
        `mkdir -p ${sh(o)}/up ${sh(o)}/work`,
        `mount -t overlay overlay -o lowerdir=${d},upperdir=${sh(o)}/up,workdir=${sh(o)}/work ${d}`,
      );
    }
    // the CSI driver runs these fixed paths (pkg/config: CeCliPath, CeMountPath, MountBase)
    const juicefs = path.join(this.cpBinDir, 'juicefs');
    lines.push(
      `ln -sf ${sh(juicefs)} /usr/local/bin/juicefs`,
      'ln -sf /usr/local/bin/juicefs /usr/bin/mount.juicefs',
      `mkdir -p /var/lib/jfs ${KUBELET_ROOT}`,
    );
    await this.exec(['sh', '-c', lines.join('\n')]);
    // FUSE mounts the host had when the namespace was made (e.g. the S3 gateway's volume) are copies
    // here that would keep their daemons' connections open after the host unmounts them: drop them
    const inherited = fuseMountPoints(this.mountinfo());
    if (inherited.length) await this.exec(['umount', '-l', ...inherited]);
    createCgroup(this.cgroupRoot);
  }

  private async setupNetwork(): Promise<void> {
    const { hostVeth, bridgeName, bridgeAddress, bridgePrefix, nodeIP, podCIDR } = this.net;
    if (await linkExists(hostVeth)) await run('ip', ['link', 'del', hostVeth]);
    await run('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(this.initPid)]);
    await run('ip', ['link', 'set', hostVeth, 'master', bridgeName, 'up']);
    await this.exec([
      'sh',
      '-c',
      [
        'set -eu',
        `ip addr add ${nodeIP}/${bridgePrefix} dev eth0`,
        'ip link set eth0 up',
        `ip route add default via ${bridgeAddress}`,
        // forwarding between eth0 and the pods' CNI bridge; net.* sysctls are per network namespace
        'echo 1 > /proc/sys/net/ipv4/ip_forward',
      ].join('\n'),
    ]);
    await run('ip', ['route', 'replace', podCIDR, 'via', nodeIP, 'dev', bridgeName]);
  }

  /** Starts a daemon inside the node's namespaces; with `root`, chrooted there (nsenter --root). */
  private daemon(name: Daemon, bin: string, args: string[], env: Record<string, string> = {}, root?: string): ManagedProcess {
    if (this.stopPromise) throw new Error(`not starting ${name}: node ${this.name} is stopping`);
    const proc = ManagedProcess.spawn({
      name: `${this.name}/${name}`,
      bin: '/usr/bin/nsenter',
      args: [
        '-t',
        String(this.initPid),
        '-m',
        '-n',
        '-p', // nsenter opens --root before entering the mount namespace: name it through the init's root
        ...(root ? [`--root=${this.inside(root)}`, '--wd=/'] : []),
        '--',
        bin,
        ...args,
      ],
      logPath: path.join(this.logDir, `${name}.log`),
      env: { ...process.env, PATH: `${this.binDir}:${this.cpBinDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, ...env },
      cwd: this.nodeDir,
    });
    this.daemons.set(name, proc);
    return proc;
  }

  private assertRunning(name: Daemon): void {
    this.holder?.assertRunning();
    this.daemons.get(name)?.assertRunning();
  }

  /** Runs a command inside the node's namespaces (PATH includes the node toolchain); resolves with stdout, throws on failure. */
  async exec(args: string[], timeoutMs = 60_000): Promise<string> {
    if (!this.initPid || !pidAlive(this.initPid)) throw new Error(`node ${this.name} is not running`);
    return run(
      '/usr/bin/env',
      [
        `PATH=${this.binDir}:${this.cpBinDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        'nsenter',
        '-t',
        String(this.initPid),
        '-m',
        '-n',
        '-p',
        '--',
        ...args,
      ],
      timeoutMs,
    );
  }

  /** Imports an OCI (or docker-archive) image tarball into containerd's k8s.io namespace. */
  async importImage(tarPath: string): Promise<void> {
    const t = Date.now();
    await this.exec(['ctr', '-a', CONTAINERD_SOCKET, '-n', 'k8s.io', 'images', 'import', path.resolve(tarPath)], 300_000);
    this.log(`node ${this.name}: imported ${path.basename(tarPath)} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }

  /** The node's mount table (/proc/<init>/mountinfo). */
  mountinfo(): string {
    return fs.readFileSync(`/proc/${this.initPid}/mountinfo`, 'utf8');
  }

  /** Mount points of the FUSE mounts in the node's namespace. */
  fuseMounts(): string[] {
    return fuseMountPoints(this.mountinfo());
  }

  /** Prints the tail of every daemon log. */
  dumpLogs(lines = 40): void {
    for (const [name, p] of this.daemons)
      this.log(`----- ${this.name}/${name} (${p.running ? 'running' : p.describeExit()}) -----\n${p.tail(lines)}`);
  }

  /**
   * Deletes the pods bound to this node (so kubelet unmounts their volumes and the CSI driver
   * releases its FUSE mounts), kills everything in the node's namespaces, removes the node's veth,
   * route and cgroups and its Node object, and checks that nothing is left. Idempotent.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.teardown();
    return this.stopPromise;
  }

  private async teardown(): Promise<void> {
    const t0 = Date.now();
    let pods = 0;
    let mountPodsByDriver = 0;
    let mountPodsByHarness = 0;
    let fuseReleased = false;
    const { cluster } = this.opts;
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    if (this.daemons.get('kubelet')?.running) {
      try {
        ({ pods, mountPodsByDriver, mountPodsByHarness } = await drainNodePods(core, this.name, this.log, (n) => {
          pods = n;
        }));
        // kubelet tears sandboxes down after the API object is gone; give it until no JuiceFS mount remains
        await waitFor(`FUSE mounts on ${this.name} released`, () => this.fuseMounts().length === 0, { timeoutMs: 20_000, intervalMs: 250 });
        fuseReleased = true;
      } catch (err) {
        this.log(
          `node ${this.name}: graceful pod removal incomplete (${errorMessage(err)}); killing anyway; FUSE mounts: ${this.fuseMounts().join(', ')}`,
        );
      }
    }
    if (this.csiMode === 'mount-pod')
      await releaseMountPods(core, this.name, this.log).catch((err: unknown) => this.log(`node ${this.name}: ${errorMessage(err)}`));
    const problems = this.holder
      ? await teardownNodeState(
          {
            owner: process.pid,
            name: this.name,
            bridge: this.opts.bridge.index,
            index: this.opts.index,
            holderPid: this.holder.pid,
            initPid: this.initPid,
            hostVeth: this.net.hostVeth,
            nodeIP: this.net.nodeIP,
            podCIDR: this.net.podCIDR,
            cgroupRoot: this.cgroupRoot,
            nodeDir: this.nodeDir,
            namespaces: this.namespaceIds,
          },
          this.log,
        )
      : [];
    await Promise.all([...this.daemons.values(), ...(this.holder ? [this.holder] : [])].map((p) => p.exited));
    await core.deleteNode({ name: this.name }).catch(() => undefined);
    this.stopReport = { pods, mountPodsByDriver, mountPodsByHarness, fuseReleased, ms: Date.now() - t0 };
    if (problems.length) throw new Error(`node ${this.name} left things behind: ${problems.join('; ')}`);
  }
}
