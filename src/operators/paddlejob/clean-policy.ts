/** cleanPodPolicy: which ended jobs lose their pods (and per-pod Services). The ConfigMap stays. */
import type { CleanPodPolicy, PaddleJobPhase } from '../../api/paddlejob.js';

export const DEFAULT_CLEAN_POD_POLICY: CleanPodPolicy = 'OnCompletion';

/**
 * Always: on Completed and on Failed; OnCompletion (the default): on Completed; OnFailure: on
 * Failed; Never: never. Nothing is cleaned while the job runs.
 */
export function shouldCleanPods(policy: CleanPodPolicy | undefined, phase: PaddleJobPhase | undefined): boolean {
  if (phase !== 'Completed' && phase !== 'Failed') return false;
  switch (policy ?? DEFAULT_CLEAN_POD_POLICY) {
    case 'Always':
      return true;
    case 'OnCompletion':
      return phase === 'Completed';
    case 'OnFailure':
      return phase === 'Failed';
    case 'Never':
      return false;
    default:
      return false;
  }
}
