/**
 * Part of phase 4 of a SampleSet pass: partitions on lost nodes (node-loss.ts). Reports each loss
 * once (a Warning Event `NodeLost`, when status does not show it yet) and, when the SampleSet's
 * `spec.nodeLossPolicy.replaceAfterSeconds` allows it and the time has come, force-deletes the
 * runtime pod (grace period 0, guarded by its UID) so the StatefulSet controller recreates it and
 * the scheduler places it on another node (Event `PartitionReplaced`). Returns when to look again.
 */
import { POD } from '../../api/constants.js';
import type { CachedNode } from '../../kube/cached-objects.js';
import type { SampleSet } from '../../api/sampleset.js';
import { isConflict } from '../../kube/api-error.js';
import type { Clock } from '../../kube/clock.js';
import type { KubeApi } from '../../kube/kube-api.js';
import type { RuntimePod } from '../shared/runtime-pods.js';
import { findLostPartitions, policyText, replacementPlan, type LostPartition } from './node-loss.js';

export interface NodeLossDeps {
  api: Pick<KubeApi, 'delete'>;
  /** The Node from the informer cache (undefined: it does not exist). */
  node(name: string): CachedNode | undefined;
  event(ss: SampleSet, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
  clock: Clock;
}

export class NodeLossPhase {
  constructor(private readonly deps: NodeLossDeps) {}

  async step(ss: SampleSet, partitionPods: readonly RuntimePod[]): Promise<{ lost: LostPartition[]; requeueAfterMs?: number }> {
    const now = this.deps.clock.now();
    const policy = ss.spec.nodeLossPolicy;
    const lost = findLostPartitions(partitionPods, (n) => this.deps.node(n), ss.status?.nodes, now);
    for (const l of lost.filter((x) => x.firstSeen)) {
      await this.deps.event(
        ss,
        'Warning',
        'NodeLost',
        `partition ${l.partition} (runtime pod ${l.pod}) is on a lost node: ${l.detail}; ${policyText(policy)}`,
      );
    }
    const plan = replacementPlan(lost, policy, now);
    for (const l of plan.due) {
      let deleted: boolean;
      try {
        deleted = await this.deps.api.delete(POD, l.pod, ss.metadata.namespace, { uid: l.uid, gracePeriodSeconds: 0 });
      } catch (e) {
        if (!isConflict(e)) throw e;
        deleted = false; // already replaced: another pod of that name
      }
      if (deleted) {
        await this.deps.event(
          ss,
          'Normal',
          'PartitionReplaced',
          `deleted runtime pod ${l.pod} of partition ${l.partition} on lost node ${l.node} (${l.detail}, lost since ${l.since}); ` +
            'the StatefulSet controller recreates it on another node',
        );
      }
    }
    return plan.nextInMs === undefined ? { lost } : { lost, requeueAfterMs: plan.nextInMs };
  }
}
