/**
 * How long a PaddleJob waits for its SampleSet (pure). A job whose SampleSet is not Ready creates
 * no pod (sampleset-gate.ts) and says why in its SampleSetReady condition. With
 * `spec.sampleSetRef.waitSeconds`, a job that has not started fails once the gate has been closed
 * that long — counted from the condition's lastTransitionTime, so an operator restart does not
 * reset it; without it, the job waits as long as it takes. A job that already started is never
 * failed by this rule: its running pods keep running, and a missing one is created once the
 * SampleSet is Ready again.
 */
import type { Condition } from '../../api/conditions.js';
import type { PaddleJob } from '../../api/paddlejob.js';
import { REASON } from './constants.js';
import type { SampleSetGate } from './sampleset-gate.js';

export interface SampleSetWait {
  /** The job fails with this. */
  failure?: { reason: string; message: string };
  /** Look again then (the wait expires). */
  requeueAfterMs?: number;
}

/** `previous`: the job's SampleSetReady condition before this pass. */
export function sampleSetWait(
  job: PaddleJob,
  gate: SampleSetGate | undefined,
  previous: Condition | undefined,
  now: number,
): SampleSetWait {
  const limit = job.spec.sampleSetRef?.waitSeconds;
  if (!gate || gate.open || limit === undefined || limit === null || job.status?.startTime) return {};
  const closedSince = previous?.status === 'False' && previous.lastTransitionTime ? Date.parse(previous.lastTransitionTime) : Number.NaN;
  const since = Number.isFinite(closedSince) ? closedSince : now;
  const at = since + Math.max(0, limit) * 1000;
  if (now < at) return { requeueAfterMs: at - now };
  return {
    failure: {
      reason: REASON.SampleSetWaitExpired,
      message: `the SampleSet was not Ready within ${limit}s (spec.sampleSetRef.waitSeconds): ${gate.message.replace(/; the job waits until.*$/, '')}`,
    },
  };
}
