/**
 * SampleSetOperator: realises a SampleSet through its cache engine (PV/PVC, runtime token Secret,
 * headless Service, runtime StatefulSet), runs the initial sync, labels the cache nodes, and keeps
 * `status` (phase, conditions, runtime, cache statistics, nodes) true to the world.
 *
 * Every pass reads the caches, moves the world one step toward the spec and writes status only when
 * it changed. Waiting is a requeue or an event; nothing here sleeps. The sync is followed by a
 * background long-poll (SyncTracker) that re-queues the SampleSet when the job changes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type {
  KubernetesObject,
  V1Node,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import {
  CREATED_BY_LABEL,
  CREATED_BY_VALUE,
  LABEL_DOMAIN,
  NODE,
  POD,
  PV,
  PVC,
  SAMPLESET,
  SAMPLESET_FINALIZER,
  SAMPLESET_LABEL,
  SECRET,
  SERVICE,
  STATEFULSET,
  cacheNodeLabelKey,
  type ResourceType,
} from '../../api/constants.js';
import type { Condition } from '../../api/conditions.js';
import { engineNameOf, type CacheNodeStatus, type SampleSet, type SyncJobStatus } from '../../api/sampleset.js';
import { SpecError } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { isForbidden, isNotFound } from '../../kube/api-error.js';
import { createOrFindOwned } from '../../kube/create-if-absent.js';
import { controller, owns, watches, type ObjectKey } from '../../kube/decorators.js';
import { isControlledBy, controllerOf, ownerReference } from '../../kube/owner-reference.js';
import { ReconcilingOperator, keyString, type OperatorContext, type ReconcileResult } from '../../kube/reconciling-operator.js';
import type { NodeCacheStats, RuntimeJobRequest, RuntimeJobState } from '../../runtime/protocol.js';
import { CacheStatsPlanner } from './cache-stats-planner.js';
import { InitialSync } from './initial-sync.js';
import { CONDITION, StatusDraft } from './status-draft.js';
import type { CacheStatsNotifier } from '../shared/cache-stats-notifier.js';
import { readRuntimeToken, RUNTIME_TOKEN_KEY, runtimePodsOf, type RuntimePod } from '../shared/runtime-pods.js';
import { desiredNodeLabels, diffNodeLabels } from './node-labels.js';
import { checkSecretNamespaces, ownSecretKey } from '../shared/secret-refs.js';
import { nextPhase, readyCondition, type PhaseInputs } from './phase.js';
import { StatsCollector } from './stats-collector.js';
import { SyncTracker } from './sync-tracker.js';

/** The calls this operator makes on runtime pods (implemented by RuntimeClient). */
export interface SampleSetRuntimeClient {
  submit(baseUrl: string, token: string, req: RuntimeJobRequest): Promise<RuntimeJobState | unknown>;
  get(baseUrl: string, token: string, id: string, waitSeconds?: number): Promise<RuntimeJobState | undefined>;
  cancel(baseUrl: string, token: string, id: string): Promise<unknown>;
  cacheStats(baseUrl: string, token: string): Promise<NodeCacheStats>;
  /** True when the server answers (no retries; never throws). */
  healthz(baseUrl: string): Promise<boolean>;
}

export interface SampleSetOperatorOptions {
  /** Image of the runtime pods (the operator's own image). */
  runtimeImage: string;
  /** Cache statistics refresh while the data is not fully cached (default 30 s). */
  statsIntervalMs?: number;
  /** Refreshes that find nothing changed back off up to this (default 10 min). */
  maxStatsIntervalMs?: number;
  /** Timeout of one pod's statistics request, made in the background (default 60 s). */
  statsTimeoutMs?: number;
  /** First retry of a pod that did not answer statistics (default 5 s, doubling up to statsIntervalMs). */
  statsRetryMs?: number;
  /** Long-poll wait of the sync tracker (default 10 s). */
  syncWaitSeconds?: number;
  /** Spacing of progress updates written to status while syncing (default 2 s). */
  syncProgressIntervalMs?: number;
  /** Look again at an object conflict after this long (default 30 s). */
  conflictRetryMs?: number;
  /** Retry when a runtime pod does not accept the sync: every 0.5 s (default) for 20 tries, then doubling up to 30 s. */
  submitRetryMs?: number;
}

