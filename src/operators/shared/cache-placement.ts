/**
 * Where a SampleSet's cache lives, as its cache engine names it — the claim pods mount, the label
 * of its cache nodes, the runtime pod of each partition — and how a pod is kept on those nodes:
 * the requirement is ANDed into every required node-selector term. Shared by the PaddleJob
 * operator (pod i on the node of partition i) and the pod admission webhook (any pod mounting the
 * claim). Pure functions.
 */
import type { V1Affinity, V1NodeSelectorRequirement, V1NodeSelectorTerm } from '@kubernetes/client-node';
import type { CachedPod } from '../../kube/cached-objects.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import { runtimePodName } from './runtime-pods.js';

/** A SampleSet's claim and cache nodes, by the names its engine gives them. */
export interface CacheNodes {
  name: string;
  claimName: string;
  /** Node label marking the cache nodes; its value is the runtime pod on the node. */
  nodeLabelKey: string;
  /** Runtime pod name of partition i, for i < partitions. */
  runtimePods: string[];
}

/**
 * The claim, the cache-node label and the runtime pod of each partition — from the SampleSet's
 * status (`nodes[].pod`, written by the SampleSet operator) when it is there, else the engine's
 * StatefulSet pod `<statefulSetName>-<partition>`. The engine is the only source of these names;
 * the caller looks it up in the registry.
 */
export function cacheNodesOf(sampleSet: SampleSet, engine: CacheEngine): CacheNodes {
  const partitions = Math.max(0, sampleSet.spec.partitions ?? 0);
  const reported = new Map((sampleSet.status?.nodes ?? []).filter((n) => n.pod).map((n) => [n.partition, n.pod]));
  const statefulSetName = engine.statefulSetName(sampleSet);
  return {
    name: sampleSet.metadata.name!,
    claimName: engine.persistentVolumeClaimName(sampleSet),
    nodeLabelKey: engine.nodeLabelKey(sampleSet),
    runtimePods: Array.from({ length: partitions }, (_, i) => reported.get(i) ?? runtimePodName(statefulSetName, i)),
  };
}

/** The claim names of a pod's `persistentVolumeClaim` volumes (a whole pod or a cached one). */
export function claimsOfPod(pod: CachedPod): string[] {
  return (pod.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((c): c is string => !!c);
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
