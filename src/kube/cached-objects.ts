/**
 * What the informer caches keep of each object (InformerFactory applies it as objects arrive).
 *
 * - Every kind: without `metadata.managedFields` and the `kubectl.kubernetes.io/last-applied-
 *   configuration` annotation. Nothing reads them, and they are often the larger part of an object.
 * - Pods, Nodes, StatefulSets, Services, PersistentVolumeClaims and PersistentVolumes: only the
 *   fields the operators read, as the types `CachedPod`, `CachedNode`, `CachedStatefulSet`,
 *   `CachedService`, `CachedClaim` and `CachedVolume` say. The SampleSet operator watches every pod and node of
 *   the cluster (it must see which pods mount a SampleSet's claim, and which nodes are lost);
 *   whole, their container specs, volume sources and node image lists would be most of the
 *   process's memory; a runtime StatefulSet's pod template is the largest object of a SampleSet.
 *   Readers take these types, so reading a field the cache does not keep is a compile error.
 * - Every string value: one copy per distinct string across all caches (`shared-strings.ts`).
 */
import type {
  KubernetesObject,
  V1ContainerState,
  V1Node,
  V1NodeCondition,
  V1ObjectMeta,
  V1ObjectReference,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1PersistentVolumeClaimVolumeSource,
  V1Pod,
  V1PodCondition,
  V1Service,
  V1StatefulSet,
  V1StatefulSetStatus,
  V1Taint,
} from '@kubernetes/client-node';
import { NODE, POD, PV, PVC, SERVICE, STATEFULSET, type ResourceType } from '../api/constants.js';
import { withSharedStrings } from './shared-strings.js';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** A pod as the caches keep it. */
export interface CachedPod extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: {
    nodeName?: string;
    /** Only the volumes that name a claim. */
    volumes?: Array<{ name: string; persistentVolumeClaim?: V1PersistentVolumeClaimVolumeSource }>;
  };
  status?: {
    phase?: string;
    podIP?: string;
    reason?: string;
    message?: string;
    conditions?: V1PodCondition[];
    containerStatuses?: Array<{ name: string; ready: boolean; restartCount: number; state?: V1ContainerState }>;
  };
}

/** A node as the caches keep it. */
export interface CachedNode extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: { taints?: V1Taint[]; unschedulable?: boolean };
  status?: { conditions?: V1NodeCondition[] };
}

/** A StatefulSet as the caches keep it: its pod template's metadata, not the pod spec. */
export interface CachedStatefulSet extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: { replicas?: number; template?: { metadata?: V1ObjectMeta } };
  status?: V1StatefulSetStatus;
}

/** A Service as the caches keep it: the operators only ever read who owns it and its name. */
export interface CachedService extends KubernetesObject {
  metadata?: V1ObjectMeta;
}

/** A PersistentVolumeClaim as the caches keep it: its phase (bound or not). */
export interface CachedClaim extends KubernetesObject {
  metadata?: V1ObjectMeta;
  status?: { phase?: string };
}

/** A PersistentVolume as the caches keep it: the claim it is bound to, its CSI handle, its phase. */
export interface CachedVolume extends KubernetesObject {
  metadata?: V1ObjectMeta;
  spec?: { claimRef?: Pick<V1ObjectReference, 'name' | 'namespace' | 'uid'>; csi?: { volumeHandle: string } };
  status?: { phase?: string };
}

/** Drops the server's bookkeeping that no reader needs (in place). */
export function withoutServerFields<T extends KubernetesObject>(o: T): T {
  const meta = o.metadata;
  if (!meta) return o;
  delete meta.managedFields;
  if (meta.annotations && LAST_APPLIED_ANNOTATION in meta.annotations) {
    delete meta.annotations[LAST_APPLIED_ANNOTATION];
    if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
  }
  return o;
}

/** Copies the defined members only (an absent field costs nothing in the cache). */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

export function cachedPod(p: V1Pod): CachedPod {
  const { spec, status } = p;
  const claims = spec?.volumes?.filter((v) => v.persistentVolumeClaim);
  return defined({
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata: p.metadata,
    spec:
      spec &&
      defined({
        nodeName: spec.nodeName,
        volumes: claims?.length ? claims.map((v) => ({ name: v.name, persistentVolumeClaim: v.persistentVolumeClaim })) : undefined,
      }),
    status:
      status &&
      defined({
        phase: status.phase,
        podIP: status.podIP,
        reason: status.reason,
        message: status.message,
        conditions: status.conditions,
        containerStatuses: status.containerStatuses?.map((c) =>
          defined({ name: c.name, ready: c.ready, restartCount: c.restartCount, state: c.state }),
        ),
      }),
  });
}

export function cachedNode(n: V1Node): CachedNode {
  return defined({
    apiVersion: n.apiVersion,
    kind: n.kind,
    metadata: n.metadata,
    spec: n.spec && defined({ taints: n.spec.taints, unschedulable: n.spec.unschedulable }),
    status: n.status && defined({ conditions: n.status.conditions }),
  });
}

export function cachedStatefulSet(s: V1StatefulSet): CachedStatefulSet {
  return defined({
    apiVersion: s.apiVersion,
    kind: s.kind,
    metadata: s.metadata,
    spec: s.spec && defined({ replicas: s.spec.replicas, template: s.spec.template && defined({ metadata: s.spec.template.metadata }) }),
    status: s.status,
  });
}

export function cachedService(s: V1Service): CachedService {
  return defined({ apiVersion: s.apiVersion, kind: s.kind, metadata: s.metadata });
}

export function cachedClaim(c: V1PersistentVolumeClaim): CachedClaim {
  return defined({ apiVersion: c.apiVersion, kind: c.kind, metadata: c.metadata, status: c.status && defined({ phase: c.status.phase }) });
}

export function cachedVolume(v: V1PersistentVolume): CachedVolume {
  const ref = v.spec?.claimRef;
  return defined({
    apiVersion: v.apiVersion,
    kind: v.kind,
    metadata: v.metadata,
    spec:
      v.spec &&
      defined({
        claimRef: ref && defined({ name: ref.name, namespace: ref.namespace, uid: ref.uid }),
        csi: v.spec.csi && { volumeHandle: v.spec.csi.volumeHandle },
      }),
    status: v.status && defined({ phase: v.status.phase }),
  });
}

/** What the cache of `type` keeps of an arriving object (its strings shared: `shared-strings.ts`). */
export function cacheTransform(type: ResourceType): (o: KubernetesObject) => KubernetesObject {
  const keep = projection(type);
  return (o) => withSharedStrings(keep(withoutServerFields(o)));
}

function projection(type: ResourceType): (o: KubernetesObject) => KubernetesObject {
  const is = (t: ResourceType): boolean => type.kind === t.kind && type.group === t.group;
  if (is(POD)) return cachedPod;
  if (is(NODE)) return cachedNode;
  if (is(STATEFULSET)) return cachedStatefulSet;
  if (is(SERVICE)) return cachedService;
  if (is(PVC)) return cachedClaim;
  if (is(PV)) return cachedVolume;
  return (o) => o;
}
