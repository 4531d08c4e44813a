// A real Kubernetes control plane on loopback, built from Go modules (see test/toolchain/):
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK with N fake nodes. Used by
// the e2e tests (one per run), `npm run cluster:up` and `npm run local`.
//
//   const cp = await ControlPlane.start({ runDir: '/tmp/x', crdsDir: 'crds' });
//   const kc = cp.kubeConfig();             // @kubernetes/client-node KubeConfig (admin)
//   await cp.kubectl(['get', 'nodes']);
//   await cp.stop();
//
// Layout of runDir: kubeconfig, kwok.yaml, pids.json, pki/ (CA, serving and admin certificates,
// service-account keys, token file), etcd/ (data), logs/<component>.log.
//
// Notes for test authors:
//  - Pods scheduled onto the KWOK nodes become Running/Ready at once with an IP from 127.20.0.0/16
//    (loopback, so a local process can listen on a pod's IP); node i has InternalIP 127.21.0.<i+1>.
//    To make KWOK finish a pod see kwok-stages.ts (label kwok.x-k8s.io/complete=succeeded|failed).
//  - The garbage collector learns about new resource kinds by rediscovery every 30 s. Pass
//    `crdsDir` to start() so the CRDs are installed before kube-controller-manager starts; CRDs
//    installed later with installCrds() work, but ownerReferences to their objects may take up to
//    30 s more to be acted upon.
//  - A new namespace has no `default` ServiceAccount for a moment, and pods are rejected until it
//    exists: use ensureNamespace().
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import YAML from 'yaml';
import { kwokConfigYaml } from './kwok-stages.js';
import { generatePki, type Pki } from './pki.js';
import { ManagedProcess } from './process.js';
import { checkToolchain, toolchainBinDir } from './toolchain.js';
import {
  defaultLog,
  errorMessage,
  freePorts,
  httpRequest,
  pidAlive,
  pidCommandLine,
  repoRoot,
  sleep,
  waitFor,
  type LogFn,
} from './util.js';

export { KWOK_COMPLETE, KWOK_COMPLETE_AFTER_ANNOTATION, KWOK_COMPLETE_LABEL, KWOK_EXIT_CODE_ANNOTATION } from './kwok-stages.js';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Component = (typeof COMPONENTS)[number];

/** Annotation KWOK selects its nodes by. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
/** KWOK gives pod IPs from here (must stay inside 127.0.0.0/8). */
export const POD_CIDR = '127.20.0.1/16';
export const SERVICE_CIDR = '10.96.0.0/16';

/** kube-controller-manager controllers the tests rely on (names as of v1.34). */
export const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  'statefulset-controller',
  'replicaset-controller',
  'deployment-controller',
  'job-controller',
  'cronjob-controller',
  'ttl-after-finished-controller',
  'disruption-controller',
  'pod-garbage-collector-controller',
  'persistentvolume-binder-controller',
  'persistentvolume-protection-controller',
  'persistentvolumeclaim-protection-controller',
];

