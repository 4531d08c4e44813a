/** Kubernetes-style status conditions and the pure helpers that maintain them. */
import { compareText } from './compare-text.js';
import { kubeTime } from './time.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/**
 * Returns a new list with `cond` set: lastTransitionTime only moves when the status changes, so a
 * reconcile that finds the world unchanged writes the same conditions back (no status churn).
 */
export function setCondition(list: Condition[] | undefined, cond: Condition, now: Date = new Date()): Condition[] {
  const out = (list ?? []).filter((c) => c.type !== cond.type);
  const prev = (list ?? []).find((c) => c.type === cond.type);
  const lastTransitionTime = prev && prev.status === cond.status && prev.lastTransitionTime ? prev.lastTransitionTime : kubeTime(now);
  out.push({ ...cond, lastTransitionTime });
  return out.sort((a, b) => compareText(a.type, b.type));
}

export function getCondition(list: Condition[] | undefined, type: string): Condition | undefined {
  return (list ?? []).find((c) => c.type === type);
}
