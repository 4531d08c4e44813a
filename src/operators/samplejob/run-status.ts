/**
 * The status of a one-shot SampleJob run, as pure functions of what a pass decided: the status it
 * wants, whether the change is worth an immediate write, the Event a phase change announces, and
 * the statuses of a failed, waiting or re-run job.
 */
import { setCondition, type Condition } from '../../api/conditions.js';
import type { JobProgress, SampleJob, SampleJobNodeStatus, SampleJobPhase, SampleJobStatus } from '../../api/samplejob.js';
import { kubeTime } from '../../api/time.js';
import type { EventType } from '../../kube/event-recorder.js';
import { jsonEqual } from '../../kube/merge-patch.js';
import { aggregateProgress, type NodeProgress } from './progress.js';
import { jobPhaseOf, TERMINAL_NODE_PHASES } from './run-state.js';

/** The condition every run carries: Unknown while waiting/running, True/False at the end (Tekton-style). */
export const SUCCEEDED_CONDITION = 'Succeeded';

export function isTerminalPhase(p: string | undefined): boolean {
  return p === 'Succeeded' || p === 'Failed';
}

const jobTypeName: Record<string, string> = { sync: 'Sync', warmup: 'Warmup', rmr: 'Rmr', clear: 'Clear' };

export interface RunStatusInput {
  job: SampleJob;
  jobId: string;
  specHash: string;
  /** The run has not submitted anything and follows spec edits. */
  fresh: boolean;
  nodes: SampleJobNodeStatus[];
  progressOf: Map<string, NodeProgress>;
  now: number;
  /** UID of the SampleSet the run goes to (recorded once). */
  sampleSetUID?: string;
}

/** The status of a run as a pass sees it (phase from the nodes, progress summed). */
export function runStatus({ job, jobId, specHash, fresh, nodes, progressOf, now, sampleSetUID }: RunStatusInput): SampleJobStatus {
  const prev = job.status ?? {};
  const anySubmitted = nodes.some((n) => (n.attempts ?? 0) > 0);
  const result = jobPhaseOf(nodes);
  let phase: SampleJobPhase = result.phase;
  if (!anySubmitted && phase !== 'Failed') phase = 'Pending';
  const progress: JobProgress = aggregateProgress(nodes.map((n) => progressOf.get(n.pod) ?? { phase: n.phase }));
  const out: SampleJobStatus = {
    phase,
    jobName: jobId,
    specHash: fresh ? specHash : (prev.specHash ?? specHash),
    observedGeneration: job.metadata?.generation,
    nodes,
    attempts: nodes.reduce((a, n) => a + (n.attempts ?? 0), 0),
    progress: Object.keys(progress).length ? progress : (prev.progress ?? undefined),
  };
  const uid = prev.sampleSetUID ?? sampleSetUID;
  if (uid) out.sampleSetUID = uid;
  if (anySubmitted) out.startTime = prev.startTime ?? kubeTime(now);
  if (isTerminalPhase(phase)) out.completionTime = prev.completionTime ?? kubeTime(now);
  const cond: Condition =
    phase === 'Succeeded'
      ? { type: SUCCEEDED_CONDITION, status: 'True', reason: 'Succeeded', message: result.message }
      : phase === 'Failed'
        ? { type: SUCCEEDED_CONDITION, status: 'False', reason: result.reason, message: result.message }
        : { type: SUCCEEDED_CONDITION, status: 'Unknown', reason: result.reason, message: result.message };
  out.conditions = setCondition(prev.conditions, { ...cond, observedGeneration: job.metadata?.generation }, new Date(now));
  return out;
}

/** A change worth writing at once (anything but progress numbers and runtime messages). */
export function significantChange(prev: SampleJobStatus, next: SampleJobStatus): boolean {
  if (prev.phase !== next.phase || prev.jobName !== next.jobName || prev.specHash !== next.specHash) return true;
  if (prev.startTime !== next.startTime || prev.completionTime !== next.completionTime) return true;
  if (prev.observedGeneration !== next.observedGeneration) return true;
  const strip = (n: SampleJobNodeStatus[] | undefined) =>
    (n ?? []).map((x) => ({ pod: x.pod, node: x.node, phase: x.phase, attempts: x.attempts }));
  if (!jsonEqual(strip(prev.nodes), strip(next.nodes))) return true;
  const cond = (c: Condition[] | undefined) => (c ?? []).map((x) => ({ type: x.type, status: x.status, reason: x.reason }));
  return !jsonEqual(cond(prev.conditions), cond(next.conditions));
}

