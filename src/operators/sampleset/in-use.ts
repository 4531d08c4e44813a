/**
 * Whether a SampleSet being deleted may be torn down now: not while a pod other than its own
 * runtime mounts its claim (a training job reading the cache would lose its node labels and its
 * runtime under it), unless the force-delete annotation says so. Pure functions over cached pods.
 */
import { LABEL_DOMAIN } from '../../api/constants.js';
import type { CachedPod } from '../../kube/cached-objects.js';
import { claimsOfPod } from '../shared/cache-placement.js';
import { compareText } from '../../api/compare-text.js';

/**
 * Annotation on a SampleSet: `"true"` lets its deletion proceed while pods still mount its claim
 * (they keep running; their reads no longer go through the cache nodes).
 */
export const FORCE_DELETE_ANNOTATION = `${LABEL_DOMAIN}/force-delete`;

/** How many using pods a message names before it says "and N more". */
export const MAX_NAMED_USERS = 10;

/** A pod that mounts the claim, and the object that controls it (a PaddleJob, a ReplicaSet…), if any. */
export interface ClaimUser {
  pod: string;
  owner?: { kind: string; name: string };
}

export interface InUseInput {
  /** The SampleSet's namespace: pods elsewhere cannot mount its claim. */
  namespace: string;
  /** The claim(s) the SampleSet's volume is known by. */
  claimNames: readonly string[];
  /** Pods to look at (typically the pod cache of the namespace). */
  pods: readonly CachedPod[];
  /** Names of the SampleSet's own runtime pods: never users. */
  runtimePods: ReadonlySet<string>;
  /** The SampleSet's annotations (for FORCE_DELETE_ANNOTATION). */
  annotations?: Record<string, string>;
}

export type DeletionDecision =
  /** Tear down now; `users` are the pods still mounting the claim when forced (empty otherwise). */
  | { action: 'proceed'; forced: boolean; users: ClaimUser[] }
  /** Keep everything and wait for `users` (never empty) to go. */
  | { action: 'wait'; users: ClaimUser[] };

/** True when the annotation asks for a forced deletion (`"true"`, any case). */
export function isForceDelete(annotations: Record<string, string> | undefined): boolean {
  return (annotations?.[FORCE_DELETE_ANNOTATION] ?? '').trim().toLowerCase() === 'true';
}

/**
 * The pods in `namespace` that mount one of `claimNames` and still may use it: not finished
 * (Succeeded/Failed) and not one of the runtime pods. A pod being deleted still counts: its
 * containers may run until the grace period ends. Sorted by name, so messages are stable.
 */
export function claimUsers(input: Pick<InUseInput, 'namespace' | 'claimNames' | 'pods' | 'runtimePods'>): ClaimUser[] {
  const claims = new Set(input.claimNames);
  const out: ClaimUser[] = [];
  for (const pod of input.pods) {
    const name = pod.metadata?.name;
    if (!name || pod.metadata?.namespace !== input.namespace || input.runtimePods.has(name)) continue;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    if (!claimsOfPod(pod).some((c) => claims.has(c))) continue;
    const ref = pod.metadata.ownerReferences?.find((r) => r.controller) ?? pod.metadata.ownerReferences?.[0];
    out.push(ref ? { pod: name, owner: { kind: ref.kind, name: ref.name } } : { pod: name });
  }
  return out.sort((a, b) => compareText(a.pod, b.pod));
}

/** The decision for one pass of a deletion. */
export function decideDeletion(input: InUseInput): DeletionDecision {
  const users = claimUsers(input);
  const forced = isForceDelete(input.annotations);
  if (users.length === 0) return { action: 'proceed', forced: false, users: [] };
  return forced ? { action: 'proceed', forced: true, users } : { action: 'wait', users };
}

/** "pod a (PaddleJob train), pod b and 3 more": at most `max` pods named. */
export function describeUsers(users: readonly ClaimUser[], max = MAX_NAMED_USERS): string {
  const named = users.slice(0, max).map((u) => (u.owner ? `pod ${u.pod} (${u.owner.kind} ${u.owner.name})` : `pod ${u.pod}`));
  const rest = users.length - named.length;
  return rest > 0 ? `${named.join(', ')} and ${rest} more` : named.join(', ');
}

/** The message of the waiting condition and Event: what blocks the deletion and how to force it. */
export function inUseMessage(users: readonly ClaimUser[], claims: readonly string[]): string {
  const n = users.length;
  return (
    `deletion waits for ${n} pod${n === 1 ? '' : 's'} mounting PersistentVolumeClaim ${claims.join(', ')}: ${describeUsers(users)}; ` +
    `the cache stays until they finish or are deleted (annotate the SampleSet ${FORCE_DELETE_ANNOTATION}=true to delete it now)`
  );
}
