/**
 * Phases 4 and 8 of a SampleSet pass, pure: what the runtime pods show (observe), and the status
 * that follows from it — phase, the VolumeBound, RuntimeReady, CacheNodesAvailable and Ready
 * conditions, runtime and node entries (describe). A pod on a lost node (node-loss.ts) never
 * counts as ready, whatever its own status says: nothing updates a pod whose node stopped reporting.
 */
import type { CachedClaim, CachedVolume } from '../../kube/cached-objects.js';
import type { Condition } from '../../api/conditions.js';
import type {
  CacheNodeRewarm,
  CacheNodeStatus,
  CacheReadFigures,
  NodeLossPolicy,
  SampleSetPhase,
  SyncJobStatus,
} from '../../api/sampleset.js';
import type { RuntimePod } from '../shared/runtime-pods.js';
import { markLost, nodesAvailableCondition, type LostPartition } from './node-loss.js';
import { nextPhase, readyCondition, type ConditionVerdict, type PhaseInputs } from './phase.js';
import { CONDITION, type StatusDraft } from './status-draft.js';

/** What the runtime pods of a SampleSet show. */
export interface RuntimeObservation {
  /** Pods holding a partition (ordinal < partitions). */
  partitionPods: RuntimePod[];
  /** The ready ones (none on a lost node). */
  ready: RuntimePod[];
  /** The ready partition pods run on pairwise distinct nodes. */
  distinctNodes: boolean;
}

export function observeRuntime(pods: RuntimePod[], partitions: number, lostPods: ReadonlySet<string> = new Set()): RuntimeObservation {
  const partitionPods = pods.filter((p) => p.ordinal < partitions);
  const ready = partitionPods.filter((p) => p.ready && !lostPods.has(p.name));
  const readyNodes = new Set(ready.map((p) => p.nodeName).filter(Boolean));
  return { partitionPods, ready, distinctNodes: readyNodes.size === ready.length };
}

/** Why a partition pod is not ready, in a few words. */
export function podProblem(name: string, p: RuntimePod | undefined): string {
  if (!p) return `${name}: not created yet`;
  if (p.pod.metadata?.deletionTimestamp) return `${name}: terminating`;
  if (!p.nodeName) {
    const c = p.pod.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
    return c?.message ? `${name}: not scheduled: ${c.message}` : `${name}: not scheduled yet`;
  }
  for (const cs of p.pod.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting;
    if (w?.reason) return `${name}: ${w.reason}${w.message ? `: ${w.message}` : ''}`;
  }
  return `${name}: ${p.pod.status?.phase ?? 'Pending'}, not ready`;
}

export interface DescribeInput {
  partitions: number;
  statefulSetName: string;
  pv: CachedVolume;
  pvc: CachedClaim;
  observed: RuntimeObservation;
  inputs: PhaseInputs;
  /** Each runtime pod's latest read figures (undefined: none collected yet in this process). */
  podReads?: Record<string, CacheReadFigures>;
  /** Why a scale-down waits (scale-down-guard.ts), if it does. */
  scaleDownHeld?: string;
  /** Partitions on a lost node, and the SampleSet's policy for them. */
  lost?: readonly LostPartition[];
  nodeLossPolicy?: NodeLossPolicy;
  /** Each partition's re-warm record (partition-rewarm.ts); undefined: keep what status shows. */
  rewarms?: ReadonlyMap<number, CacheNodeRewarm>;
}

function readFiguresOf(n: CacheNodeStatus | undefined): CacheReadFigures {
  if (!n) return {};
  const { cacheHitRatio, cacheHits, cacheMisses, bytesFromCache, bytesFromStore } = n;
  return JSON.parse(JSON.stringify({ cacheHitRatio, cacheHits, cacheMisses, bytesFromCache, bytesFromStore })) as CacheReadFigures;
}

