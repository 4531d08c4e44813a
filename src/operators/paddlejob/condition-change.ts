/**
 * What a PaddleJob phase says about its condition: set it, or drop it (the phase does not apply to
 * this job). The operator combines the phases' changes into the job's conditions.
 */
import { setCondition, type Condition } from '../../api/conditions.js';

export type ConditionChange = { set: Condition } | { remove: string };

export function applyConditionChange(list: Condition[] | undefined, change: ConditionChange, now: Date): Condition[] | undefined {
  if ('set' in change) return setCondition(list, change.set, now);
  if (!list?.some((c) => c.type === change.remove)) return list;
  return list.filter((c) => c.type !== change.remove);
}
