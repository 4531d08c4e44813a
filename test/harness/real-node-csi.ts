// The JuiceFS CSI node plugin of a real test node in MOUNT-POD mode, the driver's production
// default: one mount pod per volume and node (`/bin/mount.juicefs … /jfs/<id>` in a privileged
// container, its /jfs a Bidirectional hostPath of /var/lib/juicefs/volume), reference counted by
// annotations, that every app pod of the node binds to; the driver deletes it when its last user
// unpublishes. By-process mode (`--by-process=true`) instead mounts a new juicefs process for every
// publish of an already mounted volume, so two pods of one node never share a mount.
//
// How the plugin runs here: a daemon started into the node's namespaces (as by-process mode does),
// configured like the DaemonSet pod it normally is — not a DaemonSet pod itself, because that
// would add the image import and a pod start to every node start for no behaviour the tests look
// at. What the DaemonSet's container gives the driver, the harness gives the daemon:
//  - its own Pod object (the driver reads it at start: the mount pods copy its service account,
//    tolerations, DNS settings, and its `kubelet-dir` volume names the kubelet root). The harness
//    creates it unscheduled (a scheduler name no scheduler serves), so nothing ever runs it;
//  - in-cluster credentials: a ServiceAccount bound to the DaemonSet's ClusterRole, a TokenRequest
//    token and the cluster CA at /var/run/secrets/kubernetes.io/serviceaccount, and
//    KUBERNETES_SERVICE_HOST/PORT naming the apiserver on the bridge;
//  - the container's view of the file system: a root of its own (nsenter --root) where /jfs is
//    /var/lib/juicefs/volume, /tmp is /run/juicefs-csi (the fuse-fd directory) and
//    /root/.juicefs is /var/lib/juicefs/config, as the DaemonSet's volumes make them, while /var,
//    /dev, /proc, /sys, /run, /etc and /usr are the node's own (bound rshared, so the driver's bind
//    mounts under /var/lib/kubelet reach the kubelet, and the mount pods' FUSE mounts reach /jfs).
//    The driver hard-codes /jfs, and the node's root is the host's: a private root keeps the host's
//    file system free of it.
// The node's mounts are made rshared inside its own mount namespace (it was created private, so
// none of this propagates to the host): containerd requires a shared source for Bidirectional
// mounts, and the mount pods' FUSE mounts must propagate back to the node.
//
// What a user's cluster differs in: the plugin is a DaemonSet pod (image juicedata/juicefs-csi-driver,
// a node-driver-registrar sidecar), the mount image is juicedata/mount:ce-<version> pulled from a
// registry, the driver polls the kubelet's /pods API (HOST_IP, KUBELET_PORT) instead of watching the
// apiserver, and mount pods request 1 CPU / 1 GiB by default (here 100m / 128 MiB through the
// driver's config file, so they fit on a 2-core test node next to the operator and the runtime).
import YAML from 'yaml';
import { JUICEFS_CSI_DRIVER, KUBELET_ROOT } from './real-node-config.js';

/** How the node runs the JuiceFS CSI node plugin. */
export type CsiMode = 'mount-pod' | 'by-process';

/** Where the driver and its mount pods live, as the upstream DaemonSet has it. */
export const CSI_NAMESPACE = 'kube-system';
export const CSI_SERVICE_ACCOUNT = 'juicefs-csi-node-sa';
const CSI_CLUSTER_ROLE = 'juicefs-csi-external-node-service-role';
/** The node's directories for mount points of mount pods and for their client configuration (JUICEFS_MOUNT_PATH, JUICEFS_CONFIG_PATH). */
export const JUICEFS_MOUNT_PATH = '/var/lib/juicefs/volume';
export const JUICEFS_CONFIG_PATH = '/var/lib/juicefs/config';
/** The fuse-fd directory (the driver's /tmp in its DaemonSet). */
const JUICEFS_FD_PATH = '/run/juicefs-csi';
/** The in-cluster credentials' directory (rest.InClusterConfig reads /var/run/…; /var/run is a symlink to /run). */
export const SERVICE_ACCOUNT_DIR = '/run/secrets/kubernetes.io/serviceaccount';
/** The mount pods' label (pkg/common: PodTypeKey=PodTypeValue). */
export const MOUNT_POD_SELECTOR = 'app.kubernetes.io/name=juicefs-mount';
/** The finalizer the driver puts on mount pods and removes once it cleaned a deleted one up. */
export const MOUNT_POD_FINALIZER = 'juicefs.com/finalizer';

