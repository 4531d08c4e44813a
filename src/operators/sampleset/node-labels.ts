/** Which nodes carry a SampleSet's cache-node label, and what to change (pure). */
import type { RuntimePod } from '../shared/runtime-pods.js';
import type { CachedNode } from '../../kube/cached-objects.js';
import { compareText } from '../../api/compare-text.js';

/**
 * node name → runtime pod name for the pods that hold a partition (ordinal < partitions), are bound
 * to a node, Running and not terminating. If two pods share a node (anti-affinity broken), the lower
 * ordinal keeps the label.
 */
export function desiredNodeLabels(pods: readonly RuntimePod[], partitions: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of [...pods].sort((a, b) => a.ordinal - b.ordinal)) {
    if (p.ordinal >= partitions || !p.nodeName) continue;
    if (p.pod.metadata?.deletionTimestamp || p.pod.status?.phase !== 'Running') continue;
    if (!out.has(p.nodeName)) out.set(p.nodeName, p.name);
  }
  return out;
}

export interface NodeLabelDiff {
  set: Array<{ node: string; value: string }>;
  remove: string[];
}

/**
 * Changes that make `key` on `nodes` equal `desired`:
 * - set the label where it is missing or has another value;
 * - remove it from nodes we do not want labelled (stale: pod moved, scaled down, value of a gone pod).
 * `others` are labels another SampleSet with the same label key wants (same name in another
 * namespace): they are never removed or overwritten, so two such SampleSets cannot flap each other.
 */
export function diffNodeLabels(
  key: string,
  nodes: readonly CachedNode[],
  desired: ReadonlyMap<string, string>,
  others: ReadonlyMap<string, string> = new Map(),
): NodeLabelDiff {
  const current = new Map<string, string | undefined>();
  for (const n of nodes) if (n.metadata?.name) current.set(n.metadata.name, n.metadata.labels?.[key]);
  const set: NodeLabelDiff['set'] = [];
  const remove: string[] = [];
  for (const [node, value] of [...desired].sort(([a], [b]) => compareText(a, b))) {
    if (!current.has(node)) continue; // node gone (or not yet in the cache)
    const other = others.get(node);
    if (other !== undefined && other !== value) continue;
    if (current.get(node) !== value) set.push({ node, value });
  }
  for (const [node, value] of [...current].sort(([a], [b]) => compareText(a, b))) {
    if (value === undefined || desired.has(node) || others.has(node)) continue;
    remove.push(node);
  }
  return { set, remove };
}
