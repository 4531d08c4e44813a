// Pure builders of everything a real test node is configured with: its addresses, the containerd
// config.toml, the CNI conflist, the kubelet and kube-proxy configurations and the kubeconfigs.
// No I/O here: real-node.ts writes what these return (and the unit tests read it).
import YAML from 'yaml';

/** Every host-side object of the real-node harness carries this prefix (interfaces, cgroups), so crash cleanup can find them. */
export const REAL_NODE_PREFIX = 'pdlrn';
/** The pod sandbox image kubelet and containerd agree on (imported locally, never pulled). */
export const SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10';
/** Bridges 0..MAX_BRIDGES-1 and nodes 0..MAX_NODES-1 per bridge (address plan below). */
export const MAX_BRIDGES = 16;
export const MAX_NODES = 16;
/** The JuiceFS CSI driver's name. */
export const JUICEFS_CSI_DRIVER = 'csi.juicefs.com';
/** The kubelet root directory as seen inside the node's mount namespace (an overlay over the host's /var/lib). */
export const KUBELET_ROOT = '/var/lib/kubelet';
/** containerd's socket inside the node's namespace (/run there is the node's own tmpfs). */
export const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

/**
 * Addresses of bridge `bridge` and its node `index`:
 *  - bridge `pdlrn<b>` on the host, 10.201.<b>.1/24 (apart from KWOK's 127.20/16 pod IPs and the 10.96/16 services);
 *  - node `i`: 10.201.<b>.<i+2> on its eth0, host-side veth `pdlrn<b>v<i>`;
 *  - node `i`'s pods: 10.244.<b*16+i>.0/24, routed by the host via the node IP.
 */
export interface NodeNetwork {
  bridgeName: string;
  bridgeAddress: string;
  /** Prefix length of the bridge subnet. */
  bridgePrefix: number;
  hostVeth: string;
  nodeIP: string;
  podCIDR: string;
  /** The pod subnet's gateway: the CNI bridge inside the node. */
  podGateway: string;
}

export function bridgeName(bridge: number): string {
  return `${REAL_NODE_PREFIX}${bridge}`;
}

export function bridgeAddress(bridge: number): string {
  checkRange('bridge', bridge, MAX_BRIDGES);
  return `10.201.${bridge}.1`;
}

function checkRange(what: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 0 || n >= max) throw new Error(`${what} index ${n} is outside 0..${max - 1}`);
}

export function nodeNetwork(bridge: number, index: number): NodeNetwork {
  checkRange('bridge', bridge, MAX_BRIDGES);
  checkRange('node', index, MAX_NODES);
  const third = bridge * MAX_NODES + index;
  return {
    bridgeName: bridgeName(bridge),
    bridgeAddress: bridgeAddress(bridge),
    bridgePrefix: 24,
    hostVeth: `${REAL_NODE_PREFIX}${bridge}v${index}`,
    nodeIP: `10.201.${bridge}.${index + 2}`,
    podCIDR: `10.244.${third}.0/24`,
    podGateway: `10.244.${third}.1`,
  };
}

/** A cgroup (v1, every hierarchy) name unique per bridge and node, under which kubelet puts every pod. */
export function nodeCgroupRoot(bridge: number, index: number): string {
  return `/${REAL_NODE_PREFIX}${bridge}n${index}`;
}

export interface ContainerdConfigInput {
  /** Persistent content and snapshots (must be on a file system overlayfs accepts as upper: not overlayfs). */
  root: string;
  state: string;
  socket: string;
  runcPath: string;
  cniBinDir: string;
  cniConfDir: string;
}

/** containerd 2.x config (version 3) for a node without CAP_SYS_RESOURCE, cgroupfs, CNI and a pinned local sandbox image. */
export function containerdConfigToml(c: ContainerdConfigInput): string {
  const q = (s: string): string => JSON.stringify(s);
  return `version = 3
root = ${q(c.root)}
state = ${q(c.state)}

[grpc]
  address = ${q(c.socket)}

[debug]
  level = "info"

[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # without CAP_SYS_RESOURCE runc cannot lower oom_score_adj (pause asks for -998, Guaranteed pods for -997)
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = ${q(c.runcPath)}
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [${q(c.cniBinDir)}]
    conf_dir = ${q(c.cniConfDir)}
    max_conf_num = 1

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ${q(SANDBOX_IMAGE)}
`;
}

