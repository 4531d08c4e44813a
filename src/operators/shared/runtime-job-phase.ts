import type { RuntimeJobState } from '../../api/runtime-protocol.js';

/** The phase a Kubernetes status shows for a runtime job. A cancelled job counts as failed (nothing retries it by itself). */
export type RuntimeJobPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export function phaseOfRuntimeJob(status: RuntimeJobState['status']): RuntimeJobPhase {
  switch (status) {
    case 'pending':
      return 'Pending';
    case 'running':
      return 'Running';
    case 'succeeded':
      return 'Succeeded';
    default:
      return 'Failed';
  }
}