/** The Pod name the driver believes it runs as: its main() runs the node service only when it contains `csi-node`. */
export function csiNodePodName(node: string): string {
  return `juicefs-csi-node-${node}`;
}

/** The ServiceAccount, the node plugin's ClusterRole (deploy/k8s.yaml of the driver) and their binding. */
export function csiNodeRbacObjects(): Array<Record<string, unknown>> {
  const rule = (group: string, resources: string[], verbs: string[]): Record<string, unknown> => ({ apiGroups: [group], resources, verbs });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CSI_SERVICE_ACCOUNT, namespace: CSI_NAMESPACE } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: CSI_CLUSTER_ROLE },
      rules: [
        rule('', ['pods'], ['get', 'list', 'create', 'update', 'delete', 'patch', 'watch']),
        rule('', ['pods/log'], ['get']),
        rule('', ['secrets'], ['get', 'create', 'update', 'delete', 'patch']),
        rule('batch', ['jobs'], ['get', 'create', 'update', 'delete', 'patch']),
        rule('', ['nodes'], ['get', 'list']),
        rule('', ['nodes/proxy'], ['*']),
        rule('', ['persistentvolumes', 'persistentvolumeclaims'], ['get', 'list']),
        rule('', ['pods/exec'], ['create']),
        rule('', ['events'], ['create', 'get']),
        rule('storage.k8s.io', ['storageclasses'], ['get', 'watch']),
        rule('', ['configmaps'], ['get', 'update']),
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'juicefs-csi-node-service-binding' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CSI_CLUSTER_ROLE },
      subjects: [{ kind: 'ServiceAccount', name: CSI_SERVICE_ACCOUNT, namespace: CSI_NAMESPACE }],
    },
  ];
}

/**
 * The driver's own Pod object, as the DaemonSet would make it where the driver reads it (service
 * account, tolerations, the kubelet-dir volume). It names a scheduler that does not exist, so it
 * is never bound to a node and never run: the daemon the harness starts is its container.
 */
export function csiNodePodObject(node: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: csiNodePodName(node),
      namespace: CSI_NAMESPACE,
      labels: { 'app.kubernetes.io/name': 'juicefs-csi-driver', app: 'juicefs-csi-node', 'paddle.test/real-node': node },
    },
    spec: {
      schedulerName: 'paddle-test-harness-never-scheduled',
      serviceAccountName: CSI_SERVICE_ACCOUNT,
      priorityClassName: 'system-node-critical',
      tolerations: [{ operator: 'Exists' }],
      dnsPolicy: 'ClusterFirstWithHostNet',
      containers: [{ name: 'juicefs-plugin', image: 'juicedata/juicefs-csi-driver:v0.31.0', securityContext: { privileged: true } }],
      volumes: [{ name: 'kubelet-dir', hostPath: { path: KUBELET_ROOT, type: 'Directory' } }],
    },
  };
}

export interface CsiNodeEnvInput {
  node: string;
  nodeIP: string;
  mountImage: string;
  /** The apiserver as in-cluster clients reach it (host, port). */
  apiHost: string;
  apiPort: number;
}

/** The environment the DaemonSet gives the driver's container (its downward API fields filled in). */
export function csiNodeEnv(c: CsiNodeEnvInput): Record<string, string> {
  return {
    NODE_NAME: c.node,
    POD_NAME: csiNodePodName(c.node),
    POD_NAMESPACE: CSI_NAMESPACE,
    JUICEFS_MOUNT_NAMESPACE: CSI_NAMESPACE,
    JUICEFS_MOUNT_PATH,
    JUICEFS_CONFIG_PATH,
    JUICEFS_CE_MOUNT_IMAGE: c.mountImage,
    // HOST_IP and KUBELET_PORT stay unset: the driver then watches its mount pods through the
    // apiserver rather than polling the kubelet (which would need a kubelet serving certificate
    // the driver trusts)
    KUBERNETES_SERVICE_HOST: c.apiHost,
    KUBERNETES_SERVICE_PORT: String(c.apiPort),
    JUICEFS_CSI_WEB_PORT: '18080',
  };
}

