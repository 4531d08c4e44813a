/**
 * The state machine of one SampleJob run, as pure decisions:
 *  - `decideNode`: what to do for one runtime pod of the run (submit, resubmit, follow, wait, fail),
 *    from its status entry, the pod as cached, and what the runtime job watcher knows;
 *  - `jobPhaseOf`: the job's phase and reason from its nodes.
 * The operator applies the decisions (status writes, HTTP calls); nothing here does I/O.
 */
import type { SampleJobNodeStatus, SampleJobPhase } from '../../api/samplejob.js';
import type { JobProgressReport, RuntimeJobState } from '../../api/runtime-protocol.js';
import { cancelledByShutdown, phaseOfRuntimeJob } from '../shared/runtime-job-phase.js';
import type { NodePhase } from './progress.js';

export const TERMINAL_NODE_PHASES: ReadonlySet<string> = new Set(['Succeeded', 'Failed', 'Removed']);

/** Why a node (and so the job) failed, when it is not the runtime's own failure. */
export type NodeFailureReason = 'RuntimeLost' | 'RuntimeUnavailable' | 'RuntimeUnreachable' | 'Cancelled' | 'UnsafePath' | 'JobFailed';

/** Runtime messages of its path-safety checks (src/engines/toolkit/path-safety.ts): the user's path is the problem. */
// `refused: …` is how a runtime reports a path it will not touch (a symlink on the way, a special file, …).
const UNSAFE_PATH_MESSAGE = /^refused: |resolves outside its root|contains a '\.\.' segment|is a dangling symlink|contains a NUL character/;

/** The pod as the operator sees it in its cache. */
export interface PodView {
  name: string;
  uid?: string;
  ready: boolean;
  podIP?: string;
  nodeName?: string;
}

/** What the runtime job watcher knows about (run, pod) in this process; undefined = nothing yet. */
export interface TrackView {
  podUid?: string;
  state?: RuntimeJobState;
  unknown: boolean;
  submitPending: boolean;
  /** A POST is in flight right now. */
  submitting?: boolean;
  submitError?: string;
  submitFailures: number;
  /** Retry a failed submission not before this time. */
  nextSubmitAt?: number;
  /** The last submission was refused because the runtime's queue is full (429). */
  busy?: { queueLimit?: number; refusals: number };
  error?: string;
  errorSince?: number;
}

export interface NodeContext {
  entry: SampleJobNodeStatus;
  /** The SampleSet no longer has this node's partition (scaled down). */
  partitionRemoved?: boolean;
  pod?: PodView;
  track?: TrackView;
  /** When this node started waiting for its pod (or for its runtime to answer), if it is waiting. */
  waitingSince?: number;
  now: number;
  maxAttempts: number;
  /** How long a node may wait for its pod to be ready / its runtime to answer before it fails. */
  podWaitTimeoutMs: number;
}

export type NodeStep =
  /** Terminal already: nothing to do. */
  | { action: 'done' }
  /** Submit (attempts + 1; `resubmit` when the runtime lost an earlier submission). */
  | { action: 'submit'; resubmit: boolean; message?: string }
  /** Retry a submission whose POST failed in this process (same attempt). */
  | { action: 'retry-submit' }
  /** Start following the run on the pod (e.g. after an operator restart). */
  | { action: 'track' }
  /**
   * Nothing to submit; show this phase/message (progress from the runtime when known). `busy`: the
   * runtime's queue is full, the submission is retried later (not a failed attempt, no deadline).
   */
  | { action: 'observe'; phase: NodePhase; message?: string; progress?: JobProgressReport; waiting?: boolean; busy?: boolean }
  /** The node failed for good. */
  | { action: 'fail'; reason: NodeFailureReason; message: string }
  /** The node's partition was scaled away: it leaves the run (its runtime pod goes, with its cache). */
  | { action: 'remove'; message: string };

/** Prefix of a node message while its runtime pod's queue is full (the condition reason). */
export const RUNTIME_BUSY = 'RuntimeBusy';

export function runtimeBusyMessage(podName: string, queueLimit: number | undefined): string {
  const size = queueLimit !== undefined ? `${queueLimit} pending jobs` : 'queue full';
  return `${RUNTIME_BUSY}: runtime pod ${podName} has a full job queue (${size}); submitting again with backoff`;
}

