/**
 * A scale-down waits for the pods that use the cache it would remove. Removing a partition deletes
 * its runtime pod, whose preStop hook clears the SampleSet's cache on that node; a training pod
 * still running there (it mounts the SampleSet's claim) would lose its cache mid-run. So while such
 * pods run on the nodes of the partitions being removed, the runtime keeps its replicas, the
 * SampleSet says why (condition PartitionsScaled=False, reason ScaleDownWaiting, and an Event), and
 * the scale-down happens once they are gone — or at once with the annotation
 * `paddlepaddle.org/force-scale-down: "true"`. Pure.
 */
import { LABEL_DOMAIN } from '../../api/constants.js';
import type { CachedPod } from '../../kube/cached-objects.js';
import type { SampleSet } from '../../api/sampleset.js';
import { runtimePodsOf, type RuntimePod } from '../shared/runtime-pods.js';
import { claimUsers, describeUsers, type ClaimUser } from './in-use.js';

export const FORCE_SCALE_DOWN_ANNOTATION = `${LABEL_DOMAIN}/force-scale-down`;
/** How often a waiting scale-down looks again (pod events of users do not wake live SampleSets). */
export const SCALE_DOWN_RECHECK_MS = 15_000;

export interface ScaleDownInput {
  namespace: string;
  claimName: string;
  /** Every pod of the namespace (the pod cache). */
  pods: readonly CachedPod[];
  /** The SampleSet's runtime pods. */
  runtimePods: readonly RuntimePod[];
  /** The partitions wanted; runtime pods with an ordinal at or above it are being removed. */
  partitions: number;
  annotations?: Record<string, string>;
}

/** The pods that hold a scale-down back (none when forced or when nothing is removed). */
export function scaleDownBlockers(i: ScaleDownInput): ClaimUser[] {
  if ((i.annotations?.[FORCE_SCALE_DOWN_ANNOTATION] ?? '').trim().toLowerCase() === 'true') return [];
  const leaving = new Set(i.runtimePods.filter((p) => p.ordinal >= i.partitions && p.nodeName).map((p) => p.nodeName!));
  if (leaving.size === 0) return [];
  const onLeavingNodes = i.pods.filter((p) => leaving.has(p.spec?.nodeName ?? ''));
  return claimUsers({
    namespace: i.namespace,
    claimNames: [i.claimName],
    pods: onLeavingNodes,
    runtimePods: new Set(i.runtimePods.map((p) => p.name)),
  });
}

/** scaleDownBlockers for SampleSet `ss` among `pods` (its namespace's), its runtime StatefulSet `statefulSetName`. */
export function scaleDownBlockersOf(
  ss: SampleSet,
  pods: readonly CachedPod[],
  claimName: string,
  statefulSetName: string,
  partitions: number,
): ClaimUser[] {
  const runtimePods = runtimePodsOf(pods, ss.metadata.name!, statefulSetName);
  return scaleDownBlockers({
    namespace: ss.metadata.namespace!,
    claimName,
    pods,
    runtimePods,
    partitions,
    annotations: ss.metadata.annotations,
  });
}

/** Whether the SampleSet's status shows a scale-down waiting for users of its cache. */
export function scaleDownWaits(ss: SampleSet): boolean {
  return (ss.status?.conditions ?? []).some((c) => c.type === 'PartitionsScaled' && c.status === 'False');
}

/** What the SampleSet says while a scale-down waits. */
export function scaleDownMessage(from: number, to: number, users: readonly ClaimUser[]): string {
  return (
    `scaling from ${from} to ${to} partitions waits for ${describeUsers(users)}, which use the cache on the nodes being removed; ` +
    `it goes on when they are gone, or at once with the annotation ${FORCE_SCALE_DOWN_ANNOTATION}: "true"`
  );
}
