/** Names of the objects a PaddleJob owns. */
import { PADDLE_RES_INDEX, PADDLE_RES_TYPE } from '../../api/constants.js';
import type { CachedPod } from '../../kube/cached-objects.js';
import type { RoleName } from '../../api/paddlejob.js';
import { isRole } from './mode.js';

/** `<job>-<role>-<index>`; the per-pod Service (Service intranet) has the same name. */
export function podName(job: string, role: RoleName, index: number): string {
  return `${job}-${role}-${index}`;
}

/** The ConfigMap with the job's endpoints, and the Volcano PodGroup, are named like the job. */
export function configMapName(job: string): string {
  return job;
}
export function podGroupName(job: string): string {
  return job;
}

/** `<role>-<index>`: key of a pod within its job (host-port table, sorting). */
export function memberKey(role: RoleName, index: number): string {
  return `${role}-${index}`;
}

/** Role and index of a pod we created, read from its labels (undefined for anything else). */
export function podIdentity(pod: CachedPod): { role: RoleName; index: number } | undefined {
  const role = pod.metadata?.labels?.[PADDLE_RES_TYPE];
  const raw = pod.metadata?.labels?.[PADDLE_RES_INDEX];
  if (!isRole(role) || raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return { role, index: Number(raw) };
}

/** Kubernetes limits label values and Service names to 63 characters. */
export const MAX_NAME_LENGTH = 63;

/**
 * The longest pod name the job will produce: it is a label value (`paddle-res-name`) and, with
 * Service intranet, a Service name, so it must fit in 63 characters.
 */
export function longestPodName(job: string, replicas: Partial<Record<RoleName, number>>): string {
  let longest = '';
  for (const [role, n] of Object.entries(replicas) as [RoleName, number][]) {
    if (n > 0) {
      const name = podName(job, role, n - 1);
      if (name.length > longest.length) longest = name;
    }
  }
  return longest;
}