function isBusyNode(n: SampleJobNodeStatus): boolean {
  return !TERMINAL_NODE_PHASES.has(n.phase ?? '') && (n.message ?? '').startsWith(`${RUNTIME_BUSY}: `);
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

export function decideNode(c: NodeContext): NodeStep {
  const { entry, pod, track, now } = c;
  if (entry.phase && TERMINAL_NODE_PHASES.has(entry.phase)) return { action: 'done' };
  if (c.partitionRemoved) {
    return {
      action: 'remove',
      message: `partition of ${entry.pod} removed by a scale-down of the SampleSet while the run went on; its share was not done`,
    };
  }
  const attempts = entry.attempts ?? 0;
  const podName = entry.pod;
  const waitedTooLong = c.waitingSince !== undefined && now - c.waitingSince > c.podWaitTimeoutMs;
  const podUsable = !!pod && pod.ready && !!pod.podIP;

  // never submitted: submit as soon as the pod is ready
  if (attempts === 0) {
    if (podUsable) return { action: 'submit', resubmit: false };
    if (waitedTooLong) {
      return {
        action: 'fail',
        reason: 'RuntimeUnavailable',
        message: `runtime pod ${podName} was not ready for ${seconds(now - c.waitingSince!)}`,
      };
    }
    return { action: 'observe', phase: 'Waiting', message: `waiting for runtime pod ${podName} to be ready`, waiting: true };
  }

  // a submission failed in this process: retry it (same attempt) until the deadline
  if (track?.submitPending) {
    // the runtime refused it for a full queue: wait as it asked, without a deadline (it answers)
    if (track.busy && !track.submitting && podUsable && track.nextSubmitAt !== undefined && now < track.nextSubmitAt) {
      return { action: 'observe', phase: 'Pending', message: runtimeBusyMessage(podName, track.busy.queueLimit), busy: true };
    }
    if (waitedTooLong) {
      return {
        action: 'fail',
        reason: 'RuntimeUnreachable',
        message: `could not submit to runtime pod ${podName} for ${seconds(now - c.waitingSince!)}: ${track.submitError ?? 'no answer'}`,
      };
    }
    if (track.submitting)
      return { action: 'observe', phase: (entry.phase as NodePhase) || 'Pending', message: entry.message, waiting: true };
    if (track.nextSubmitAt !== undefined && now < track.nextSubmitAt) {
      return {
        action: 'observe',
        phase: (entry.phase as NodePhase) || 'Pending',
        message: `submission to ${podName} failed (${track.submitError ?? 'no answer'}); retrying`,
        waiting: true,
      };
    }
    if (podUsable) return { action: 'retry-submit' };
    return {
      action: 'observe',
      phase: (entry.phase as NodePhase) || 'Pending',
      message: `waiting for runtime pod ${podName} to be ready`,
      waiting: true,
    };
  }

  // the runtime lost the run: the pod restarted or was replaced (the runtime at its address does
  // not know the job) or it shut down (cancelled the job on its way out). A replaced pod alone is
  // not enough: under some networks the old process still answers on a reused IP for a moment.
  if (track && (track.unknown || cancelledByShutdown(track.state))) {
    if (attempts >= c.maxAttempts) {
      return {
        action: 'fail',
        reason: 'RuntimeLost',
        message: `runtime pod ${podName} lost the job ${attempts} time(s) (pod restarted or replaced); giving up after ${c.maxAttempts} attempts`,
      };
    }
    if (podUsable)
      return {
        action: 'submit',
        resubmit: true,
        message: `runtime pod ${podName} lost the job; resubmitting (attempt ${attempts + 1}/${c.maxAttempts})`,
      };
    if (waitedTooLong) {
      return {
        action: 'fail',
        reason: 'RuntimeUnavailable',
        message: `runtime pod ${podName} lost the job and was not ready again within ${seconds(c.podWaitTimeoutMs)}`,
      };
    }
    return {
      action: 'observe',
      phase: 'Pending',
      message: `runtime pod ${podName} lost the job; waiting for it to be ready again to resubmit`,
      waiting: true,
    };
  }

  // not followed in this process yet (operator restarted): follow it
  if (!track) {
    if (podUsable) return { action: 'track' };
    if (waitedTooLong) {
      return {
        action: 'fail',
        reason: 'RuntimeUnavailable',
        message: `runtime pod ${podName} was not ready for ${seconds(now - c.waitingSince!)}`,
      };
    }
    return {
      action: 'observe',
      phase: (entry.phase as NodePhase) || 'Pending',
      message: `waiting for runtime pod ${podName} to be ready`,
      waiting: true,
    };
  }

  // followed: report what the runtime says
  if (track.state) {
    const st = track.state;
    const phase = phaseOfRuntimeJob(st.status);
    if (st.status === 'cancelled') {
      return { action: 'fail', reason: 'Cancelled', message: st.message || `cancelled on runtime pod ${podName}` };
    }
    if (st.status === 'failed') {
      const message = st.message || `failed on runtime pod ${podName}`;
      return { action: 'fail', reason: UNSAFE_PATH_MESSAGE.test(message) ? 'UnsafePath' : 'JobFailed', message };
    }
    // a poll that keeps failing while the last state was not final: the runtime is unreachable
    if (track.error !== undefined && track.errorSince !== undefined && now - track.errorSince > c.podWaitTimeoutMs) {
      return {
        action: 'fail',
        reason: 'RuntimeUnreachable',
        message: `runtime pod ${podName} unreachable for ${seconds(now - track.errorSince)}: ${track.error}`,
      };
    }
    return { action: 'observe', phase, message: st.message, progress: st.progress };
  }
  if (track.error !== undefined && track.errorSince !== undefined && now - track.errorSince > c.podWaitTimeoutMs) {
    return {
      action: 'fail',
      reason: 'RuntimeUnreachable',
      message: `runtime pod ${podName} unreachable for ${seconds(now - track.errorSince)}: ${track.error}`,
    };
  }
  return {
    action: 'observe',
    phase: (entry.phase as NodePhase) || 'Pending',
    message: track.error ? `runtime pod ${podName}: ${track.error}` : entry.message,
  };
}

const SPECIAL_REASON = /^(RuntimeLost|RuntimeUnavailable|RuntimeUnreachable|Cancelled|UnsafePath): /;

/** The message a failed node records: the reason as a prefix unless it is the job's own failure. */
export function nodeFailureMessage(reason: NodeFailureReason, message: string): string {
  return reason === 'JobFailed' ? message : `${reason}: ${message}`;
}

/** The failure reason of a failed node, read back from its message. */
export function nodeFailureReason(n: SampleJobNodeStatus): NodeFailureReason {
  const m = SPECIAL_REASON.exec(n.message ?? '');
  return m ? (m[1] as NodeFailureReason) : 'JobFailed';
}

export interface JobPhaseResult {
  phase: SampleJobPhase;
  /** Condition reason. */
  reason: string;
  message: string;
}

/**
 * The job's phase from its nodes: Succeeded when all succeeded; Failed once every node is terminal
 * and one failed (so per-node results are complete); Running when any runs or has finished;
 * otherwise Pending.
 */
export function jobPhaseOf(nodes: readonly SampleJobNodeStatus[]): JobPhaseResult {
  if (nodes.length === 0) return { phase: 'Pending', reason: 'Pending', message: 'no runtime pods assigned yet' };
  const terminal = nodes.every((n) => n.phase && TERMINAL_NODE_PHASES.has(n.phase));
  const failed = nodes.filter((n) => n.phase === 'Failed');
  if (terminal) {
    const removed = nodes.filter((n) => n.phase === 'Removed').map((n) => n.pod);
    const gone = removed.length ? `; ${removed.join(', ')} left the run when the SampleSet was scaled down` : '';
    if (failed.length === 0) {
      const done = nodes.filter((n) => n.phase === 'Succeeded').map((n) => n.pod);
      return { phase: 'Succeeded', reason: 'Succeeded', message: `succeeded on ${done.join(', ') || 'no runtime pod'}${gone}` };
    }
    const reasons = failed.map(nodeFailureReason);
    // the most specific reason wins: lost runtime, then unavailable/unreachable, then cancelled, then the job's own failure
    const order: NodeFailureReason[] = ['RuntimeLost', 'RuntimeUnavailable', 'RuntimeUnreachable', 'UnsafePath', 'Cancelled', 'JobFailed'];
    const reason = order.find((r) => reasons.includes(r)) ?? reasons[0];
    return { phase: 'Failed', reason, message: failed.map((n) => `${n.pod}: ${n.message ?? 'failed'}`).join('; ') };
  }
  const running = nodes.some((n) => n.phase === 'Running' || n.phase === 'Succeeded' || n.phase === 'Failed');
  const busy = nodes.filter(isBusyNode);
  if (!running && busy.length > 0)
    return {
      phase: 'Pending',
      reason: RUNTIME_BUSY,
      message: busy.map((n) => (n.message ?? '').slice(RUNTIME_BUSY.length + 2)).join('; '),
    };
  if (running)
    return {
      phase: 'Running',
      reason: 'Running',
      message: `running on ${
        nodes
          .filter((n) => n.phase === 'Running')
          .map((n) => n.pod)
          .join(', ') || 'runtime pods'
      }`,
    };
  const waiting = nodes.filter((n) => n.phase === 'Waiting');
  if (waiting.length > 0 && waiting.length === nodes.length)
    return { phase: 'Pending', reason: 'WaitingForRuntime', message: waiting.map((n) => n.message ?? n.pod).join('; ') };
  return { phase: 'Pending', reason: 'Pending', message: 'submitted, waiting for the runtime to start it' };
}