export interface ControlPlaneOptions {
  /** Directory for certificates, data, kubeconfig and logs; created if missing. */
  runDir: string;
  /** Number of KWOK nodes `kwok-node-0..N-1` (default 3). */
  nodes?: number;
  /** Extra labels for every node (or per node). */
  nodeLabels?: Record<string, string> | ((index: number, name: string) => Record<string, string>);
  /** Progress messages (default: stderr with a `[harness]` prefix). */
  log?: LogFn;
  /** Directory with the binaries (default: test/toolchain/build.sh, or PADDLE_TOOLCHAIN_BIN). */
  binDir?: string;
  /** CRD manifests installed (and Established) before kube-controller-manager starts. A missing directory is skipped. */
  crdsDir?: string;
  /** Extra command-line flags per component, appended last (so they win over the defaults). */
  extraArgs?: Partial<Record<Component, string[]>>;
  /** Deadline for the whole start (default 120 s). */
  startTimeoutMs?: number;
  /**
   * The address kube-apiserver binds and advertises (default 127.0.0.1, loopback only). Real nodes
   * (real-node.ts) live in network namespaces of their own and reach the host on a bridge address:
   * pass that address here. The serving certificate then includes it, the `kubernetes` Service's
   * endpoint becomes <address>:<port> (so ClusterIP 10.96.0.1 works through kube-proxy), the
   * apiserver talks to kubelets on their InternalIP with the admin client certificate, and etcd
   * listens on this address too (see etcdBindUrl) so pods can use it as JuiceFS metadata.
   */
  bindAddress?: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (use with `-f -`). */
  input?: string;
  /** Do not throw on a non-zero exit code. */
  allowFail?: boolean;
  /** Kill kubectl after this long (default 120 s). */
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface PidsFile {
  owner: number;
  binDir: string;
  processes: Partial<Record<Component, number>>;
}

const PIDS_FILE = 'pids.json';

/** Audit what ServiceAccounts do (verb, resource, decision — no bodies); nothing else. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
`;

export class ControlPlane {
  readonly runDir: string;
  readonly binDir: string;
  readonly kubeconfigPath: string;
  readonly logDir: string;
  /**
   * The apiserver's audit log (JSON lines, level Metadata): every request made with a
   * ServiceAccount's credentials, from any process, with the authorizer's decision. Tests read it
   * to see which permissions the operator's ServiceAccount really used.
   */
  readonly auditLogPath: string;
  /** https://<bindAddress, default 127.0.0.1>:<port> */
  server = '';
  /** http://127.0.0.1:<port> — etcd client URL (also serves the v3 JSON gateway). */
  etcdUrl = '';
  /** http://<bindAddress>:<port> — the same etcd on the bind address, when `bindAddress` is set ('' otherwise). */
  etcdBindUrl = '';
  pki!: Pki;
  /** Names of the KWOK nodes created so far. */
  readonly nodeNames: string[] = [];
  /** How long start() took, in milliseconds. */
  startupMs = 0;

  private readonly log: LogFn;
  private readonly opts: ControlPlaneOptions;
  private readonly procs: Partial<Record<Component, ManagedProcess>> = {};
  private apiserverArgs: string[] = [];
  private stopPromise: Promise<void> | undefined;
  private kc: KubeConfig | undefined;
  private nodeCount = 0;

  private constructor(opts: ControlPlaneOptions, binDir: string) {
    this.opts = opts;
    this.runDir = path.resolve(opts.runDir);
    this.binDir = binDir;
    this.kubeconfigPath = path.join(this.runDir, 'kubeconfig');
    this.logDir = path.join(this.runDir, 'logs');
    this.auditLogPath = path.join(this.logDir, 'audit.log');
    this.log = opts.log ?? defaultLog;
  }

  /** Starts every component and resolves once the cluster is usable (nodes Ready, CRDs Established). */
  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const binDir = opts.binDir ? path.resolve(opts.binDir) : await toolchainBinDir();
    checkToolchain(binDir, ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok']);
    const cp = new ControlPlane(opts, binDir);
    try {
      await cp.boot();
    } catch (err) {
      cp.log(`control plane failed to start: ${errorMessage(err)}`);
      cp.dumpLogs(25);
      await cp.stop();
      throw new Error(`control plane failed to start (logs in ${cp.logDir}): ${errorMessage(err)}`, { cause: err });
    }
    return cp;
  }

