/**
 * How a PaddleJob uses a SampleSet: the SampleSet's claim mounted in every container, and pod *i* of
 * each role pinned to the node that holds cache partition *i*. Pure functions on pod specs.
 */
import type { V1NodeSelectorRequirement, V1PodSpec } from '@kubernetes/client-node';
import type { SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import { andRequiredNodeAffinity, cacheNodesOf, type CacheNodes } from '../shared/cache-placement.js';
import { SAMPLESET_VOLUME_NAME } from './constants.js';

/** Everything a pod builder needs to know about the job's SampleSet: its cache nodes and where to mount it. */
export interface SampleSetBinding extends CacheNodes {
  mountPath: string;
}

/** The SampleSet as its cache engine names it (shared/cache-placement.ts), mounted at `mountPath`. */
export function sampleSetBinding(sampleSet: SampleSet, mountPath: string, engine: CacheEngine): SampleSetBinding {
  return { ...cacheNodesOf(sampleSet, engine), mountPath };
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

/** Mounts the SampleSet and, for index < partitions, pins the pod to its cache node. */
export function applySampleSet(spec: V1PodSpec, binding: SampleSetBinding, index: number): V1PodSpec {
  const mounted = mountSampleSet(spec, binding);
  const req = cacheNodeRequirement(binding, index);
  return req ? { ...mounted, affinity: andRequiredNodeAffinity(mounted.affinity, req) } : mounted;
}