/** Annotation on the (cluster-scoped, owner-less) PV naming its SampleSet as `<namespace>/<name>`. */
export const PV_OWNER_ANNOTATION = `${LABEL_DOMAIN}/sampleset-owner`;

/**
 * Pod-template annotation with a hash of the runtime token: a new token (the token Secret was
 * deleted and re-created) changes the template, so the StatefulSet restarts the runtime pods with it.
 */
export const TOKEN_HASH_ANNOTATION = `${LABEL_DOMAIN}/runtime-token-hash`;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** On our PVC: when we last nudged the PV binder (see converge). */
export const BIND_NUDGE_ANNOTATION = `${LABEL_DOMAIN}/bind-nudged-at`;
const BIND_NUDGE_MS = 2_000;

export { CONDITION } from './status-draft.js';

interface EnsureResult<T> {
  object?: T;
  conflict?: string;
  /** Created by this call (not yet in our cache). */
  created?: boolean;
}

class Blocked extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly requeueAfterMs?: number,
  ) {
    super(message);
  }
}

/** The Secret a reference names: always in the SampleSet's own namespace (see secret-refs.ts). */
function secretKeyOf(ss: SampleSet, ref: { name: string; namespace?: string } | undefined): { namespace: string; name: string } | undefined {
  return ownSecretKey(ss.metadata.namespace || 'default', ref);
}

