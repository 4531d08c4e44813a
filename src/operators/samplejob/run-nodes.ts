/**
 * The nodes of a one-shot SampleJob run (one per runtime pod it uses), as pure functions: which
 * pods a new run uses, what to do on each (decideNodes), how the decisions change their status
 * entries, and when to look at the run again without an event.
 */
import type { SampleJobNodeStatus } from '../../api/samplejob.js';
import type { JobProgressReport } from '../../api/runtime-protocol.js';
import type { RuntimePod } from '../shared/runtime-pods.js';
import type { NodeProgress } from './progress.js';
import {
  decideNode,
  nodeFailureMessage,
  RUNTIME_BUSY,
  TERMINAL_NODE_PHASES,
  type NodeStep,
  type PodView,
  type TrackView,
} from './run-state.js';
import type { Announcement } from './run-status.js';

/** The nodes of a new run: every partition (warmup, clear), or one pod, ordinal 0 when ready (sync, rmr). */
export function initialNodes(
  fanOut: 'one' | 'all',
  partitions: number,
  statefulSetName: string,
  pods: RuntimePod[],
): SampleJobNodeStatus[] {
  if (fanOut === 'all')
    return Array.from({ length: Math.max(1, partitions) }, (_, i) => ({ pod: `${statefulSetName}-${i}`, phase: 'Waiting', attempts: 0 }));
  const pod = (pods.find((p) => p.ready && p.ordinal === 0) ?? pods.find((p) => p.ready))?.name ?? `${statefulSetName}-0`;
  return [{ pod, phase: 'Waiting', attempts: 0 }];
}

export interface AppliedSteps {
  /** Phase and progress per pod, for the run's summed progress. */
  progressOf: Map<string, NodeProgress>;
  /** Events the decisions announce (a resubmission, a runtime whose queue is full). */
  events: Announcement[];
}

/** Applies a pass's decisions to the node entries (in place). `trackedProgress`: what the runtime job watcher last heard of a pod's run. */
export function applySteps(
  nodes: SampleJobNodeStatus[],
  steps: NodeStep[],
  podsByName: Map<string, RuntimePod>,
  trackedProgress: (pod: string) => JobProgressReport | undefined,
): AppliedSteps {
  const progressOf = new Map<string, NodeProgress>();
  const events: Announcement[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    const s = steps[i];
    const pod = podsByName.get(n.pod);
    if (pod?.nodeName && !TERMINAL_NODE_PHASES.has(n.phase ?? '')) n.node = pod.nodeName;
    switch (s.action) {
      case 'submit':
        n.attempts = (n.attempts ?? 0) + 1;
        n.phase = 'Pending';
        n.message = s.message ?? `submitted to ${n.pod}`;
        if (s.resubmit) events.push({ type: 'Warning', reason: 'Resubmitted', message: s.message ?? `resubmitted to ${n.pod}` });
        break;
      case 'fail':
        n.phase = 'Failed';
        n.message = nodeFailureMessage(s.reason, s.message);
        break;
      case 'remove':
        n.phase = 'Removed';
        n.message = s.message;
        events.push({ type: 'Normal', reason: 'PartitionRemoved', message: s.message });
        break;
      case 'observe':
        // entering "runtime busy": tell the user once (the condition says it as long as it lasts)
        if (s.busy && !(n.message ?? '').startsWith(`${RUNTIME_BUSY}: `))
          events.push({ type: 'Warning', reason: RUNTIME_BUSY, message: (s.message ?? '').slice(RUNTIME_BUSY.length + 2) });
        n.phase = s.phase;
        if (s.message !== undefined) n.message = s.message;
        else delete n.message;
        break;
      default:
        break;
    }
    progressOf.set(n.pod, { phase: n.phase, progress: s.action === 'observe' ? s.progress : trackedProgress(n.pod) });
  }
  return { progressOf, events };
}

