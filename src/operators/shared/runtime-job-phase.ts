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

/** A job the runtime cancelled because it was shutting down (pod deleted/restarting): lost, not the user's cancel. */
export const RUNTIME_SHUTDOWN_MESSAGE = /runtime (is )?shutting down/i;

export function cancelledByShutdown(st: RuntimeJobState | undefined): boolean {
  return st?.status === 'cancelled' && RUNTIME_SHUTDOWN_MESSAGE.test(st.message ?? '');
}
