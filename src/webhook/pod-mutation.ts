/**
 * The pod a decision asks for, and what the user is told: required requirements ANDed into every
 * required node-selector term exactly as the PaddleJob operator does it (shared/cache-placement.ts),
 * preferred terms appended, and the reason annotation. Pure; the input pod is never changed, and
 * parts that do not change keep their identity (so the JSON patch between the two stays small).
 */
import type { V1Affinity, V1Pod, V1PreferredSchedulingTerm } from '@kubernetes/client-node';
import { andRequiredNodeAffinity } from '../operators/shared/cache-placement.js';
import type { AffinityDecision } from './affinity-decision.js';
import { CACHE_AFFINITY_REASON_ANNOTATION, WARNING_PREFIX } from './constants.js';

/** Appends `term` to the preferred node affinity, keeping everything else. Returns a new affinity. */
export function withPreferredNodeAffinity(affinity: V1Affinity | undefined, term: V1PreferredSchedulingTerm): V1Affinity {
  const nodeAffinity = affinity?.nodeAffinity;
  return {
    ...affinity,
    nodeAffinity: {
      ...nodeAffinity,
      preferredDuringSchedulingIgnoredDuringExecution: [...(nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []), term],
    },
  };
}

/** The notes of the SampleSets the webhook acted on (injected, or could not), in order. */
function notesOf(decision: AffinityDecision): string[] {
  return decision.actions.flatMap((a) => (a.kind === 'skip' ? [] : [a.note]));
}

/** `pod` as the decision wants it; the same object when the decision changes nothing. */
export function mutatePod(pod: V1Pod, decision: AffinityDecision): V1Pod {
  if (decision.skip || !pod.spec) return pod;
  const notes = notesOf(decision);
  if (notes.length === 0) return pod;
  let affinity = pod.spec.affinity;
  for (const a of decision.actions) {
    if (a.kind === 'required') affinity = andRequiredNodeAffinity(affinity, a.requirement);
    else if (a.kind === 'preferred') affinity = withPreferredNodeAffinity(affinity, a.term);
  }
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [CACHE_AFFINITY_REASON_ANNOTATION]: notes.join('; ') } },
    spec: affinity === pod.spec.affinity ? pod.spec : { ...pod.spec, affinity },
  };
}

/**
 * What the AdmissionReview response tells the user (kubectl prints these). The notes only when
 * the pod `changed`: a pod reviewed again after the first pass (reinvocation) hears nothing new.
 */
export function warningsOf(decision: AffinityDecision, changed = true): string[] {
  const own = decision.skip?.warn ? [decision.skip.why] : [];
  return [...decision.warnings, ...own, ...(changed ? notesOf(decision) : [])].map((w) => `${WARNING_PREFIX} ${w}`);
}
