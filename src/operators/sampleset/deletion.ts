/**
 * The deletion of a SampleSet (it has a deletionTimestamp and still our finalizer). While pods
 * other than its runtime mount its claim it waits, touching nothing: condition Terminating=True
 * with reason InUse naming them, and a Warning Event saying how to force it (in-use.ts decides).
 * Pod changes wake it (the operator maps a pod's claims to the SampleSets being deleted). Then, or
 * at once when forced, it removes the node labels, the runtime StatefulSet, Service, token Secret,
 * PVC and PV (the volume's data stays where the engine keeps it: engines build their PV with
 * reclaim policy Retain), then the finalizer. It talks to no runtime pod, so an unreachable runtime
 * cannot block it; missing children are fine. Each pass decides from the caches alone.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { CachedClaim, CachedVolume } from '../../kube/cached-objects.js';
import type { CachedPod, CachedStatefulSet } from '../../kube/cached-objects.js';
import { POD, PV, PVC, SAMPLESET_FINALIZER, SECRET, SERVICE, STATEFULSET, type ResourceType } from '../../api/constants.js';
import { engineNameOf, type SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import type { Clock } from '../../kube/clock.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { isControlledBy } from '../../kube/owner-reference.js';
import type { ReconcileResult } from '../../kube/reconciling-operator.js';
import { runtimePodsOf } from '../shared/runtime-pods.js';
import { FORCE_DELETE_ANNOTATION, decideDeletion, describeUsers, inUseMessage } from './in-use.js';
import type { NodeLabelSync } from './node-label-sync.js';
import { PV_OWNER_ANNOTATION } from './runtime-objects.js';
import { CONDITION, StatusDraft } from './status-draft.js';

export interface DeletionDeps {
  api: Pick<KubeApi, 'delete'>;
  engines: EngineRegistry;
  /** Cached objects of a kind in a namespace (undefined: cluster-scoped or all). */
  cached<T extends KubernetesObject>(type: ResourceType, namespace?: string): T[];
  nodeLabels: Pick<NodeLabelSync, 'clear'>;
  event(ss: SampleSet, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
  writeStatus(ss: SampleSet, draft: StatusDraft): Promise<boolean>;
  removeFinalizer(ss: SampleSet): Promise<void>;
  clock: Clock;
  /** While waiting, look again after this long even without a pod event (a backstop; default 60 s). */
  recheckMs?: number;
}

/** Reason of the Terminating condition and the Warning Event while pods mount the claim. */
export const IN_USE_REASON = 'InUse';
/** Reason of the Warning Event when the force-delete annotation overrode pods still using the claim. */
export const FORCE_DELETED_REASON = 'ForceDeleted';

export class SampleSetDeletion {
  constructor(private readonly deps: DeletionDeps) {}

  async step(ss: SampleSet): Promise<ReconcileResult> {
    if (!(ss.metadata.finalizers ?? []).includes(SAMPLESET_FINALIZER)) return;
    const ns = ss.metadata.namespace!;
    const engine = this.engineOf(ss);
    const claimNames = this.claimNamesOf(ss, engine);
    const decision = decideDeletion({
      namespace: ns,
      claimNames,
      pods: this.deps.cached<CachedPod>(POD, ns),
      runtimePods: this.runtimePodNamesOf(ss, engine),
      annotations: ss.metadata.annotations,
    });

    if (decision.action === 'wait') {
      const message = inUseMessage(decision.users, claimNames);
      const status = new StatusDraft(ss, this.deps.clock);
      status.condition(CONDITION.terminating, 'True', IN_USE_REASON, message);
      // a new or changed list of users: say so once (the recorder also drops repeats)
      if (await this.deps.writeStatus(ss, status)) await this.deps.event(ss, 'Warning', IN_USE_REASON, message);
      return { requeueAfterMs: this.deps.recheckMs ?? 60_000 };
    }

    if (decision.forced) {
      await this.deps.event(
        ss,
        'Warning',
        FORCE_DELETED_REASON,
        `deleted on ${FORCE_DELETE_ANNOTATION}=true while ${decision.users.length} pod(s) still mounted its claim: ` +
          `${describeUsers(decision.users)}; they keep running without the cache nodes`,
      );
    }
    await this.tearDown(ss);
    await this.deps.removeFinalizer(ss);
    await this.deps.event(
      ss,
      'Normal',
      'Deleted',
      'removed the node labels, runtime, volume claim and PersistentVolume (the data in the volume is kept)',
    );
  }

  private async tearDown(ss: SampleSet): Promise<void> {
    const ns = ss.metadata.namespace!;
    await this.deps.nodeLabels.clear(ss);
    for (const type of [STATEFULSET, SERVICE, SECRET, PVC]) {
      for (const o of this.owned(ss, type)) {
        await this.deps.api.delete(type, o.metadata!.name!, ns, { uid: o.metadata!.uid });
      }
    }
    const owner = `${ns}/${ss.metadata.name}`;
    for (const pv of this.deps.cached<CachedVolume>(PV).filter((o) => o.metadata?.annotations?.[PV_OWNER_ANNOTATION] === owner)) {
      await this.deps.api.delete(PV, pv.metadata!.name!, undefined, { uid: pv.metadata!.uid });
    }
  }

  private owned<T extends KubernetesObject>(ss: SampleSet, type: ResourceType): T[] {
    return this.deps.cached<T>(type, ss.metadata.namespace).filter((o) => isControlledBy(o, ss));
  }

  private engineOf(ss: SampleSet): CacheEngine | undefined {
    try {
      return this.deps.engines.get(engineNameOf(ss));
    } catch {
      return undefined; // an unknown engine made nothing; the owned objects below still name the claim
    }
  }

  /** The engine's claim name, and the claims the SampleSet controls (in case the engine is unknown). */
  private claimNamesOf(ss: SampleSet, engine: CacheEngine | undefined): string[] {
    const names = new Set(this.owned<CachedClaim>(ss, PVC).map((c) => c.metadata!.name!));
    if (engine) names.add(engine.persistentVolumeClaimName(ss));
    return [...names].sort();
  }

  private runtimePodNamesOf(ss: SampleSet, engine: CacheEngine | undefined): Set<string> {
    const stsNames = new Set(this.owned<CachedStatefulSet>(ss, STATEFULSET).map((s) => s.metadata!.name!));
    if (engine) stsNames.add(engine.statefulSetName(ss));
    const pods = this.deps.cached<CachedPod>(POD, ss.metadata.namespace);
    return new Set([...stsNames].flatMap((sts) => runtimePodsOf(pods, ss.metadata.name!, sts).map((p) => p.name)));
  }
}
