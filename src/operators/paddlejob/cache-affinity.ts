/**
 * How a PaddleJob uses a SampleSet: the SampleSet's claim mounted in every container, and pod *i* of
 * each role pinned to the node that holds cache partition *i*. Pure functions on pod specs.
 */
import type { V1Affinity, V1NodeSelectorRequirement, V1NodeSelectorTerm, V1PodSpec } from '@kubernetes/client-node';
import type { SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import { runtimePodName } from '../shared/runtime-pods.js';
import { SAMPLESET_VOLUME_NAME } from './constants.js';

/** Everything a pod builder needs to know about the job's SampleSet. */
export interface SampleSetBinding {
  name: string;
  claimName: string;
  mountPath: string;
  nodeLabelKey: string;
  /** Runtime pod name of partition i, for i < partitions. */
  runtimePods: string[];
}

/**
 * The SampleSet as its cache engine names it: the claim, the cache-node label, and the runtime pod
 * of each partition — from the SampleSet's status (`nodes[].pod`, written by the SampleSet operator)
 * when it is there, else the engine's StatefulSet pod `<statefulSetName>-<partition>`. The engine is
 * the only source of these names; the caller looks it up in the registry.
 */
export function sampleSetBinding(sampleSet: SampleSet, mountPath: string, engine: CacheEngine): SampleSetBinding {
  const partitions = Math.max(0, sampleSet.spec.partitions ?? 0);
  const reported = new Map((sampleSet.status?.nodes ?? []).filter((n) => n.pod).map((n) => [n.partition, n.pod]));
  const statefulSetName = engine.statefulSetName(sampleSet);
  return {
    name: sampleSet.metadata.name!,
    claimName: engine.persistentVolumeClaimName(sampleSet),
    mountPath,
    nodeLabelKey: engine.nodeLabelKey(sampleSet),
    runtimePods: Array.from({ length: partitions }, (_, i) => reported.get(i) ?? runtimePodName(statefulSetName, i)),
  };
}

/**
 * Adds the claim as volume `paddle-sampleset` and mounts it at `mountPath` in every container and
 * init container (a container that already mounts something at that path keeps its own mount).
 * Returns a new spec.
 */
export function mountSampleSet(spec: V1PodSpec, binding: SampleSetBinding): V1PodSpec {
  const volumes = (spec.volumes ?? []).filter((v) => v.name !== SAMPLESET_VOLUME_NAME);
  volumes.push({ name: SAMPLESET_VOLUME_NAME, persistentVolumeClaim: { claimName: binding.claimName } });
  const mount = <C extends { volumeMounts?: { name: string; mountPath: string }[] }>(c: C): C => {
    const mounts = (c.volumeMounts ?? []).filter((m) => m.name !== SAMPLESET_VOLUME_NAME);
    if (mounts.some((m) => m.mountPath === binding.mountPath)) return { ...c, volumeMounts: mounts };
    return { ...c, volumeMounts: [...mounts, { name: SAMPLESET_VOLUME_NAME, mountPath: binding.mountPath }] };
  };
  return {
    ...spec,
    volumes,
    containers: spec.containers.map(mount),
    ...(spec.initContainers ? { initContainers: spec.initContainers.map(mount) } : {}),
  };
}

/** The requirement "on the node that holds cache partition `index`", or undefined beyond the partitions. */
export function cacheNodeRequirement(binding: SampleSetBinding, index: number): V1NodeSelectorRequirement | undefined {
  const runtimePod = binding.runtimePods[index];
  if (runtimePod === undefined) return undefined;
  return { key: binding.nodeLabelKey, operator: 'In', values: [runtimePod] };
}

/**
 * ANDs `req` into the required node affinity: it is added to EVERY existing node-selector term
 * (terms are ORed, so appending a term of its own would weaken the user's constraints); with no
 * terms, one term holding only `req` is created. Preferred terms and pod (anti-)affinity are kept.
 * Returns a new affinity.
 */
export function andRequiredNodeAffinity(affinity: V1Affinity | undefined, req: V1NodeSelectorRequirement): V1Affinity {
  const nodeAffinity = affinity?.nodeAffinity;
  const terms: V1NodeSelectorTerm[] = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const anded: V1NodeSelectorTerm[] = terms.length
    ? terms.map((t) => ({ ...t, matchExpressions: [...(t.matchExpressions ?? []), req] }))
    : [{ matchExpressions: [req] }];
  return {
    ...affinity,
    nodeAffinity: {
      ...nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: {
        ...nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
        nodeSelectorTerms: anded,
      },
    },
  };
}

/** Mounts the SampleSet and, for index < partitions, pins the pod to its cache node. */
export function applySampleSet(spec: V1PodSpec, binding: SampleSetBinding, index: number): V1PodSpec {
  const mounted = mountSampleSet(spec, binding);
  const req = cacheNodeRequirement(binding, index);
  return req ? { ...mounted, affinity: andRequiredNodeAffinity(mounted.affinity, req) } : mounted;
}