/** CNI bridge network for the node's pods: no masquerade (the host routes the pod CIDR to the node), IPAM state in `ipamDataDir`. */
export function cniConflist(net: NodeNetwork, ipamDataDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'paddle-real-node',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: ipamDataDir,
            ranges: [[{ subnet: net.podCIDR, gateway: net.podGateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export interface KubeletConfigInput {
  nodeIP: string;
  caFile: string;
  podLogsDir: string;
  cgroupRoot: string;
  volumePluginDir: string;
  healthzPort: number;
  /** The kubelet API port (10250 is fine: every node has its own network namespace). */
  port?: number;
  resolvConf: string;
}

/** KubeletConfiguration for a node in a namespace of this machine: cgroupfs on cgroup v1, no swap check, no OOM score changes, webhook authn/authz. */
export function kubeletConfigYaml(c: KubeletConfigInput): string {
  const cfg = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'cgroupfs',
    cgroupRoot: c.cgroupRoot,
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
    imageServiceEndpoint: `unix://${CONTAINERD_SOCKET}`,
    podLogsDir: c.podLogsDir,
    volumePluginDir: c.volumePluginDir,
    // the sandbox cannot lower OOM scores (no CAP_SYS_RESOURCE)
    oomScoreAdj: 0,
    address: c.nodeIP,
    port: c.port ?? 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: c.healthzPort,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: c.caFile } },
    authorization: { mode: 'Webhook' },
    clusterDomain: 'cluster.local',
    resolvConf: c.resolvConf,
    // images are imported, never pulled: never garbage-collect them; evict only on real memory pressure
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi' },
    // status reported quickly, so tests see Ready (and pod changes) without long waits
    nodeStatusUpdateFrequency: '2s',
    syncFrequency: '5s',
    fileCheckFrequency: '5s',
    serializeImagePulls: false,
  };
  return YAML.stringify(cfg);
}

export interface KubeProxyConfigInput {
  kubeconfig: string;
  hostname: string;
  clusterCIDR: string;
  healthzPort: number;
  metricsPort: number;
}

/** KubeProxyConfiguration in nftables mode that leaves every machine-wide conntrack setting alone. */
export function kubeProxyConfigYaml(c: KubeProxyConfigInput): string {
  const cfg = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    clientConnection: { kubeconfig: c.kubeconfig },
    hostnameOverride: c.hostname,
    clusterCIDR: c.clusterCIDR,
    healthzBindAddress: `127.0.0.1:${c.healthzPort}`,
    metricsBindAddress: `127.0.0.1:${c.metricsPort}`,
    // 0 = do not touch: conntrack table size and timeouts are machine-wide on older kernels
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    nftables: { syncPeriod: '5s', minSyncPeriod: '0s' },
  };
  return YAML.stringify(cfg);
}

export interface KubeconfigInput {
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  user: string;
}

/** A kubeconfig with one cluster and one client-certificate user. */
export function clientKubeconfigYaml(c: KubeconfigInput): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'paddle-test', cluster: { server: c.server, 'certificate-authority': c.caFile } }],
    users: [{ name: c.user, user: { 'client-certificate': c.certFile, 'client-key': c.keyFile } }],
    contexts: [{ name: 'default', context: { cluster: 'paddle-test', user: c.user } }],
    'current-context': 'default',
  });
}

/** The CSIDriver object for the JuiceFS driver as the node runs it (no attach step; pod info passed on mount). */
export function juicefsCsiDriverObject(): Record<string, unknown> {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSIDriver',
    metadata: { name: JUICEFS_CSI_DRIVER },
    spec: { attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: ['Persistent'] },
  };
}

export interface NodeConfigFilesInput {
  nodeDir: string;
  name: string;
  net: NodeNetwork;
  /** The node toolchain (runc, cni/). */
  binDir: string;
  /** The apiserver URL (on the bridge address). */
  server: string;
  caFile: string;
  cgroupRoot: string;
  kubeletCert: { cert: string; key: string };
  proxyCert: { cert: string; key: string };
}

/** Every configuration file of one node, by path relative to its directory. */
export function nodeConfigFiles(c: NodeConfigFilesInput): Record<string, string> {
  const f = (rel: string): string => `${c.nodeDir}/${rel}`;
  return {
    'containerd/config.toml': containerdConfigToml({
      root: f('containerd/root'),
      state: '/run/containerd/state',
      socket: CONTAINERD_SOCKET,
      runcPath: `${c.binDir}/runc`,
      cniBinDir: `${c.binDir}/cni`,
      cniConfDir: f('cni/net.d'),
    }),
    'cni/net.d/10-paddle-bridge.conflist': cniConflist(c.net, f('cni/ipam')),
    // pods get no cluster DNS (none runs); an empty resolv.conf keeps them away from the host's resolver
    'resolv.conf': '',
    'kubelet.yaml': kubeletConfigYaml({
      nodeIP: c.net.nodeIP,
      caFile: c.caFile,
      podLogsDir: f('pod-logs'),
      cgroupRoot: c.cgroupRoot,
      volumePluginDir: f('volume-plugins'),
      healthzPort: 10248,
      resolvConf: f('resolv.conf'),
    }),
    'kubelet.kubeconfig': clientKubeconfigYaml({
      server: c.server,
      caFile: c.caFile,
      certFile: c.kubeletCert.cert,
      keyFile: c.kubeletCert.key,
      user: `system:node:${c.name}`,
    }),
    'kube-proxy.kubeconfig': clientKubeconfigYaml({
      server: c.server,
      caFile: c.caFile,
      certFile: c.proxyCert.cert,
      keyFile: c.proxyCert.key,
      user: 'system:kube-proxy',
    }),
    // every node has its own network namespace, so the fixed ports never collide
    'kube-proxy.yaml': kubeProxyConfigYaml({
      kubeconfig: f('kube-proxy.kubeconfig'),
      hostname: c.name,
      clusterCIDR: c.net.podCIDR,
      healthzPort: 10256,
      metricsPort: 10249,
    }),
  };
}

/** The /proc/sys files kubelet writes at start (setupKernelTunables); each node gets private copies bind-mounted over them. */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

/** Host directories the node sees through a private overlay (writes land in the node's directory). */
export const NODE_OVERLAYS = ['/var/lib', '/var/log', '/usr/local/bin', '/usr/bin'];

/** Mount points (octal escapes decoded) of the fuse/fuseblk mounts in a /proc/<pid>/mountinfo text. */
export function fuseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .map((l) => l.split(' - '))
    .filter(([, rest]) => /^fuse(blk)?(\.\S+)? /.test(rest ?? ''))
    .map(([left]) => left.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}
