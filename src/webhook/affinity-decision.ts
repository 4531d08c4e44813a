/**
 * What the pod admission webhook does to one pod: for every SampleSet whose claim the pod mounts,
 * a required or preferred node affinity to that SampleSet's ready cache nodes, nothing, or — when
 * the cache cannot be had — nothing with a note saying why. Pure: the pod, the SampleSets resolved
 * from the informer cache, their policy and the pod's annotation in; the decision out.
 *
 *   pod annotation `paddlepaddle.org/cache-affinity` (Preferred|Required|None, any case)
 *     > SampleSet `spec.podAffinity` (Preferred|Required) > Preferred.
 *   Ready          → Required: required `In` the cache nodes, ANDed into every required term;
 *                    Preferred: a preferred term (weight 100) for the cache nodes.
 *   PartialReady or not ready, some cache node ready
 *                  → a preferred term for the ready cache nodes only (never a required term that
 *                    might not be met) and a note saying so.
 *   no cache node ready, or the SampleSet is being deleted → nothing, and a note saying why.
 */
import type { V1NodeSelectorRequirement, V1Pod, V1PreferredSchedulingTerm } from '@kubernetes/client-node';
import { PADDLEJOB, SAMPLESET_LABEL } from '../api/constants.js';
import type { CacheAffinityPolicy, SampleSet } from '../api/sampleset.js';
import { controllerOf } from '../kube/owner-reference.js';
import type { CacheNodes } from '../operators/shared/cache-placement.js';
import { CACHE_AFFINITY_KEY, PREFERRED_WEIGHT } from './constants.js';

/** A SampleSet whose claim the pod mounts, with its cache nodes as its engine names them. */
export interface ClaimedSampleSet {
  sampleSet: SampleSet;
  cache: CacheNodes;
}

export type SampleSetAction =
  | { kind: 'required'; requirement: V1NodeSelectorRequirement; note: string }
  | { kind: 'preferred'; term: V1PreferredSchedulingTerm; note: string }
  /** Nothing can be injected; the note (annotation and warning) says why. */
  | { kind: 'none'; note: string }
  /** Left alone without a word: the SampleSet's own runtime pod, or the affinity is already there. */
  | { kind: 'skip'; why: string };

export interface AffinityDecision {
  /** The whole pod is left alone; `warn`: the user should hear why. */
  skip?: { why: string; warn: boolean };
  /** One per SampleSet, in the order given. */
  actions: Array<SampleSetAction & { sampleSet: string }>;
  /** Warnings not tied to one SampleSet (an annotation value that means nothing). */
  warnings: string[];
}

type PodPolicy = CacheAffinityPolicy | 'None';

/** The pod's own policy from its annotation: undefined when absent; `invalid` when it means nothing. */
export function podPolicyOf(pod: V1Pod): { policy?: PodPolicy; invalid?: string } {
  const raw = pod.metadata?.annotations?.[CACHE_AFFINITY_KEY];
  if (raw === undefined) return {};
  const known: Record<string, PodPolicy> = { preferred: 'Preferred', required: 'Required', none: 'None' };
  const policy = known[raw.trim().toLowerCase()];
  return policy ? { policy } : { invalid: raw };
}

/** Why a whole pod is none of the webhook's business, or undefined. */
function podSkip(pod: V1Pod): AffinityDecision['skip'] {
  const controller = controllerOf(pod);
  if (controller?.kind === PADDLEJOB.kind && controller.apiVersion.startsWith(`${PADDLEJOB.group}/`))
    return { why: `placed by PaddleJob ${controller.name} (spec.sampleSetRef)`, warn: false };
  if (controller?.kind === 'DaemonSet' && controller.apiVersion.startsWith('apps/'))
    return { why: `a DaemonSet pod runs on the node its DaemonSet chose`, warn: false };
  if (pod.spec?.nodeName)
    return { why: `the pod is already bound to node ${pod.spec.nodeName} (spec.nodeName): no cache affinity injected`, warn: true };
  return undefined;
}