/** Writes phase, runtime, nodes and the three conditions into `status`; returns the phase and the Ready verdict. */
export function describeRuntime(
  status: StatusDraft,
  { partitions, statefulSetName, pv, pvc, observed, inputs, podReads, scaleDownHeld, lost = [], nodeLossPolicy, rewarms }: DescribeInput,
): { phase: SampleSetPhase; verdict: ConditionVerdict } {
  const ns = pvc.metadata?.namespace;
  const pvName = pv.metadata!.name!;
  const { ready, distinctNodes } = observed;
  const podNames = Array.from({ length: partitions }, (_, i) => `${statefulSetName}-${i}`);
  const byOrdinal = new Map(observed.partitionPods.map((p) => [p.ordinal, p]));
  const lostOf = new Map(lost.map((l) => [l.partition, l]));
  const problems = podNames
    .map((n, i) => {
      const l = lostOf.get(i);
      if (l) return `${n}: node lost: ${l.detail}`;
      return byOrdinal.get(i)?.ready ? undefined : podProblem(n, byOrdinal.get(i));
    })
    .filter((x): x is string => !!x);
  // Read figures: the latest collection's, else what status showed (a restarted operator keeps them).
  const shown = new Map((status.get<CacheNodeStatus[]>('nodes') ?? []).map((n) => [n.pod, n]));
  const nodes: CacheNodeStatus[] = podNames.map((pod, i) => {
    const p = byOrdinal.get(i);
    const entry: CacheNodeStatus = { partition: i, pod, ready: !!p?.ready };
    if (p?.nodeName) entry.node = p.nodeName;
    if (!p?.ready) entry.message = podProblem(pod, p).slice(pod.length + 2);
    const rewarm = rewarms ? rewarms.get(i) : shown.get(pod)?.rewarm;
    if (rewarm) entry.rewarm = rewarm;
    const withReads = { ...entry, ...(podReads ? podReads[pod] : readFiguresOf(shown.get(pod))) };
    const l = lostOf.get(i);
    return l ? markLost(withReads, l) : withReads;
  });
  const phase = nextPhase(inputs);
  status.set('phase', phase);
  status.set('runtimeStatus', { specReplicas: partitions, readyReplicas: ready.length, runtimeReady: `${ready.length}/${partitions}` });
  status.set('nodes', nodes);
  const volumeBound = inputs.volumeBound;
  status.condition(
    CONDITION.volumeBound,
    volumeBound ? 'True' : 'False',
    volumeBound ? 'Bound' : 'Pending',
    volumeBound
      ? `PersistentVolumeClaim ${pvc.metadata!.name} is bound to PersistentVolume ${pvName}`
      : `PersistentVolumeClaim ${ns}/${pvc.metadata!.name} is ${pvc.status?.phase ?? 'Pending'} (PersistentVolume ${pvName} is ${pv.status?.phase ?? 'Pending'})`,
  );
  const allPodsReady = inputs.replicasMatch && ready.length >= partitions && distinctNodes;
  const available = nodesAvailableCondition(lost, nodeLossPolicy);
  status.condition(CONDITION.nodesAvailable, available.status, available.reason, available.message);
  status.condition(
    CONDITION.runtimeReady,
    allPodsReady ? 'True' : 'False',
    allPodsReady ? 'AllReplicasReady' : lost.length ? 'NodeLost' : !distinctNodes ? 'PartitionsShareNode' : 'ReplicasNotReady',
    allPodsReady
      ? `${partitions}/${partitions} runtime pods ready on distinct nodes`
      : `${ready.length}/${partitions} runtime pods ready${problems.length ? `: ${problems.join('; ')}` : ''}`,
  );
  status.condition(
    CONDITION.partitionsScaled,
    scaleDownHeld ? 'False' : 'True',
    scaleDownHeld ? 'ScaleDownWaiting' : 'Scaled',
    scaleDownHeld ?? `the runtime runs ${partitions} partition(s), as spec.partitions asks`,
  );
  if (lost.length > 0) {
    const left = lost.map((l) => `${l.pod} on lost node ${l.node}`).join(', ');
    status.condition(CONDITION.cacheStats, 'False', 'NodeLost', `the cache figures leave out ${left}: its cache is not reachable`);
  }
  const verdict = readyCondition(inputs, {
    volume: status.get<Condition[]>('conditions')?.find((c) => c.type === CONDITION.volumeBound)?.message,
    sync: status.get<SyncJobStatus>('syncJob')?.message,
    pods: problems,
  });
  status.condition(CONDITION.ready, verdict.status, verdict.reason, verdict.message);
  return { phase, verdict };
}