/** Why a partition pod is not ready, in a few words. */
function podProblem(name: string, p: RuntimePod | undefined): string {
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

@controller({ resource: SAMPLESET, name: 'sampleset' })
@owns(STATEFULSET, { labelSelector: SAMPLESET_LABEL })
@owns(SERVICE, { labelSelector: SAMPLESET_LABEL })
@owns(PVC, { labelSelector: SAMPLESET_LABEL })
@watches(SECRET, (o, op: SampleSetOperator) => op.sampleSetsOfSecret(o))
@watches(POD, (o) => SampleSetOperator.sampleSetOfLabelled(o), { labelSelector: SAMPLESET_LABEL })
@watches(NODE, (o, op: SampleSetOperator) => op.sampleSetsOfNode(o))
@watches(PV, (o, op: SampleSetOperator) => op.sampleSetsOfPv(o), { labelSelector: SAMPLESET_LABEL })
export class SampleSetOperator extends ReconcilingOperator<SampleSet> {
  private readonly opts: Required<SampleSetOperatorOptions>;
  private readonly tracker: SyncTracker;
  private readonly stats: CacheStatsPlanner;
  private readonly initialSync: InitialSync;
  private readonly unsubscribe: () => void;

  constructor(
    ctx: OperatorContext,
    private readonly engines: EngineRegistry,
    private readonly runtime: SampleSetRuntimeClient,
    options: SampleSetOperatorOptions,
    notifier: CacheStatsNotifier,
  ) {
    super(ctx);
    this.opts = {
      runtimeImage: options.runtimeImage,
      statsIntervalMs: options.statsIntervalMs ?? 30_000,
      maxStatsIntervalMs: options.maxStatsIntervalMs ?? 600_000,
      statsTimeoutMs: options.statsTimeoutMs ?? 60_000,
      statsRetryMs: options.statsRetryMs ?? 5_000,
      syncWaitSeconds: options.syncWaitSeconds ?? 10,
      syncProgressIntervalMs: options.syncProgressIntervalMs ?? 2_000,
      conflictRetryMs: options.conflictRetryMs ?? 30_000,
      submitRetryMs: options.submitRetryMs ?? 500,
    };
    this.tracker = new SyncTracker(runtime, (key) => this.queue.add(key), {
      waitSeconds: this.opts.syncWaitSeconds,
      progressIntervalMs: this.opts.syncProgressIntervalMs,
    });
    this.stats = new CacheStatsPlanner(new StatsCollector(runtime, (key) => this.queue.add(key), this.opts.statsTimeoutMs), this.opts);
    this.initialSync = new InitialSync(runtime, this.tracker, this.opts, (ss, type, reason, message) => this.event(ss, type, reason, message), (k) => this.stats.invalidate(k));
    this.unsubscribe = notifier.subscribe(({ namespace, name }) => {
      const k = keyString({ namespace, name });
      this.stats.invalidate(k);
      this.queue.add(k);
    });
  }

  override async stop(timeoutMs?: number): Promise<void> {
    this.unsubscribe();
    await super.stop(timeoutMs);
    this.tracker.stopAll();
  }

  // ---- watch mappings -------------------------------------------------------------------------

  /** Pods, PVs… labelled with the SampleSet name (namespaced objects only). */
  static sampleSetOfLabelled(o: KubernetesObject): ObjectKey[] {
    const name = o.metadata?.labels?.[SAMPLESET_LABEL];
    return name && o.metadata?.namespace ? [{ namespace: o.metadata.namespace, name }] : [];
  }

  /** Our token Secrets (owner) and the user Secrets a SampleSet names (spec.secretRef, spec.source.secretRef). */
  sampleSetsOfSecret(o: KubernetesObject): ObjectKey[] {
    const out: ObjectKey[] = [];
    const ns = o.metadata?.namespace;
    const name = o.metadata?.name;
    const ref = controllerOf(o);
    if (ref?.kind === SAMPLESET.kind && ns) out.push({ namespace: ns, name: ref.name });
    for (const ss of this.primary.list()) {
      for (const r of [ss.spec?.secretRef, ss.spec?.source?.secretRef]) {
        const k = secretKeyOf(ss, r);
        if (k && k.name === name && k.namespace === ns) {
          out.push({ namespace: ss.metadata.namespace, name: ss.metadata.name! });
          break;
        }
      }
    }
    return out;
  }

  /** SampleSets whose cache-node label the node carries (nodes are few; labels are checked per SampleSet). */
  sampleSetsOfNode(o: KubernetesObject): ObjectKey[] {
    const labels = o.metadata?.labels ?? {};
    if (!Object.keys(labels).some((k) => k.startsWith(LABEL_DOMAIN + '/'))) return [];
    return this.primary
      .list()
      .filter((ss) => labels[this.nodeLabelKeyOf(ss)] !== undefined)
      .map((ss) => ({ namespace: ss.metadata.namespace, name: ss.metadata.name! }));
  }

  sampleSetsOfPv(o: KubernetesObject): ObjectKey[] {
    const owner = o.metadata?.annotations?.[PV_OWNER_ANNOTATION];
    if (owner?.includes('/')) {
      const [namespace, name] = owner.split('/', 2);
      return [{ namespace, name }];
    }
    const name = o.metadata?.labels?.[SAMPLESET_LABEL];
    return name ? this.primary.list(undefined, (ss) => ss.metadata.name === name).map((ss) => ({ namespace: ss.metadata.namespace, name })) : [];
  }

  private nodeLabelKeyOf(ss: SampleSet): string {
    try {
      return this.engines.get(engineNameOf(ss)).nodeLabelKey(ss);
    } catch {
      return cacheNodeLabelKey(engineNameOf(ss), ss.metadata.name!);
    }
  }

  // ---- reconcile ------------------------------------------------------------------------------

  protected async reconcile(key: ObjectKey, obj: SampleSet | undefined): Promise<ReconcileResult> {
    const k = keyString(key);
    if (!obj) {
      this.forget(k);
      return;
    }
    if (obj.metadata.deletionTimestamp) return this.finalize(k, obj);
    if (!(obj.metadata.finalizers ?? []).includes(SAMPLESET_FINALIZER)) obj = await this.addFinalizer(obj, SAMPLESET_FINALIZER);

    const status = new StatusDraft(obj);
    try {
      return await this.converge(k, obj, status);
    } catch (e) {
      if (e instanceof SpecError || e instanceof Blocked) {
        status.condition(CONDITION.ready, 'False', e.reason, e.message);
        status.set('observedGeneration', obj.metadata.generation);
        await this.writeStatus(obj, status);
        await this.event(obj, 'Warning', e.reason, e.message);
        return e instanceof Blocked && e.requeueAfterMs ? { requeueAfterMs: e.requeueAfterMs } : undefined;
      }
      // the namespace is being deleted (its objects, this SampleSet included, are going): not an error
      if (isForbidden(e) && /being terminated/.test((e as Error).message)) return { requeueAfterMs: 5_000 };
      throw e;
    }
  }

  private forget(k: string): void {
    this.initialSync.forget(k);
    this.stats.forget(k);
  }

  private secret(ref: { namespace: string; name: string } | undefined): V1Secret | undefined {
    if (!ref) return undefined;
    return this.cacheOf<V1Secret>(SECRET).get(ref.name, ref.namespace);
  }

  private async converge(k: string, ss: SampleSet, status: StatusDraft): Promise<ReconcileResult> {
    const ns = ss.metadata.namespace!;
    const name = ss.metadata.name!;
    const partitions = Math.max(1, ss.spec.partitions ?? 1);

    // 1. validate the spec and its Secrets (SpecError → Ready=False, Warning event, wait for a change);
    //    first of all, no Secret of another namespace is ever looked at
    checkSecretNamespaces(ns, [
      ['spec.secretRef', ss.spec.secretRef],
      ['spec.source.secretRef', ss.spec.source?.secretRef],
    ]);
    const engine = this.engines.get(engineNameOf(ss));
    engine.validateSpec(ss);
    const volRef = secretKeyOf(ss, ss.spec.secretRef);
    const volumeSecret = this.secret(volRef);
    if (!volRef) throw new SpecError('SecretRefMissing', 'spec.secretRef must name the JuiceFS volume Secret');
    if (!volumeSecret) throw new SpecError('SecretNotFound', `Secret ${volRef.namespace}/${volRef.name} (spec.secretRef) does not exist; create it and the SampleSet proceeds`);
    engine.validateVolumeSecret(volumeSecret, ss);
    const wantsSync = !ss.spec.noSync && !!ss.spec.source?.uri;
    let sourceSecret: V1Secret | undefined;
    if (wantsSync) {
      const srcRef = secretKeyOf(ss, ss.spec.source?.secretRef);
      if (srcRef) {
        sourceSecret = this.secret(srcRef);
        if (!sourceSecret)
          throw new SpecError('SourceSecretNotFound', `Secret ${srcRef.namespace}/${srcRef.name} (spec.source.secretRef) does not exist; create it and the SampleSet proceeds`);
      } else {
        sourceSecret = volumeSecret;
      }
      // the sync request is pure: building it now reports problems of the source with its
      // credentials (e.g. CredentialsInArguments) before any object is created
      engine.initialSyncRequest(ss, 'validate', sourceSecret);
    }

    // 2. the objects that realise it (created once, owned, never adopted)
    const tokenName = engine.tokenSecretName(ss);
    const existingToken = this.secret({ namespace: ns, name: tokenName });
    const token = (existingToken && isControlledBy(existingToken, ss) && readRuntimeToken(existingToken)) || randomBytes(32).toString('hex');
    let built = engine.buildObjects({ sampleSet: ss, volumeSecret, runtimeToken: token, runtimeImage: this.opts.runtimeImage });
    const pvName = built.persistentVolume.metadata!.name!;
    // stop at the first object that is not ours: creating the rest would not make it work
    const need = <T>(r: EnsureResult<T>): EnsureResult<T> => {
      if (r.conflict) throw new Blocked('ObjectConflict', `${r.conflict}: the operator adopts nothing it did not create; delete or rename it`, this.opts.conflictRetryMs);
      return r;
    };
    const pv = need(await this.ensurePv(ss, this.stamp(ss, built.persistentVolume, false)));
    if (pv.created) {
      // Create the claim in the next pass, once the PV shows in our watch: kube-controller-manager's
      // binder, handed a claim for a PV it has not seen yet, leaves it Pending until its periodic
      // resync (15 s). (Our PV watch event re-queues us; the requeue is a fallback.)
      status.condition(CONDITION.volumeBound, 'False', 'Pending', `created PersistentVolume ${pvName}`);
      status.set('observedGeneration', ss.metadata.generation);
      await this.writeStatus(ss, status);
      return { requeueAfterMs: 2000 };
    }
    const pvc = need(await this.ensureOwned<V1PersistentVolumeClaim>(ss, PVC, this.stamp(ss, built.persistentVolumeClaim, true)));
    const tokenSecret = need(await this.ensureOwned<V1Secret>(ss, SECRET, this.stamp(ss, built.tokenSecret, true)));
    if (tokenSecret.object && !readRuntimeToken(tokenSecret.object)) {
      await this.api.patch(SECRET, tokenName, ns, { stringData: { [RUNTIME_TOKEN_KEY]: token } });
    }
    // the token that counts is the stored one (our cache may have lagged behind a token made earlier)
    const runtimeToken = readRuntimeToken(tokenSecret.object) ?? token;
    if (runtimeToken !== token) built = engine.buildObjects({ sampleSet: ss, volumeSecret, runtimeToken, runtimeImage: this.opts.runtimeImage });
    need(await this.ensureOwned<V1Service>(ss, SERVICE, this.stamp(ss, built.service, true)));
    const sts = need(await this.ensureOwned<V1StatefulSet>(ss, STATEFULSET, this.stampStatefulSet(ss, built.statefulSet, runtimeToken)));

    // a PV left Released by an earlier SampleSet of the same name is ours: let the new claim bind it
    // (keep the pre-binding to our claim's namespace/name, drop the old claim's uid)
    const pvObj = pv.object!;
    const pvcObj = pvc.object!;
    if (pvObj.status?.phase === 'Released' && pvObj.spec?.claimRef?.uid && pvObj.spec.claimRef.uid !== pvcObj.metadata?.uid) {
      await this.api.patch(PV, pvName, undefined, { spec: { claimRef: { uid: null, resourceVersion: null } } });
    }

    // kube-controller-manager's binder can lose a race with itself (claim and volume workers both
    // update the PV; the loser logs "Could not sync claim" and waits for its 15 s resync), leaving
    // the PV bound to our claim and the claim Pending. Touching the claim makes it sync again.
    let bindRequeue: number | undefined;
    if (pvcObj.status?.phase === 'Pending' && pvObj.spec?.claimRef?.uid && pvObj.spec.claimRef.uid === pvcObj.metadata?.uid) {
      const last = Date.parse(pvcObj.metadata?.annotations?.[BIND_NUDGE_ANNOTATION] ?? '') || Date.parse(String(pvcObj.metadata?.creationTimestamp ?? '')) || 0;
      if (Date.now() - last >= BIND_NUDGE_MS) {
        await this.api.patch(PVC, pvcObj.metadata!.name!, ns, { metadata: { annotations: { [BIND_NUDGE_ANNOTATION]: new Date().toISOString() } } });
      }
      bindRequeue = BIND_NUDGE_MS;
    }

    // 3. rescale; restart the runtime with a new token
    const stsObj = sts.object!;
    const stsName = stsObj.metadata!.name!;
    const wantHash = tokenHash(runtimeToken);
    if (stsObj.spec?.template?.metadata?.annotations?.[TOKEN_HASH_ANNOTATION] !== wantHash && !stsObj.metadata?.deletionTimestamp) {
      await this.api.patch(STATEFULSET, stsName, ns, { spec: { template: { metadata: { annotations: { [TOKEN_HASH_ANNOTATION]: wantHash } } } } });
      await this.event(ss, 'Normal', 'RuntimeTokenChanged', `the runtime token changed; restarting the pods of ${stsName} with it`);
    }
    let replicasMatch = stsObj.spec?.replicas === partitions;
    if (!replicasMatch && !stsObj.metadata?.deletionTimestamp) {
      const from = stsObj.spec?.replicas ?? 0;
      await this.api.patch(STATEFULSET, stsName, ns, { spec: { replicas: partitions } });
      replicasMatch = true;
      await this.event(ss, 'Normal', 'Scaled', `runtime StatefulSet ${stsName} scaled from ${from} to ${partitions} partitions`);
    }

    // 4. observe the volume and the runtime pods
    const volumeBound = pvcObj.status?.phase === 'Bound';
    const pods = runtimePodsOf(this.cacheOf<V1Pod>(POD).list(ns), name, stsName);
    const partitionPods = pods.filter((p) => p.ordinal < partitions);
    const ready = partitionPods.filter((p) => p.ready);
    const readyNodes = new Set(ready.map((p) => p.nodeName).filter(Boolean));
    const distinctNodes = readyNodes.size === ready.length;

    // 5. node labels
    await this.syncNodeLabels(ss, engine.nodeLabelKey(ss), pods, partitions);

    // 6. the initial sync
    let requeue = bindRequeue ?? Infinity;
    const sync = await this.initialSync.step(k, ss, engine, status, ready, runtimeToken, sourceSecret, wantsSync);
    if (sync.requeueAfterMs !== undefined) requeue = Math.min(requeue, sync.requeueAfterMs);

    // 7. cache statistics (once the data is in place)
    const inputs: PhaseInputs = { volumeBound, partitions, readyPartitions: ready.length, distinctNodes, replicasMatch, sync: sync.phase };
    if (volumeBound && (sync.phase === 'Succeeded' || sync.phase === 'Skipped') && ready.length > 0) {
      const r = this.stats.step(k, ss, status, ready, runtimeToken);
      requeue = Math.min(requeue, r);
    } else if (ready.length === 0) {
      status.condition(CONDITION.cacheStats, 'Unknown', 'NoRuntime', 'no runtime pod is ready to report cache statistics');
    }

    // 8. phase, conditions, runtime and node status
    const podNames = Array.from({ length: partitions }, (_, i) => `${stsName}-${i}`);
    const byOrdinal = new Map(partitionPods.map((p) => [p.ordinal, p]));
    const problems = podNames.map((n, i) => (byOrdinal.get(i)?.ready ? undefined : podProblem(n, byOrdinal.get(i)))).filter((x): x is string => !!x);
    const nodes: CacheNodeStatus[] = podNames.map((pod, i) => {
      const p = byOrdinal.get(i);
      const entry: CacheNodeStatus = { partition: i, pod, ready: !!p?.ready };
      if (p?.nodeName) entry.node = p.nodeName;
      if (!p?.ready) entry.message = podProblem(pod, p).slice(pod.length + 2);
      return entry;
    });
    const phase = nextPhase(inputs);
    const prevPhase = ss.status?.phase ?? '';
    status.set('phase', phase);
    status.set('runtimeStatus', { specReplicas: partitions, readyReplicas: ready.length, runtimeReady: `${ready.length}/${partitions}` });
    status.set('nodes', nodes);
    status.condition(
      CONDITION.volumeBound,
      volumeBound ? 'True' : 'False',
      volumeBound ? 'Bound' : 'Pending',
      volumeBound
        ? `PersistentVolumeClaim ${pvcObj.metadata!.name} is bound to PersistentVolume ${pvName}`
        : `PersistentVolumeClaim ${ns}/${pvcObj.metadata!.name} is ${pvcObj.status?.phase ?? 'Pending'} (PersistentVolume ${pvName} is ${pvObj.status?.phase ?? 'Pending'})`,
    );
    const allPodsReady = replicasMatch && ready.length >= partitions && distinctNodes;
    status.condition(
      CONDITION.runtimeReady,
      allPodsReady ? 'True' : 'False',
      allPodsReady ? 'AllReplicasReady' : !distinctNodes ? 'PartitionsShareNode' : 'ReplicasNotReady',
      allPodsReady ? `${partitions}/${partitions} runtime pods ready on distinct nodes` : `${ready.length}/${partitions} runtime pods ready${problems.length ? `: ${problems.join('; ')}` : ''}`,
    );
    const verdict = readyCondition(inputs, {
      volume: status.get<Condition[]>('conditions')?.find((c) => c.type === CONDITION.volumeBound)?.message,
      sync: status.get<SyncJobStatus>('syncJob')?.message,
      pods: problems,
    });
    status.condition(CONDITION.ready, verdict.status, verdict.reason, verdict.message);
    status.set('observedGeneration', ss.metadata.generation);
    await this.writeStatus(ss, status);

    if (phase !== prevPhase) {
      if (phase === 'Ready') await this.event(ss, 'Normal', 'Ready', `all ${partitions} cache nodes are ready`);
      else if (prevPhase === 'Ready') await this.event(ss, 'Normal', 'NotReady', verdict.message);
    }
    return Number.isFinite(requeue) ? { requeueAfterMs: Math.max(0, Math.round(requeue)) } : undefined;
  }

  // ---- objects --------------------------------------------------------------------------------

  /** Our label (and owner, for namespaced objects) on an object the engine built. */
  private stamp<T extends KubernetesObject>(ss: SampleSet, o: T, namespaced: boolean): T {
    const md = (o.metadata ??= {});
    md.labels = { ...(md.labels ?? {}), [SAMPLESET_LABEL]: ss.metadata.name!, [CREATED_BY_LABEL]: CREATED_BY_VALUE };
    if (namespaced) {
      md.namespace = ss.metadata.namespace;
      const refs = (md.ownerReferences ?? []).filter((r) => r.uid !== ss.metadata.uid && !r.controller);
      md.ownerReferences = [ownerReference(ss), ...refs];
    } else {
      md.annotations = { ...(md.annotations ?? {}), [PV_OWNER_ANNOTATION]: `${ss.metadata.namespace}/${ss.metadata.name}` };
    }
    return o;
  }

  private stampStatefulSet(ss: SampleSet, sts: V1StatefulSet, token: string): V1StatefulSet {
    this.stamp(ss, sts, true);
    const tmd = sts.spec?.template?.metadata;
    if (tmd) {
      tmd.labels = { ...(tmd.labels ?? {}), [SAMPLESET_LABEL]: ss.metadata.name! };
      tmd.annotations = { ...(tmd.annotations ?? {}), [TOKEN_HASH_ANNOTATION]: tokenHash(token) };
    }
    return sts;
  }

  /** Gets (from the cache) or creates a namespaced object the SampleSet controls; reports a foreign one. */
  private async ensureOwned<T extends KubernetesObject>(ss: SampleSet, type: ResourceType, desired: T): Promise<EnsureResult<T>> {
    const ns = ss.metadata.namespace!;
    const name = desired.metadata!.name!;
    const what = `${type.kind} ${ns}/${name}`;
    const cached = this.cacheOf<T>(type).get(name, ns);
    if (cached) return isControlledBy(cached, ss) ? { object: cached } : { conflict: `${what} exists and is not owned by this SampleSet` };
    const r = await createOrFindOwned(this.api, type, desired, (o) => isControlledBy(o, ss), ns);
    if (r.foreign) return { conflict: `${what} exists and is not owned by this SampleSet` };
    if (r.created) await this.event(ss, 'Normal', `Created${type.kind}`, `created ${what}`);
    return { object: r.object };
  }

  /** The PV is cluster-scoped and cannot be owned: ours = our label, owner annotation and volumeHandle. */
  private async ensurePv(ss: SampleSet, desired: V1PersistentVolume): Promise<EnsureResult<V1PersistentVolume>> {
    const name = desired.metadata!.name!;
    const ours = (pv: V1PersistentVolume): boolean =>
      pv.metadata?.labels?.[SAMPLESET_LABEL] === ss.metadata.name &&
      pv.metadata?.annotations?.[PV_OWNER_ANNOTATION] === `${ss.metadata.namespace}/${ss.metadata.name}` &&
      (pv.spec?.csi?.volumeHandle ?? '') === (desired.spec?.csi?.volumeHandle ?? '');
    const conflict = `PersistentVolume ${name} exists and does not belong to this SampleSet`;
    const cached = this.cacheOf<V1PersistentVolume>(PV).get(name);
    if (cached) return ours(cached) ? { object: cached } : { conflict };
    const r = await createOrFindOwned(this.api, PV, desired, ours);
    if (r.foreign) return { conflict };
    if (r.created) await this.event(ss, 'Normal', 'CreatedPersistentVolume', `created PersistentVolume ${name}`);
    return { object: r.object, created: r.created || undefined };
  }

  // ---- node labels ----------------------------------------------------------------------------

  /** node → pod wanted by other live SampleSets that use the same label key (same name, other namespace). */
  private othersWanting(ss: SampleSet, key: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const other of this.primary.list()) {
      if (other.metadata.uid === ss.metadata.uid || other.metadata.deletionTimestamp) continue;
      if (this.nodeLabelKeyOf(other) !== key) continue;
      let stsName: string;
      try {
        stsName = this.engines.get(engineNameOf(other)).statefulSetName(other);
      } catch {
        continue;
      }
      const pods = runtimePodsOf(this.cacheOf<V1Pod>(POD).list(other.metadata.namespace), other.metadata.name!, stsName);
      for (const [node, pod] of desiredNodeLabels(pods, Math.max(1, other.spec.partitions ?? 1))) if (!out.has(node)) out.set(node, pod);
    }
    return out;
  }

  private async syncNodeLabels(ss: SampleSet, key: string, pods: RuntimePod[], partitions: number): Promise<void> {
    const nodes = this.cacheOf<V1Node>(NODE).list();
    const diff = diffNodeLabels(key, nodes, desiredNodeLabels(pods, partitions), this.othersWanting(ss, key));
    for (const { node, value } of diff.set) await this.patchNodeLabel(node, key, value);
    for (const node of diff.remove) await this.patchNodeLabel(node, key, null);
  }

  private async patchNodeLabel(node: string, key: string, value: string | null): Promise<void> {
    try {
      await this.api.patch(NODE, node, undefined, { metadata: { labels: { [key]: value } } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  // ---- status ---------------------------------------------------------------------------------

  private async writeStatus(ss: SampleSet, draft: StatusDraft): Promise<void> {
    const patch = draft.patch();
    if (!patch) return;
    await this.patchStatus(ss, patch);
  }

  // ---- deletion -------------------------------------------------------------------------------

  /**
   * Removes the node labels, then the runtime StatefulSet, Service, token Secret, PVC and PV (the
   * volume's data stays in the JuiceFS backend: the PV's reclaim policy is Retain), then the
   * finalizer. Talks to no runtime pod, so an unreachable runtime cannot block it; missing children
   * are fine.
   */
  private async finalize(k: string, ss: SampleSet): Promise<ReconcileResult> {
    this.forget(k);
    if (!(ss.metadata.finalizers ?? []).includes(SAMPLESET_FINALIZER)) return;
    const ns = ss.metadata.namespace!;
    const name = ss.metadata.name!;
    const key = this.nodeLabelKeyOf(ss);
    const others = this.othersWanting(ss, key);
    for (const node of this.cacheOf<V1Node>(NODE).list()) {
      const n = node.metadata!.name!;
      if (node.metadata?.labels?.[key] !== undefined && !others.has(n)) await this.patchNodeLabel(n, key, null);
    }
    const owned = <T extends KubernetesObject>(type: ResourceType): T[] => this.cacheOf<T>(type).list(ns, (o) => isControlledBy(o, ss));
    for (const type of [STATEFULSET, SERVICE, SECRET, PVC]) {
      for (const o of owned(type)) {
        await this.api.delete(type, o.metadata!.name!, ns, { uid: o.metadata!.uid });
      }
    }
    for (const pv of this.cacheOf<V1PersistentVolume>(PV).list(undefined, (o) => o.metadata?.annotations?.[PV_OWNER_ANNOTATION] === `${ns}/${name}`)) {
      await this.api.delete(PV, pv.metadata!.name!, undefined, { uid: pv.metadata!.uid });
    }
    await this.removeFinalizer(ss, SAMPLESET_FINALIZER);
    await this.event(ss, 'Normal', 'Deleted', 'removed the node labels, runtime, volume claim and PersistentVolume (the data in the volume is kept)');
  }
}