/** True when any node-affinity term of the pod (required or preferred) selects on `key`. */
export function carriesNodeLabel(pod: V1Pod, key: string): boolean {
  const na = pod.spec?.affinity?.nodeAffinity;
  const required = na?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const preferred = (na?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => p.preference);
  return [...required, ...preferred].some((t) => (t?.matchExpressions ?? []).some((e) => e.key === key));
}

/** The runtime pods of the SampleSet whose partitions are ready, in partition order. */
export function readyRuntimePods({ sampleSet, cache }: ClaimedSampleSet): string[] {
  const nodes = sampleSet.status?.nodes ?? [];
  if (sampleSet.status?.phase === 'Ready' && nodes.length === 0) return cache.runtimePods;
  const ready = new Set(nodes.filter((n) => n.ready === true).map((n) => n.partition));
  return cache.runtimePods.filter((_, partition) => ready.has(partition));
}

const nodesWord = (n: number): string => `${n} cache node${n === 1 ? '' : 's'}`;

function decideFor(pod: V1Pod, claimed: ClaimedSampleSet, asked: CacheAffinityPolicy): SampleSetAction {
  const { sampleSet, cache } = claimed;
  const name = cache.name;
  const controller = controllerOf(pod);
  if (pod.metadata?.labels?.[SAMPLESET_LABEL] === name && controller?.kind === 'StatefulSet')
    return { kind: 'skip', why: `a runtime pod of SampleSet ${name}` };
  if (carriesNodeLabel(pod, cache.nodeLabelKey)) return { kind: 'skip', why: `already has node affinity on ${cache.nodeLabelKey}` };
  if (sampleSet.metadata.deletionTimestamp) return { kind: 'none', note: `no cache affinity: SampleSet ${name} is being deleted` };

  const ready = readyRuntimePods(claimed);
  const phase = sampleSet.status?.phase || 'not set up yet';
  const partitions = cache.runtimePods.length;
  const requirement: V1NodeSelectorRequirement = { key: cache.nodeLabelKey, operator: 'In', values: ready };
  const preferred = (note: string): SampleSetAction => ({
    kind: 'preferred',
    term: { weight: PREFERRED_WEIGHT, preference: { matchExpressions: [requirement] } },
    note,
  });
  if (phase === 'Ready' && partitions > 0 && ready.length === partitions) {
    const what = `node affinity to the ${nodesWord(partitions)} of SampleSet ${name}`;
    return asked === 'Required' ? { kind: 'required', requirement, note: `required ${what}` } : preferred(`preferred ${what}`);
  }
  if (ready.length === 0) return { kind: 'none', note: `no cache affinity: SampleSet ${name} is ${phase} with no ready cache node` };
  return preferred(
    `preferred node affinity to the ${ready.length} ready of ${nodesWord(partitions)} of SampleSet ${name} only, ` +
      `as it is ${phase}` +
      (asked === 'Required' ? ` (Required applies once it is Ready: a required term now might never be met)` : ''),
  );
}

/** The decision for `pod`, which mounts the claims of `sampleSets`. */
export function decideCacheAffinity(pod: V1Pod, sampleSets: readonly ClaimedSampleSet[]): AffinityDecision {
  if (sampleSets.length === 0) return { skip: { why: 'mounts no SampleSet claim', warn: false }, actions: [], warnings: [] };
  const skip = podSkip(pod);
  if (skip) return { skip, actions: [], warnings: [] };
  const own = podPolicyOf(pod);
  if (own.policy === 'None')
    return { skip: { why: `opted out with annotation ${CACHE_AFFINITY_KEY}`, warn: false }, actions: [], warnings: [] };
  const warnings = own.invalid
    ? [`ignoring annotation ${CACHE_AFFINITY_KEY}=${JSON.stringify(own.invalid.slice(0, 40))}: use Preferred, Required or None`]
    : [];
  const seen = new Set<string>();
  const actions: AffinityDecision['actions'] = [];
  for (const claimed of sampleSets) {
    if (seen.has(claimed.cache.name)) continue;
    seen.add(claimed.cache.name);
    const asked = own.policy ?? claimed.sampleSet.spec.podAffinity ?? 'Preferred';
    actions.push({ sampleSet: claimed.cache.name, ...decideFor(pod, claimed, asked) });
  }
  return { actions, warnings };
}