  private async boot(): Promise<void> {
    const t0 = Date.now();
    const deadline = t0 + (this.opts.startTimeoutMs ?? 120_000);
    const remaining = (): number => Math.max(1000, deadline - Date.now());
    const phases: string[] = [];
    const mark = (what: string, since: number): void => {
      phases.push(`${what} ${((Date.now() - since) / 1000).toFixed(1)}s`);
    };

    await killStaleProcesses(this.runDir, this.log);
    // a fresh cluster every time, even in a reused run dir
    for (const d of ['logs', 'etcd', 'pki', 'kubectl-cache']) fs.rmSync(path.join(this.runDir, d), { recursive: true, force: true });
    fs.mkdirSync(this.logDir, { recursive: true });
    fs.writeFileSync(path.join(this.runDir, 'kwok.yaml'), kwokConfigYaml());
    fs.writeFileSync(path.join(this.runDir, 'audit-policy.yaml'), AUDIT_POLICY);
    let t = Date.now();
    this.pki = await generatePki(path.join(this.runDir, 'pki'), { extraServingIPs: this.opts.bindAddress ? [this.opts.bindAddress] : [] });
    mark('pki', t);

    t = Date.now();
    await this.startEtcd(remaining());
    mark('etcd', t);

    t = Date.now();
    await this.startApiserverFresh(remaining());
    mark('kube-apiserver', t);

    // Everything else only needs a ready apiserver: start it all at once.
    const [kwokPort, schedulerPort, kcmPort] = await freePorts(3);
    this.spawn('kwok', [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--config=${path.join(this.runDir, 'kwok.yaml')}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      '--manage-nodes-with-label-selector=',
      `--cidr=${POD_CIDR}`,
      '--node-ip=127.21.0.254',
      `--server-address=127.0.0.1:${kwokPort}`,
      '--node-lease-duration-seconds=40',
    ]);
    this.spawn('kube-scheduler', [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--authentication-kubeconfig=${this.kubeconfigPath}`,
      `--authorization-kubeconfig=${this.kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedulerPort}`,
      `--cert-dir=${path.join(this.runDir, 'pki', 'kube-scheduler')}`,
    ]);

    const crdsThenKcm = (async () => {
      if (this.opts.crdsDir) {
        const tc = Date.now();
        await this.installCrds(this.opts.crdsDir, remaining());
        mark('crds', tc);
      }
      const tk = Date.now();
      this.spawn('kube-controller-manager', [
        `--kubeconfig=${this.kubeconfigPath}`,
        `--authentication-kubeconfig=${this.kubeconfigPath}`,
        `--authorization-kubeconfig=${this.kubeconfigPath}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${path.join(this.runDir, 'pki', 'kube-controller-manager')}`,
        `--controllers=${CONTROLLERS.join(',')}`,
        `--root-ca-file=${this.pki.caCert}`,
        `--service-account-private-key-file=${this.pki.saKey}`,
        '--use-service-account-credentials=false',
        '--cluster-name=paddle-test',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
      ]);
      await this.waitHealthz('kube-controller-manager', kcmPort, remaining());
      // The serviceaccount controller is running once `default` has its ServiceAccount.
      await this.waitServiceAccount('default', remaining());
      mark('kube-controller-manager', tk);
    })();

    const nodes = (async () => {
      const tn = Date.now();
      const count = this.opts.nodes ?? 3;
      await Promise.all(Array.from({ length: count }, (_, i) => this.addNode(`kwok-node-${i}`)));
      this.nodeNames.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      await this.waitHealthz('kwok', kwokPort, remaining(), 'http');
      await this.waitNodesReady(remaining());
      mark(`${count} nodes`, tn);
    })();

    await Promise.all([crdsThenKcm, nodes, this.waitHealthz('kube-scheduler', schedulerPort, remaining())]);
    this.startupMs = Date.now() - t0;
    this.log(
      `control plane ready at ${this.server} in ${(this.startupMs / 1000).toFixed(1)} s (${phases.join(', ')}); KUBECONFIG=${this.kubeconfigPath}`,
    );
  }

  // ---------------------------------------------------------------------------------- processes

  private spawn(name: Component, args: string[]): ManagedProcess {
    // a start that failed half-way must not start anything after stop() began
    if (this.stopPromise) throw new Error(`not starting ${name}: the control plane is stopping`);
    const proc = ManagedProcess.spawn({
      name,
      bin: path.join(this.binDir, name),
      args: [...args, ...(this.opts.extraArgs?.[name] ?? [])],
      logPath: path.join(this.logDir, `${name}.log`),
      cwd: this.runDir,
    });
    this.procs[name] = proc;
    this.writePids();
    void proc.exited.then(() => {
      if (this.procs[name] === proc) {
        if (!proc.stopRequested) this.log(`${name} exited unexpectedly (${proc.describeExit()}); see ${proc.logPath}`);
        delete this.procs[name];
        this.writePids();
      }
    });
    return proc;
  }

  private writePids(): void {
    const processes: PidsFile['processes'] = {};
    for (const c of COMPONENTS) {
      const p = this.procs[c];
      if (p?.running) processes[c] = p.pid;
    }
    const file = path.join(this.runDir, PIDS_FILE);
    try {
      if (Object.keys(processes).length === 0) fs.rmSync(file, { force: true });
      else fs.writeFileSync(file, JSON.stringify({ owner: process.pid, binDir: this.binDir, processes } satisfies PidsFile, null, 2));
    } catch {
      // the run dir may have been removed by the caller after stop()
    }
  }

  /** A throwing check for polling loops: fails fast when `name` is not running. */
  private alive(name: Component): () => void {
    return () => {
      const p = this.procs[name];
      if (!p) throw new Error(`${name} is not running`);
      p.assertRunning();
    };
  }

  private async waitHealthz(name: Component, port: number, timeoutMs: number, scheme: 'https' | 'http' = 'https'): Promise<void> {
    await waitFor(
      `${name} /healthz on port ${port}`,
      async () => {
        // Component ports serve self-signed certificates from their --cert-dir; this is a local liveness probe only.
        const res = await httpRequest(`${scheme}://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false, timeoutMs: 2000 });
        return res.status === 200;
      },
      { timeoutMs, intervalMs: 100, check: this.alive(name) },
    );
  }