export interface NextLookInput {
  nodes: SampleJobNodeStatus[];
  now: number;
  /** The safety re-check of a running job. */
  resyncMs: number;
  /** A progress write held back by the throttle is due after this long. */
  throttledMs?: number;
  podWaitTimeoutMs: number;
  /** The runtime token is not known yet. */
  noToken: boolean;
  waitingSince(pod: string): number | undefined;
  tracked(pod: string): Pick<TrackView, 'submitPending' | 'submitting' | 'nextSubmitAt' | 'errorSince'> | undefined;
}

/** When to look again without an event: submission retries, pod wait deadlines, a throttled write, a safety resync. */
export function nextLookMs(i: NextLookInput): number {
  const candidates: number[] = [i.resyncMs];
  if (i.throttledMs !== undefined) candidates.push(i.throttledMs);
  for (const n of i.nodes) {
    const since = i.waitingSince(n.pod);
    if (since !== undefined) candidates.push(Math.max(100, since + i.podWaitTimeoutMs - i.now + 100));
    const t = i.tracked(n.pod);
    if (t?.submitPending && !t.submitting && t.nextSubmitAt !== undefined) candidates.push(Math.max(10, t.nextSubmitAt - i.now));
    if (t?.errorSince !== undefined) candidates.push(Math.max(100, t.errorSince + i.podWaitTimeoutMs - i.now + 100));
  }
  if (i.noToken) candidates.push(2000);
  return Math.min(...candidates);
}

export interface DecideInput {
  jobId: string;
  nodes: SampleJobNodeStatus[];
  podsByName: Map<string, RuntimePod>;
  /** Without a token no pod counts as ready (nothing can be sent). */
  hasToken: boolean;
  now: number;
  maxAttempts: number;
  podWaitTimeoutMs: number;
  tracked(pod: string): TrackView | undefined;
  /** When each node started waiting, keyed `<jobId>/<pod>`: updated here (a node that stops waiting is dropped). */
  waitingSince: Map<string, number>;
  /** A run on every partition: nodes from this index on belong to partitions scaled away. */
  partitions?: number;
}

function podView(p: RuntimePod | undefined): PodView | undefined {
  return p ? { name: p.name, uid: p.uid, ready: p.ready, podIP: p.podIP, nodeName: p.nodeName } : undefined;
}

/** Decides every node of the run (see decideNode) and keeps the waiting times. */
export function decideNodes(i: DecideInput): NodeStep[] {
  return i.nodes.map((entry, index) => {
    const pod = i.podsByName.get(entry.pod);
    const wk = `${i.jobId}/${entry.pod}`;
    const step = decideNode({
      entry,
      partitionRemoved: i.partitions !== undefined && index >= i.partitions,
      pod: i.hasToken ? podView(pod) : podView(pod && { ...pod, ready: false }),
      track: i.tracked(entry.pod),
      waitingSince: i.waitingSince.get(wk),
      now: i.now,
      maxAttempts: i.maxAttempts,
      podWaitTimeoutMs: i.podWaitTimeoutMs,
    });
    const waiting = (step.action === 'observe' && step.waiting) || step.action === 'retry-submit';
    if (waiting) {
      if (!i.waitingSince.has(wk)) i.waitingSince.set(wk, i.now);
    } else if (step.action !== 'fail') {
      i.waitingSince.delete(wk);
    }
    return step;
  });
}

/**
 * sync/rmr run on one pod: the ready pod (ordinal 0 first) to move an unfinished run to when its
 * pod is not usable and the run never reached it or was lost there (`lostThere`); undefined to stay.
 */
export function replacementPod(entry: SampleJobNodeStatus, pods: readonly RuntimePod[], lostThere: boolean): RuntimePod | undefined {
  if (TERMINAL_NODE_PHASES.has(entry.phase ?? '')) return undefined;
  const cur = pods.find((p) => p.name === entry.pod);
  if (cur?.ready && cur.podIP) return undefined;
  const lost = (entry.attempts ?? 0) === 0 || !cur || lostThere;
  if (!lost) return undefined;
  const alt = pods.find((p) => p.ready && p.podIP && p.ordinal === 0) ?? pods.find((p) => p.ready && p.podIP);
  return alt && alt.name !== entry.pod ? alt : undefined;
}