export interface Announcement {
  type: EventType;
  reason: string;
  message: string;
}

/** The Event a phase transition announces (none when the phase did not change). */
export function announcement(job: SampleJob, from: string, next: SampleJobStatus): Announcement | undefined {
  if (from === next.phase) return undefined;
  const c = next.conditions?.find((x) => x.type === SUCCEEDED_CONDITION);
  const type = jobTypeName[job.spec.type] ?? job.spec.type;
  switch (next.phase) {
    case 'Pending':
      return { type: 'Normal', reason: 'Pending', message: `${type} job ${next.jobName} accepted: ${c?.message ?? ''}`.trim() };
    case 'Running':
      return {
        type: 'Normal',
        reason: 'Running',
        message: `${type} job ${next.jobName} running on ${(next.nodes ?? []).map((n) => n.pod).join(', ')}`,
      };
    case 'Succeeded': {
      const took =
        next.startTime && next.completionTime
          ? ` in ${Math.max(0, Date.parse(next.completionTime) - Date.parse(next.startTime)) / 1000}s`
          : '';
      return { type: 'Normal', reason: 'Succeeded', message: `${type} job ${next.jobName} succeeded${took}` };
    }
    case 'Failed':
      return { type: 'Warning', reason: c?.reason ?? 'Failed', message: `${type} job failed: ${c?.message ?? ''}` };
    default:
      return undefined;
  }
}

/** The status of a run failed with `reason` (validation or a lost SampleSet): terminal until the spec changes. */
export function failedStatus(job: SampleJob, specHash: string, reason: string, message: string, now: number): SampleJobStatus {
  const prev = job.status ?? {};
  const status: SampleJobStatus = {
    phase: 'Failed',
    specHash,
    observedGeneration: job.metadata?.generation,
    completionTime: kubeTime(now),
    conditions: setCondition(
      prev.conditions,
      { type: SUCCEEDED_CONDITION, status: 'False', reason, message, observedGeneration: job.metadata?.generation },
      new Date(now),
    ),
  };
  if (prev.nodes?.length) {
    status.nodes = prev.nodes.map((n) =>
      TERMINAL_NODE_PHASES.has(n.phase ?? '') ? n : { ...n, phase: 'Failed', message: `${reason}: ${message}` },
    );
  }
  if (prev.jobName) status.jobName = prev.jobName;
  if (prev.sampleSetUID) status.sampleSetUID = prev.sampleSetUID;
  return status;
}

/** The status of a run waiting (phase Pending, a condition saying why), and whether it differs from the current one. */
export function waitingStatus(job: SampleJob, reason: string, message: string, now: number): { status: SampleJobStatus; changed: boolean } {
  const prev = job.status ?? {};
  const conditions = setCondition(
    prev.conditions,
    { type: SUCCEEDED_CONDITION, status: 'Unknown', reason, message, observedGeneration: job.metadata?.generation },
    new Date(now),
  );
  const status: SampleJobStatus = { phase: 'Pending', observedGeneration: job.metadata?.generation, conditions };
  const changed =
    prev.phase !== 'Pending' || prev.observedGeneration !== job.metadata?.generation || !jsonEqual(prev.conditions, conditions);
  return { status, changed };
}

/** The status patch that starts a failed job whose spec changed over with a new run id. */
export function rerunPatch(job: SampleJob, now: number): Record<string, unknown> {
  const conditions = setCondition(
    job.status?.conditions,
    {
      type: SUCCEEDED_CONDITION,
      status: 'Unknown',
      reason: 'Rerun',
      message: 'the spec changed after a failure; running again',
      observedGeneration: job.metadata?.generation,
    },
    new Date(now),
  );
  return {
    phase: '',
    jobName: null,
    specHash: null,
    nodes: null,
    progress: null,
    attempts: null,
    startTime: null,
    completionTime: null,
    sampleSetUID: null,
    observedGeneration: job.metadata?.generation,
    conditions,
  };
}
