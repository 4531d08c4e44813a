/** The SampleSet phase machine and its Ready condition, as pure functions of what was observed. */
import type { SampleSetPhase } from '../../api/sampleset.js';
import type { SyncPhase } from './sync.js';

export interface PhaseInputs {
  /** The PVC is bound to the SampleSet's PV. */
  volumeBound: boolean;
  partitions: number;
  /** Runtime pods with ordinal < partitions that are ready. */
  readyPartitions: number;
  /** The ready partition pods run on pairwise distinct nodes. */
  distinctNodes: boolean;
  /** The StatefulSet asks for exactly `partitions` replicas. */
  replicasMatch: boolean;
  sync: SyncPhase;
  /** Partitions whose node is lost (node-loss.ts); their pods are not counted in readyPartitions. */
  lostPartitions?: number;
}

export function syncDone(sync: SyncPhase): boolean {
  return sync === 'Succeeded' || sync === 'Skipped';
}

/** All partitions served by ready runtime pods on distinct nodes, and the data is in place. */
export function isReady(i: PhaseInputs): boolean {
  return i.volumeBound && syncDone(i.sync) && i.replicasMatch && i.partitions > 0 && i.readyPartitions >= i.partitions && i.distinctNodes;
}

/**
 * `""` volume not bound yet → `Bound` volume bound, no runtime pod ready → `Mount` a runtime pod is
 * ready, the sync not submitted yet → `Syncing` → `PartialReady` data in place, not every partition
 * ready → `Ready`; `SyncFailed` when the initial sync failed (until the spec changes).
 * Computed from the world on every pass, so it moves back as well (Ready → PartialReady on a rescale
 * or a lost pod).
 */
export function nextPhase(i: PhaseInputs): SampleSetPhase {
  if (!i.volumeBound) return '';
  if (i.sync === 'Failed') return 'SyncFailed';
  if (i.sync === 'Pending' || i.sync === 'Running') return 'Syncing';
  if (i.readyPartitions === 0) return 'Bound';
  if (i.sync === 'NotStarted') return 'Mount';
  return isReady(i) ? 'Ready' : 'PartialReady';
}

/**
 * The phase of a pass that stopped at a spec error or a blocked state (Ready=False): the usable
 * phases (`Ready`, `PartialReady`, which SampleJobs and PaddleJobs admit by) fall back to `""`, so
 * phase and Ready condition never disagree; the others already say "not ready" and stay.
 */
export function phaseWhenStopped(prev: SampleSetPhase | undefined): SampleSetPhase {
  return prev === 'Ready' || prev === 'PartialReady' ? '' : (prev ?? '');
}

export interface ConditionVerdict {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface ReadyDetails {
  /** e.g. `PersistentVolumeClaim ns/x is Pending`. */
  volume?: string;
  /** Sync progress or failure message. */
  sync?: string;
  /** Why partitions are not ready, e.g. `x-runtime-1: not scheduled: 0/3 nodes are available`. */
  pods?: string[];
}

/** The `Ready` condition for a pass that got past validation and object creation. */
export function readyCondition(i: PhaseInputs, d: ReadyDetails = {}): ConditionVerdict {
  const podsMsg = d.pods && d.pods.length > 0 ? `: ${d.pods.join('; ')}` : '';
  if (!i.volumeBound)
    return { status: 'False', reason: 'VolumeNotBound', message: d.volume || 'waiting for the PersistentVolumeClaim to bind' };
  if (i.sync === 'Failed')
    return {
      status: 'False',
      reason: 'SyncFailed',
      message: `the initial sync failed: ${d.sync || 'no message'}; fix spec.source or its Secret to retry`,
    };
  if (i.sync === 'Pending' || i.sync === 'Running')
    return { status: 'False', reason: 'Syncing', message: `syncing the data into the volume${d.sync ? `: ${d.sync}` : ''}` };
  if (i.readyPartitions === 0)
    return { status: 'False', reason: 'RuntimeNotReady', message: `no runtime pod is ready (0/${i.partitions})${podsMsg}` };
  if (i.sync === 'NotStarted')
    return { status: 'False', reason: 'SyncPending', message: `waiting to start the initial sync${d.sync ? `: ${d.sync}` : ''}` };
  if (!i.replicasMatch || i.readyPartitions < i.partitions)
    return {
      status: 'False',
      reason: i.lostPartitions ? 'NodeLost' : 'PartitionsNotReady',
      message: `${Math.min(i.readyPartitions, i.partitions)}/${i.partitions} runtime pods ready${podsMsg}`,
    };
  if (!i.distinctNodes)
    return { status: 'False', reason: 'PartitionsShareNode', message: `two runtime pods run on the same node${podsMsg}` };
  return { status: 'True', reason: 'Ready', message: `${i.partitions}/${i.partitions} cache nodes ready` };
}