  // --------------------------------------------------------------------------------------- etcd

  private async startEtcd(timeoutMs: number): Promise<void> {
    const dataDir = path.join(this.runDir, 'etcd');
    for (let attempt = 1; ; attempt++) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      const [client, peer] = await freePorts(2);
      this.etcdUrl = `http://127.0.0.1:${client}`;
      this.etcdBindUrl = this.opts.bindAddress ? `http://${this.opts.bindAddress}:${client}` : '';
      const clientUrls = [this.etcdUrl, ...(this.etcdBindUrl ? [this.etcdBindUrl] : [])].join(',');
      const peerUrl = `http://127.0.0.1:${peer}`;
      const proc = this.spawn('etcd', [
        '--name=default',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${clientUrls}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=default=${peerUrl}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ]);
      try {
        await waitFor(
          'etcd /health',
          async () => {
            const res = await httpRequest(`${this.etcdUrl}/health`, { timeoutMs: 2000 });
            return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === 'true';
          },
          { timeoutMs, intervalMs: 50, check: this.alive('etcd') },
        );
        return;
      } catch (err) {
        if (attempt < 3 && !proc.running && /address already in use/.test(proc.tail(20))) {
          this.log(`etcd: port taken, retrying with new ports`);
          continue;
        }
        throw err;
      }
    }
  }

  /** Compacts etcd up to its current revision (so a watch or list at an older resourceVersion gets 410 Gone); returns that revision. */
  async compactEtcd(): Promise<number> {
    const key = Buffer.from('/').toString('base64');
    const range = await httpRequest(`${this.etcdUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key, limit: 1 }) });
    if (range.status !== 200) throw new Error(`etcd range failed: HTTP ${range.status} ${range.body}`);
    const revision = Number((JSON.parse(range.body) as { header?: { revision?: string } }).header?.revision);
    if (!Number.isFinite(revision) || revision <= 0) throw new Error(`etcd range returned no revision: ${range.body}`);
    const res = await httpRequest(`${this.etcdUrl}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(revision), physical: true }),
    });
    // Compacting to an already-compacted revision is harmless for our purpose.
    if (res.status !== 200 && !/compacted/.test(res.body)) throw new Error(`etcd compaction failed: HTTP ${res.status} ${res.body}`);
    this.log(`etcd compacted at revision ${revision}`);
    return revision;
  }

  // ----------------------------------------------------------------------------- kube-apiserver

  private async startApiserverFresh(timeoutMs: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const bind = this.opts.bindAddress ?? '127.0.0.1';
      const [port] = await freePorts(1, bind);
      this.server = `https://${bind}:${port}`;
      this.apiserverArgs = [
        `--etcd-servers=${this.etcdUrl}`,
        `--bind-address=${bind}`,
        `--advertise-address=${bind}`,
        `--secure-port=${port}`,
        `--cert-dir=${path.join(this.pki.dir, 'kube-apiserver')}`,
        `--tls-cert-file=${this.pki.servingCert}`,
        `--tls-private-key-file=${this.pki.servingKey}`,
        `--client-ca-file=${this.pki.caCert}`,
        `--token-auth-file=${this.pki.tokenFile}`,
        `--service-account-issuer=${this.server}`,
        `--service-account-key-file=${this.pki.saPub}`,
        `--service-account-signing-key-file=${this.pki.saKey}`,
        '--authorization-mode=Node,RBAC',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--allow-privileged=true',
        // This admission plugin taints every new Node not-ready:NoSchedule until the node-lifecycle
        // controller sees it Ready and lifts the taint. That controller would also taint nodes on
        // heartbeat gaps (e.g. while a test keeps the apiserver down); KWOK nodes are Ready from the
        // start, so the plugin is off and the controller not run: nodes stay untainted.
        '--disable-admission-plugins=TaintNodesByCondition',
        // request-header (front-proxy) authentication, as kubeadm sets it up
        `--requestheader-client-ca-file=${this.pki.frontProxyCaCert}`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${this.pki.frontProxyClientCert}`,
        `--proxy-client-key-file=${this.pki.frontProxyClientKey}`,
        ...(this.opts.bindAddress
          ? [
              // real kubelets: logs/exec/port-forward go to the node's InternalIP, authenticated as admin
              '--kubelet-preferred-address-types=InternalIP',
              `--kubelet-client-certificate=${this.pki.adminCert}`,
              `--kubelet-client-key=${this.pki.adminKey}`,
            ]
          : // the `kubernetes` Service would get a loopback endpoint, which Endpoints validation rejects
            ['--endpoint-reconciler-type=none']),
        '--profiling=false',
        `--audit-policy-file=${path.join(this.runDir, 'audit-policy.yaml')}`,
        `--audit-log-path=${this.auditLogPath}`,
        '--audit-log-format=json',
        '--audit-log-mode=blocking',
      ];
      this.writeKubeconfig();
      const proc = this.spawn('kube-apiserver', this.apiserverArgs);
      try {
        await this.waitApiserverReady(timeoutMs);
        return;
      } catch (err) {
        if (attempt < 3 && !proc.running && /address already in use/.test(proc.tail(20))) {
          this.log('kube-apiserver: port taken, retrying with a new port');
          continue;
        }
        throw err;
      }
    }
  }

  private async waitApiserverReady(timeoutMs: number): Promise<void> {
    const ca = fs.readFileSync(this.pki.caCert);
    const cert = fs.readFileSync(this.pki.adminCert);
    const key = fs.readFileSync(this.pki.adminKey);
    await waitFor(
      `kube-apiserver ${this.server}/readyz`,
      async () => (await httpRequest(`${this.server}/readyz`, { ca, cert, key, timeoutMs: 3000 })).status === 200,
      { timeoutMs, intervalMs: 100, check: this.alive('kube-apiserver') },
    );
  }

  /** Stops kube-apiserver (etcd and the other components keep running and will reconnect). */
  async stopApiserver(): Promise<void> {
    const p = this.procs['kube-apiserver'];
    if (!p) return;
    await p.stop(10_000);
    this.log('kube-apiserver stopped');
  }

  /** Starts kube-apiserver again on the same port with the same flags, and waits for /readyz. */
  async startApiserver(timeoutMs = 60_000): Promise<void> {
    if (this.procs['kube-apiserver']?.running) return;
    if (this.apiserverArgs.length === 0) throw new Error('startApiserver(): the control plane was never started');
    this.spawn('kube-apiserver', this.apiserverArgs);
    await this.waitApiserverReady(timeoutMs);
    this.log('kube-apiserver started again');
  }

  /** Kills and restarts kube-apiserver on the same port: clients see their connections and watches drop. */
  async restartApiserver(): Promise<void> {
    await this.stopApiserver();
    await this.startApiserver();
  }

  private writeKubeconfig(): void {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'paddle-test', cluster: { server: this.server, 'certificate-authority': this.pki.caCert } }],
      users: [{ name: 'paddle-admin', user: { 'client-certificate': this.pki.adminCert, 'client-key': this.pki.adminKey } }],
      contexts: [{ name: 'paddle-test', context: { cluster: 'paddle-test', user: 'paddle-admin', namespace: 'default' } }],
      'current-context': 'paddle-test',
      preferences: {},
    };
    fs.writeFileSync(this.kubeconfigPath, YAML.stringify(config), { mode: 0o600 });
    this.kc = undefined;
  }

  // ---------------------------------------------------------------------------- client access

  /** A freshly loaded @kubernetes/client-node KubeConfig for the admin user. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  private core(): CoreV1Api {
    this.kc ??= this.kubeConfig();
    return this.kc.makeApiClient(CoreV1Api);
  }

  /** Runs the built kubectl against this cluster. Throws on a non-zero exit unless `allowFail`. */
  kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
    const bin = path.join(this.binDir, 'kubectl');
    const fullArgs = [`--kubeconfig=${this.kubeconfigPath}`, `--cache-dir=${path.join(this.runDir, 'kubectl-cache')}`, ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(bin, fullArgs, { cwd: repoRoot(), stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`kubectl: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const result = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
        if (result.code !== 0 && !opts.allowFail) {
          const why = signal ? `killed by ${signal}` : `exit code ${result.code}`;
          reject(
            Object.assign(new Error(`kubectl ${args.join(' ')} failed (${why}): ${result.stderr.trim() || result.stdout.trim()}`), result),
          );
        } else {
          resolve(result);
        }
      });
      child.stdin.on('error', () => undefined); // kubectl may exit before reading stdin
      child.stdin.end(opts.input ?? '');
    });
  }

  /**
   * Server-side applies every YAML file in `dir` (except kustomization.yaml) and waits until every
   * CustomResourceDefinition among them is Established. A missing directory is skipped with a
   * message. Returns the names of the CRDs found.
   */
  async installCrds(dir = 'crds', timeoutMs = 60_000): Promise<string[]> {
    const abs = path.resolve(repoRoot(), dir);
    if (!fs.existsSync(abs)) {
      this.log(`no CRD directory ${abs}; skipping CRD installation`);
      return [];
    }
    const files = fs
      .readdirSync(abs)
      .filter((f) => /\.ya?ml$/.test(f) && !/^kustomization\.ya?ml$/.test(f))
      .sort()
      .map((f) => path.join(abs, f));
    if (files.length === 0) {
      this.log(`no YAML files in ${abs}; skipping CRD installation`);
      return [];
    }
    const names: string[] = [];
    for (const file of files) {
      for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
        const obj = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
        if (obj?.kind === 'CustomResourceDefinition' && obj.metadata?.name) names.push(obj.metadata.name);
      }
    }
    await this.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=paddle-test-harness',
      ...files.flatMap((f) => ['-f', f]),
    ]);
    if (names.length > 0) {
      await this.kubectl(
        ['wait', '--for=condition=Established', `--timeout=${Math.ceil(timeoutMs / 1000)}s`, ...names.map((n) => `crd/${n}`)],
        {
          timeoutMs: timeoutMs + 10_000,
        },
      );
    }
    this.log(`installed ${names.length} CRD(s) from ${dir}: ${names.join(', ') || '(none)'}`);
    return names;
  }

  // -------------------------------------------------------------------------------------- nodes

  /** Creates a KWOK-managed node (no taints; 32 CPU, 256 Gi, 110 pods) and returns its name. Does not wait for Ready. */
  async addNode(name: string, labels: Record<string, string> = {}): Promise<string> {
    const index = this.nodeCount++;
    const extra = typeof this.opts.nodeLabels === 'function' ? this.opts.nodeLabels(index, name) : (this.opts.nodeLabels ?? {});
    const resources = { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '1Ti' };
    const node: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          type: 'kwok',
          ...extra,
          ...labels,
        },
      },
      spec: {},
      status: {
        capacity: resources,
        allocatable: resources,
        addresses: [
          { type: 'InternalIP', address: `127.21.${Math.floor((index + 1) / 256)}.${(index + 1) % 256}` },
          { type: 'Hostname', address: name },
        ],
      },
    };
    await this.core().createNode({ body: node });
    this.nodeNames.push(name);
    return name;
  }

  private async waitNodesReady(timeoutMs: number): Promise<void> {
    await waitFor(
      `${this.nodeNames.length} KWOK nodes Ready`,
      async () => {
        const list = await this.core().listNode();
        const ready = new Set(
          list.items
            .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
            .map((n) => n.metadata?.name),
        );
        return this.nodeNames.every((n) => ready.has(n));
      },
      { timeoutMs, intervalMs: 200, check: this.alive('kwok') },
    );
  }

  /**
   * Waits until the `default` ServiceAccount exists in `namespace`. Generous: right after an
   * apiserver restart kube-controller-manager re-acquires its lease and resyncs before its
   * ServiceAccount controller catches up (a suite following the restart test once waited over 30 s).
   */
  async waitServiceAccount(namespace: string, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `ServiceAccount ${namespace}/default`,
      async () => {
        await this.core().readNamespacedServiceAccount({ name: 'default', namespace });
        return true;
      },
      { timeoutMs, intervalMs: 100, check: this.alive('kube-controller-manager') },
    );
  }

  /** Creates `name` unless it exists and waits until pods can be created in it (its ServiceAccount exists). */
  async ensureNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    try {
      await this.core().createNamespace({ body: { metadata: { name, labels } } });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
    await this.waitServiceAccount(name);
  }

  // ---------------------------------------------------------------------------------- teardown

  /** Log file of each component that has been started. */
  logFiles(): Partial<Record<Component, string>> {
    const out: Partial<Record<Component, string>> = {};
    for (const c of COMPONENTS) {
      const f = path.join(this.logDir, `${c}.log`);
      if (fs.existsSync(f)) out[c] = f;
    }
    return out;
  }

  /** Prints (through the log function, or returns when `print` is false) the last lines of every component log. */
  dumpLogs(lines = 60, print = true): string {
    const parts: string[] = [];
    for (const [c, file] of Object.entries(this.logFiles())) {
      const state = this.procs[c as Component]?.running ? 'running' : 'not running';
      const body = fs.readFileSync(file, 'utf8').split('\n');
      parts.push(`----- ${c} (${state}) — last ${lines} lines of ${file} -----\n${body.slice(-lines - 1).join('\n')}`);
    }
    const text = parts.join('\n');
    if (print) this.log(`component logs:\n${text}`);
    return text;
  }

  /** Which components are running right now. */
  running(): Component[] {
    return COMPONENTS.filter((c) => this.procs[c]?.running);
  }

  /** Stops every process (SIGTERM, SIGKILL after a grace period) in dependency order. Idempotent. */
  stop(): Promise<void> {
    this.stopPromise ??= (async () => {
      const stopOne = async (c: Component, graceMs: number): Promise<void> => {
        await this.procs[c]?.stop(graceMs);
      };
      await Promise.all([stopOne('kwok', 3000), stopOne('kube-scheduler', 3000), stopOne('kube-controller-manager', 3000)]);
      await stopOne('kube-apiserver', 5000);
      await stopOne('etcd', 5000);
      this.writePids();
    })();
    return this.stopPromise;
  }
}

/**
 * Kills processes left running by an earlier harness in `runDir` whose owner died (read from its
 * pids.json; a pid is only signalled if its command line still names the recorded binary dir).
 * Returns how many were killed.
 */
export async function killStaleProcesses(runDir: string, log: LogFn = defaultLog): Promise<number> {
  const file = path.join(runDir, PIDS_FILE);
  let data: PidsFile;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as PidsFile;
  } catch {
    return 0;
  }
  if (data.owner !== process.pid && pidAlive(data.owner) && pidCommandLine(data.owner)?.includes('node')) {
    throw new Error(`${runDir} is in use by a running harness (pid ${data.owner}); stop it first`);
  }
  const victims = Object.entries(data.processes).filter(([, pid]) => pid && pidAlive(pid) && pidCommandLine(pid)?.includes(data.binDir));
  for (const [name, pid] of victims) {
    log(`killing ${name} (pid ${pid}) left over from an earlier run in ${runDir}`);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 5000;
  while (victims.some(([, pid]) => pidAlive(pid)) && Date.now() < deadline) await sleep(100);
  for (const [, pid] of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fs.rmSync(file, { force: true });
  return victims.length;
}
