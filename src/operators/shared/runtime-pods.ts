/**
 * Finding a SampleSet's runtime pods and talking to them: the small pieces both the SampleSet and
 * the SampleJob operators need. Pure functions over cached objects; no I/O.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { CachedPod } from '../../kube/cached-objects.js';
import type { Informer } from '../../kube/informer.js';
import { RUNTIME_PORT, SAMPLESET_LABEL } from '../../api/constants.js';
import { RUNTIME_TOKEN_KEY } from '../../api/runtime-protocol.js';

/** A runtime pod with its partition (= StatefulSet ordinal). */
export interface RuntimePod {
  pod: CachedPod;
  name: string;
  ordinal: number;
  /** Ready condition True, a pod IP, Running, not being deleted. */
  ready: boolean;
  nodeName?: string;
  podIP?: string;
  uid?: string;
}

/** The pod of StatefulSet `statefulSetName` with ordinal `ordinal` (a SampleSet's partition): `<statefulSetName>-<ordinal>`. */
export function runtimePodName(statefulSetName: string, ordinal: number): string {
  return `${statefulSetName}-${ordinal}`;
}

/** The StatefulSet ordinal of `podName` made by StatefulSet `statefulSetName`, or -1. */
export function podOrdinal(podName: string, statefulSetName: string): number {
  if (!podName.startsWith(statefulSetName + '-')) return -1;
  const rest = podName.slice(statefulSetName.length + 1);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : -1;
}

/** True when the pod can serve requests: Running, Ready, with an IP, and not terminating. */
export function isPodReady(pod: CachedPod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  if (pod.status?.phase !== 'Running' || !pod.status.podIP) return false;
  return (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * The runtime pods of a SampleSet among `pods` (any list, e.g. the pod cache of the namespace):
 * those carrying the SampleSet label with its name and controlled by its StatefulSet (a pod that
 * merely copies the label is ignored), sorted by ordinal.
 */
export function runtimePodsOf(pods: readonly CachedPod[], sampleSetName: string, statefulSetName: string): RuntimePod[] {
  const out: RuntimePod[] = [];
  for (const pod of pods) {
    const name = pod.metadata?.name;
    if (!name || pod.metadata?.labels?.[SAMPLESET_LABEL] !== sampleSetName) continue;
    const owner = pod.metadata.ownerReferences?.find((r) => r.controller);
    if (!owner || owner.kind !== 'StatefulSet' || owner.name !== statefulSetName) continue;
    const ordinal = podOrdinal(name, statefulSetName);
    if (ordinal < 0) continue;
    out.push({
      pod,
      name,
      ordinal,
      ready: isPodReady(pod),
      nodeName: pod.spec?.nodeName || undefined,
      podIP: pod.status?.podIP || undefined,
      uid: pod.metadata?.uid,
    });
  }
  return out.sort((a, b) => a.ordinal - b.ordinal);
}

/** Name of the pod informer index by `<namespace>/<SampleSet label value>` (`sampleSetPodKeys`). */
export const SAMPLESET_PODS_INDEX = 'paddle:sampleset-pods';

/** Index keys of a pod: `<namespace>/<SampleSet>` when it carries the SampleSet label. */
export function sampleSetPodKeys(pod: CachedPod): string[] {
  const name = pod.metadata?.labels?.[SAMPLESET_LABEL];
  return name && pod.metadata?.namespace ? [`${pod.metadata.namespace}/${name}`] : [];
}

/** The pods of a cache carrying SampleSet `namespace/name`'s label (through the index, no scan). */
export function labelledPodsOf(pods: Pick<Informer<CachedPod>, 'byIndex'>, namespace: string | undefined, name: string): CachedPod[] {
  return pods.byIndex(SAMPLESET_PODS_INDEX, `${namespace}/${name}`);
}

/** `http://<podIP>:7716` (IPv6 addresses bracketed); undefined without an IP. */
export function runtimeBaseUrl(pod: Pick<RuntimePod, 'podIP'> | CachedPod): string | undefined {
  const ip = 'podIP' in pod ? pod.podIP : (pod as CachedPod).status?.podIP;
  if (!ip) return undefined;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${RUNTIME_PORT}`;
}

/**
 * The bearer token stored in a runtime token Secret (`data[RUNTIME_TOKEN_KEY]`, base64; `stringData` is accepted
 * for a Secret that has not been read back from the API). Undefined when absent or empty.
 */
export function readRuntimeToken(secret: V1Secret | undefined): string | undefined {
  if (!secret) return undefined;
  const fromData = secret.data?.[RUNTIME_TOKEN_KEY];
  if (fromData) {
    const v = Buffer.from(fromData, 'base64').toString('utf8');
    if (v) return v;
  }
  return secret.stringData?.[RUNTIME_TOKEN_KEY] || undefined;
}
