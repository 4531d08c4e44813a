/**
 * The cache runtime of a SampleSet: a StatefulSet `<name>-runtime` with one pod per cache node
 * (required pod anti-affinity on the hostname), each running `paddle-runtime` next to the node's
 * JuiceFS mount: it mounts the SampleSet's PVC (the same CSI volume, hence the same mount process
 * and cache index as the training pods on that node) and the host cache directories.
 *
 * Security context — no privilege: the FUSE mount is made by the JuiceFS CSI driver's mount pod
 * (which is privileged: it needs /dev/fuse and CAP_SYS_ADMIN); this pod only reads and writes files
 * through that mount (HostToContainer propagation needs no privilege, unlike Bidirectional) and in
 * its hostPath cache dirs. It runs as uid 0 because the cache blocks the mount pod writes are
 * root-owned with mode 0600 and `juicefs rmr --skip-trash` requires root, but with every capability
 * dropped except CHOWN, DAC_OVERRIDE and FOWNER (acting on dataset files owned by other users through
 * the mount, e.g. after `sync --perms`), no privilege escalation, a read-only root file system (an
 * emptyDir at /tmp for warmup lists) and the runtime-default seccomp profile.
 */
import type { V1Container, V1PodSpec, V1StatefulSet, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { CREATED_BY_LABEL, CREATED_BY_VALUE, RUNTIME_PORT, RUNTIME_PORT_NAME, SAMPLESET_LABEL } from '../../api/constants.js';
import type { SampleSet } from '../../api/sampleset.js';
import { formatRuntimeArgs } from '../../api/runtime-cli.js';
import { RUNTIME_TOKEN_ENV, RUNTIME_TOKEN_KEY } from '../../api/runtime-protocol.js';
import {
  COMPONENT_LABEL,
  JUICEFS_ENGINE,
  META_URL_ENV,
  SUBDIR_ENV,
  NAME_LABEL,
  POD_CACHE_ROOT,
  POD_DATA_DIR,
  POD_TMP_DIR,
  RUNTIME_APP_NAME,
  RUNTIME_COMMAND,
  RUNTIME_COMPONENT,
} from './constants.js';
import { buildMountConfig, type JuiceFsMountConfig } from './mount-options.js';
import { namespaceOf, persistentVolumeClaimName, runtimeName, tokenSecretName } from './names.js';

/** Labels selecting a SampleSet's runtime pods (also the StatefulSet's immutable selector). */
export function runtimeSelector(s: SampleSet): Record<string, string> {
  return { [SAMPLESET_LABEL]: s.metadata.name!, [COMPONENT_LABEL]: RUNTIME_COMPONENT };
}

export function runtimeLabels(s: SampleSet): Record<string, string> {
  return { ...runtimeSelector(s), [NAME_LABEL]: RUNTIME_APP_NAME, [CREATED_BY_LABEL]: CREATED_BY_VALUE };
}

/** Where cache tier `i` appears inside the runtime pod. */
export function podCacheDir(i: number): string {
  return `${POD_CACHE_ROOT}/${i}`;
}

/** The runtime container's arguments (shared by the server and the preStop clean-cache). */
export function runtimeArgs(mount: JuiceFsMountConfig, command: 'serve' | 'clean-cache'): string[] {
  return formatRuntimeArgs({
    command,
    engine: JUICEFS_ENGINE,
    dataDir: POD_DATA_DIR,
    cacheDirs: mount.cacheDirs.map((_, i) => podCacheDir(i)),
    hostCacheDirs: mount.cacheDirs,
    ...(command === 'serve' ? { host: '0.0.0.0', port: RUNTIME_PORT } : {}),
  });
}

/** The mounted subdirectory of the volume (the dataset root inside it), when the SampleSet sets one. */
function mountSubdirEnv(mount: JuiceFsMountConfig): { name: string; value: string }[] {
  const opt = mount.options.find((o) => o.startsWith('subdir='));
  return opt ? [{ name: SUBDIR_ENV, value: opt.slice('subdir='.length) }] : [];
}

function runtimeContainer(s: SampleSet, image: string, mount: JuiceFsMountConfig): V1Container {
  const volumeMounts: V1VolumeMount[] = [
    { name: 'data', mountPath: POD_DATA_DIR, mountPropagation: 'HostToContainer' },
    ...mount.cacheDirs.map((_, i) => ({ name: `cache-${i}`, mountPath: podCacheDir(i) })),
    { name: 'tmp', mountPath: POD_TMP_DIR },
  ];
  const probe = (period: number, failures: number) => ({
    httpGet: { path: '/healthz', port: RUNTIME_PORT_NAME, scheme: 'HTTP' },
    periodSeconds: period,
    timeoutSeconds: 3,
    failureThreshold: failures,
  });
  return {
    name: 'runtime',
    image,
    imagePullPolicy: 'IfNotPresent',
    command: [RUNTIME_COMMAND],
    args: runtimeArgs(mount, 'serve'),
    env: [
      { name: RUNTIME_TOKEN_ENV, valueFrom: { secretKeyRef: { name: tokenSecretName(s), key: RUNTIME_TOKEN_KEY } } },
      { name: 'TMPDIR', value: POD_TMP_DIR },
      // Syncs write through JuiceFS itself (jfs://), never through the FUSE path: see META_URL_ENV.
      { name: META_URL_ENV, valueFrom: { secretKeyRef: { name: s.spec.secretRef.name, key: 'metaurl' } } },
      ...mountSubdirEnv(mount),
    ],
    ports: [{ name: RUNTIME_PORT_NAME, containerPort: RUNTIME_PORT, protocol: 'TCP' }],
    readinessProbe: { ...probe(5, 3), initialDelaySeconds: 1 },
    livenessProbe: { ...probe(10, 6), initialDelaySeconds: 10 },
    lifecycle: {
      // Empties only this SampleSet's blocks: `<tier>/<volume UUID>/raw` of each tier.
      preStop: { exec: { command: [RUNTIME_COMMAND, ...runtimeArgs(mount, 'clean-cache')] } },
    },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '2Gi' } },
    securityContext: {
      privileged: false,
      allowPrivilegeEscalation: false,
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts,
  };
}

function podSpec(s: SampleSet, image: string, mount: JuiceFsMountConfig): V1PodSpec {
  const volumes: V1Volume[] = [
    { name: 'data', persistentVolumeClaim: { claimName: persistentVolumeClaimName(s) } },
    ...mount.cacheDirs.map((dir, i) => ({ name: `cache-${i}`, hostPath: { path: dir, type: 'DirectoryOrCreate' } })),
    { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
  ];
  return {
    affinity: {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: runtimeSelector(s) }, namespaces: [namespaceOf(s)], topologyKey: 'kubernetes.io/hostname' },
        ],
      },
      ...(s.spec.nodeAffinity ? { nodeAffinity: structuredClone(s.spec.nodeAffinity) } : {}),
    },
    ...(s.spec.tolerations?.length ? { tolerations: structuredClone(s.spec.tolerations) } : {}),
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: 30,
    containers: [runtimeContainer(s, image, mount)],
    volumes,
  };
}

export function buildRuntimeStatefulSet(
  s: SampleSet,
  runtimeImage: string,
  mount: JuiceFsMountConfig = buildMountConfig(s),
): V1StatefulSet {
  const name = runtimeName(s);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: namespaceOf(s), labels: runtimeLabels(s) },
    spec: {
      replicas: s.spec.partitions,
      serviceName: name,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: runtimeSelector(s) },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels: runtimeLabels(s) },
        spec: podSpec(s, runtimeImage, mount),
      },
    },
  };
}
