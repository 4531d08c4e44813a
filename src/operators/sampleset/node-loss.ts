/**
 * Lost cache nodes, as pure functions: which partitions sit on a node that is gone, not ready or
 * unreachable, since when, what status says about them, and when the runtime pod of such a
 * partition may be replaced (spec.nodeLossPolicy).
 *
 * Kubernetes never replaces a StatefulSet pod on an unreachable node by itself: the node may still
 * run it, and two runtime pods of one partition must never write at once. So the default is to
 * report and wait; only an owner who set `spec.nodeLossPolicy.replaceAfterSeconds` lets the
 * operator force-delete the pod (the StatefulSet controller then recreates it elsewhere).
 */
import type { CacheNodeStatus, NodeLossPolicy } from '../../api/sampleset.js';
import type { CachedNode } from '../../kube/cached-objects.js';
import { kubeTime } from '../../api/time.js';
import type { RuntimePod } from '../shared/runtime-pods.js';

/** The taint the node lifecycle controller puts on a node whose kubelet stopped reporting. */
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';

export type NodeLossReason = 'NodeDeleted' | 'NodeUnreachable' | 'NodeNotReady';

export interface NodeLoss {
  reason: NodeLossReason;
  /** One sentence, e.g. `node n1 is Ready=Unknown (NodeStatusUnknown) since 2026-12-03T10:00:00Z`. */
  detail: string;
}

/**
 * Why `nodeName` cannot be trusted to run a pod, or undefined when it can: the Node object is gone,
 * it carries the unreachable taint, or its Ready condition is False or Unknown. A node that has
 * never reported a Ready condition (just registered) is not judged.
 */
export function nodeLoss(nodeName: string, node: CachedNode | undefined): NodeLoss | undefined {
  if (!node) return { reason: 'NodeDeleted', detail: `node ${nodeName} no longer exists` };
  if ((node.spec?.taints ?? []).some((t) => t.key === UNREACHABLE_TAINT)) {
    return { reason: 'NodeUnreachable', detail: `node ${nodeName} is unreachable (taint ${UNREACHABLE_TAINT})` };
  }
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  if (ready && ready.status !== 'True') {
    const why = ready.reason ? ` (${ready.reason})` : '';
    const since = ready.lastTransitionTime ? ` since ${kubeTime(new Date(ready.lastTransitionTime))}` : '';
    return { reason: 'NodeNotReady', detail: `node ${nodeName} is Ready=${ready.status}${why}${since}` };
  }
  return undefined;
}

/** A partition whose runtime pod is bound to a lost node. */
export interface LostPartition extends NodeLoss {
  partition: number;
  pod: string;
  uid?: string;
  node: string;
  /** When the operator first saw this loss (RFC 3339), kept in `status.nodes[].nodeLostSince` across restarts. */
  since: string;
  /** Seen for the first time in this pass (status did not show it yet). */
  firstSeen: boolean;
}

/**
 * The partition pods (ordinal < partitions, terminating ones included) bound to a lost node.
 * `shown` is what status showed: a loss of the same pod on the same node keeps its `since`.
 */
export function findLostPartitions(
  partitionPods: readonly RuntimePod[],
  nodeOf: (name: string) => CachedNode | undefined,
  shown: readonly CacheNodeStatus[] | undefined,
  now: number,
): LostPartition[] {
  const before = new Map((shown ?? []).filter((n) => n.nodeLostSince).map((n) => [n.pod, n]));
  const out: LostPartition[] = [];
  for (const p of partitionPods) {
    if (!p.nodeName) continue;
    const loss = nodeLoss(p.nodeName, nodeOf(p.nodeName));
    if (!loss) continue;
    const prev = before.get(p.name);
    const kept = prev && prev.node === p.nodeName ? prev.nodeLostSince : undefined;
    out.push({ ...loss, partition: p.ordinal, pod: p.name, uid: p.uid, node: p.nodeName, since: kept ?? kubeTime(now), firstSeen: !kept });
  }
  return out;
}

/** When the pod of a lost partition may be replaced: never without a policy; at once when its Node is deleted. */
export function replaceAt(l: LostPartition, policy: NodeLossPolicy | undefined): number | undefined {
  const after = policy?.replaceAfterSeconds;
  if (after === undefined || after === null) return undefined;
  const since = Date.parse(l.since);
  return l.reason === 'NodeDeleted' ? since : since + Math.max(0, after) * 1000;
}

/** The lost partitions whose pod is due for replacement now, and the time until the next one is (undefined: none planned). */
export function replacementPlan(
  lost: readonly LostPartition[],
  policy: NodeLossPolicy | undefined,
  now: number,
): { due: LostPartition[]; nextInMs?: number } {
  const due: LostPartition[] = [];
  let next = Infinity;
  for (const l of lost) {
    const at = replaceAt(l, policy);
    if (at === undefined) continue;
    if (now >= at) due.push(l);
    else next = Math.min(next, at - now);
  }
  return Number.isFinite(next) ? { due, nextInMs: next } : { due };
}

/** What happens next to lost partitions, for messages. */
export function policyText(policy: NodeLossPolicy | undefined): string {
  const after = policy?.replaceAfterSeconds;
  return after === undefined || after === null
    ? 'the runtime pod is not replaced automatically, since the node may still run it: delete the Node (or force-delete the pod) once the node is known to be down, or set spec.nodeLossPolicy.replaceAfterSeconds'
    : `the runtime pod is replaced ${after}s after the loss was seen, at once if the Node is deleted (spec.nodeLossPolicy.replaceAfterSeconds)`;
}

/** The `CacheNodesAvailable` condition. */
export function nodesAvailableCondition(
  lost: readonly LostPartition[],
  policy: NodeLossPolicy | undefined,
): { status: 'True' | 'False'; reason: string; message: string } {
  if (lost.length === 0) return { status: 'True', reason: 'NodesAvailable', message: 'no partition is on a lost node' };
  const list = lost.map((l) => `partition ${l.partition} (pod ${l.pod}) on node ${l.node}: ${l.detail}, lost since ${l.since}`);
  return { status: 'False', reason: 'NodeLost', message: `${list.join('; ')}; ${policyText(policy)}` };
}

/** `status.nodes[i]` of a lost partition: not ready, the reason, and since when. */
export function markLost(entry: CacheNodeStatus, l: LostPartition): CacheNodeStatus {
  return { ...entry, node: l.node, ready: false, message: `node lost: ${l.detail}`, nodeLostSince: l.since };
}