/** The driver's arguments in mount-pod mode (the DaemonSet's, with the harness's socket and config). */
export function csiNodeArgs(node: string, configFile: string): string[] {
  return [
    '--endpoint',
    `unix://${csiSocketDir()}/csi.sock`,
    '--nodeid',
    node,
    '--enable-manager=true',
    `--config=${configFile}`,
    '--logtostderr',
    '-v=2',
  ];
}

/** The driver's arguments in by-process mode. */
export function csiByProcessArgs(node: string): string[] {
  return ['--endpoint', `unix://${csiSocketDir()}/csi.sock`, '--nodeid', node, '--by-process=true', '-v=2'];
}

/** The directory of the driver's CSI socket (kubelet's plugin directory). */
export function csiSocketDir(): string {
  return `${KUBELET_ROOT}/plugins/${JUICEFS_CSI_DRIVER}`;
}

/**
 * The driver's config file (the DaemonSet's juicefs-csi-driver-config ConfigMap): small mount pods
 * (the default asks for 1 CPU and 1 GiB, more than a test node offers). Everything else is the
 * driver's default — including the mount pod's hostname, which is the PV's volumeHandle: the
 * engine's volumeHandles are DNS labels, so the apiserver accepts those pods.
 */
export function csiDriverConfigYaml(): string {
  return YAML.stringify({
    mountPodPatch: [{ resources: { requests: { cpu: '100m', memory: '128Mi' } } }],
  });
}

/**
 * Shell lines, run inside the node's mount namespace, that make its mounts rshared and build the
 * driver's root at `root` (a directory of the node's; see the header). `hostEntries` are the names
 * in the host's `/` with the symlink targets of those that are symlinks (`bin` → `usr/bin`).
 */
export function csiRootScript(root: string, hostEntries: Array<{ name: string; symlink?: string }>, binDirs: string[]): string[] {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const bound = new Set(['usr', 'etc', 'var', 'dev', 'proc', 'sys', 'run']);
  const lines = [
    'set -eu',
    // shared inside this namespace only: it was made private when created (unshare --propagation private)
    'mount --make-rshared /',
    `mkdir -p ${q(root)} ${JUICEFS_MOUNT_PATH} ${JUICEFS_CONFIG_PATH} ${JUICEFS_FD_PATH} ${SERVICE_ACCOUNT_DIR}`,
    `mount -t tmpfs -o mode=0755 csi-root ${q(root)}`,
    `mount --make-rshared ${q(root)}`,
  ];
  for (const e of hostEntries) {
    if (e.symlink !== undefined) {
      lines.push(`ln -s ${q(e.symlink)} ${q(`${root}/${e.name}`)}`);
    } else if (bound.has(e.name)) {
      lines.push(`mkdir ${q(`${root}/${e.name}`)}`, `mount --rbind /${e.name} ${q(`${root}/${e.name}`)}`);
    }
  }
  const binds: Array<[string, string]> = [
    ['jfs', JUICEFS_MOUNT_PATH],
    ['tmp', JUICEFS_FD_PATH],
    ['root/.juicefs', JUICEFS_CONFIG_PATH],
  ];
  // the harness's binaries (the driver itself), read-only at their own paths
  for (const d of binDirs) binds.push([d.replace(/^\/+/, ''), d]);
  for (const [dir, source] of binds) lines.push(`mkdir -p ${q(`${root}/${dir}`)}`, `mount --bind ${q(source)} ${q(`${root}/${dir}`)}`);
  return lines;
}

/** The reference of the test mount image derived from the project image `projectRef`. */
export function mountImageRef(projectRef: string): string {
  const tag = projectRef.slice(projectRef.lastIndexOf('/') + 1).split(':')[1] ?? 'latest';
  return `docker.io/library/paddle-juicefs-mount:${tag}`;
}
