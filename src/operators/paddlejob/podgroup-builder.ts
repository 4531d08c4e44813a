/** Volcano gang scheduling: the PodGroup `<job>` that holds the job's pods together. */
import type { KubernetesObject } from '@kubernetes/client-node';
import { PADDLE_JOB_NAME, PODGROUP, apiVersionOf } from '../../api/constants.js';
import type { PaddleJob } from '../../api/paddlejob.js';
import { ownerReference } from '../../kube/owner-reference.js';
import { replicasOf, rolesOf, totalReplicas } from './mode.js';
import { podGroupName } from './names.js';
import { addResources, formatResources } from './quantity.js';

export interface PodGroupSpec {
  minMember: number;
  minResources?: Record<string, string>;
  queue?: string;
  priorityClassName?: string;
}

export interface PodGroup extends KubernetesObject {
  spec: PodGroupSpec;
  status?: { phase?: string };
}

/**
 * Σ over roles of replicas × (requests of every container; a container's limits stand in for
 * requests it does not set, as Kubernetes defaults them). Init containers are not counted.
 */
export function summedRequests(job: PaddleJob): Record<string, string> {
  const sums = new Map<string, bigint>();
  for (const role of rolesOf(job.spec)) {
    const n = replicasOf(job.spec, role);
    for (const c of job.spec[role]?.template?.spec?.containers ?? []) {
      const requests = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) } as Record<string, string | number>;
      addResources(sums, requests, n);
    }
  }
  return formatResources(sums);
}

export function podGroupSpec(job: PaddleJob): PodGroupSpec {
  const policy = job.spec.schedulingPolicy ?? {};
  const minResources = policy.minResources ? formatResources(sumsOf(policy.minResources)) : summedRequests(job);
  return {
    minMember: policy.minAvailable ?? totalReplicas(job.spec),
    ...(Object.keys(minResources).length ? { minResources } : {}),
    ...(policy.queue ? { queue: policy.queue } : {}),
    ...(policy.priorityClass ? { priorityClassName: policy.priorityClass } : {}),
  };
}

function sumsOf(list: Record<string, string | number>): Map<string, bigint> {
  const m = new Map<string, bigint>();
  addResources(m, list);
  return m;
}

export function buildPodGroup(job: PaddleJob): PodGroup {
  const jobName = job.metadata.name!;
  return {
    apiVersion: apiVersionOf(PODGROUP),
    kind: PODGROUP.kind,
    metadata: {
      name: podGroupName(jobName),
      namespace: job.metadata.namespace,
      labels: { [PADDLE_JOB_NAME]: jobName },
      ownerReferences: [ownerReference(job)],
    },
    spec: podGroupSpec(job),
  };
}

/**
 * True when the existing PodGroup differs from what the job wants in a field we set (fields we leave
 * out, such as a queue Volcano defaulted, are not compared).
 */
export function podGroupNeedsUpdate(existing: PodGroup, want: PodGroupSpec): boolean {
  const have = existing.spec ?? ({} as PodGroupSpec);
  if (have.minMember !== want.minMember) return true;
  if (want.queue !== undefined && have.queue !== want.queue) return true;
  if (want.priorityClassName !== undefined && have.priorityClassName !== want.priorityClassName) return true;
  if (want.minResources !== undefined) {
    let normalized: Record<string, string>;
    try {
      normalized = formatResources(sumsOf(have.minResources ?? {}));
    } catch {
      return true;
    }
    if (JSON.stringify(normalized) !== JSON.stringify(want.minResources)) return true;
  }
  return false;
}
