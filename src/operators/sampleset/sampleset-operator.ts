/**
 * SampleSetOperator: realises a SampleSet through its cache engine (PV/PVC, runtime token Secret,
 * headless Service, runtime StatefulSet), runs the initial sync, labels the cache nodes, and keeps
 * `status` (phase, conditions, runtime, cache statistics, nodes) true to the world.
 *
 * A pass is the list of phases below, each in its own file and returning what the next needs:
 *  1. spec-check.ts       the spec and its Secrets are usable (SpecError otherwise);
 *  2. runtime-objects.ts  the objects exist and are ours (Blocked otherwise); 3. the runtime is
 *                         scaled to `partitions` and restarted with a new token;
 *  4. runtime-status.ts   what the runtime pods show; node-loss-phase.ts: partitions on lost nodes
 *                         (reported; replaced when spec.nodeLossPolicy allows);
 *  5. node-label-sync.ts  the cache-node labels;
 *  6. initial-sync.ts     the initial sync (submitted and followed in the background by the
 *                         RuntimeJobWatcher); partition-rewarm.ts: re-warming the shard of a
 *                         replaced, added or restarted partition;
 *  7. cache-stats-planner.ts  cache statistics, once the data is in place;
 *  8. runtime-status.ts   phase, conditions, runtime and node status (phase.ts decides the phase).
 * Deletion (deletion.ts) stands apart: it waits while pods other than the runtime mount the claim
 * (in-use.ts decides), unless forced by annotation. Every pass reads the caches, moves the world one
 * step toward the spec and writes status only when it changed. Waiting is a requeue or an event;
 * nothing here sleeps.
 */
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { CachedNode, CachedPod } from '../../kube/cached-objects.js';
import {
  NODE,
  POD,
  PV,
  PVC,
  SAMPLEJOB,
  SAMPLESET,
  SAMPLESET_FINALIZER,
  SAMPLESET_LABEL,
  SECRET,
  SERVICE,
  STATEFULSET,
  type ResourceType,
} from '../../api/constants.js';
import type { SampleJob } from '../../api/samplejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import { SpecError } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { isForbidden } from '../../kube/api-error.js';
import { controller, owns, watches, type ObjectKey } from '../../kube/decorators.js';
import { ReconcilingOperator, keyString, type OperatorContext, type ReconcileResult } from '../../kube/reconciling-operator.js';
import type { CacheStatsNotifier } from '../shared/cache-stats-notifier.js';
import type { SampleSetRuntimeCalls } from '../shared/runtime-calls.js';
import { RuntimeJobWatcher } from '../shared/runtime-job-watcher.js';
import { labelledPodsOf, runtimePodsOf, SAMPLESET_PODS_INDEX, sampleSetPodKeys } from '../shared/runtime-pods.js';
import { Blocked } from './blocked.js';
import { CacheStatsPlanner } from './cache-stats-planner.js';
import { SampleSetDeletion } from './deletion.js';
import { InitialSync } from './initial-sync.js';
import { NodeLabelSync } from './node-label-sync.js';
import { NodeLossPhase } from './node-loss-phase.js';
import { PartitionRewarm } from './partition-rewarm.js';
import { phaseWhenStopped, syncDone, type PhaseInputs } from './phase.js';
import { RuntimeObjectsPhase } from './runtime-objects.js';
import { describeRuntime, observeRuntime } from './runtime-status.js';
import { checkSpec } from './spec-check.js';
import { CONDITION, StatusDraft } from './status-draft.js';
import { scaleDownBlockersOf } from './scale-down-guard.js';
import { StatsCollector } from './stats-collector.js';
import { nothingReachable } from './stats.js';
import { indexSampleSets, SampleSetWatchMappings } from './watch-mappings.js';
import { syncSubmitBackoff } from './sync.js';

export { BIND_NUDGE_ANNOTATION, PV_OWNER_ANNOTATION, TOKEN_HASH_ANNOTATION, tokenHash } from './runtime-objects.js';
export { CONDITION } from './status-draft.js';
export { FORCE_DELETE_ANNOTATION } from './in-use.js';

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
  /** Long-poll wait while following the initial sync (default 10 s). */
  syncWaitSeconds?: number;
  /** Spacing of progress updates written to status while syncing (default 2 s). */
  syncProgressIntervalMs?: number;
  /** Look again at an object conflict after this long (default 30 s). */
  conflictRetryMs?: number;
  /** Retry when a runtime pod does not accept the sync: every 0.5 s (default) for 20 tries, then doubling up to 30 s. */
  submitRetryMs?: number;
}

@controller({ resource: SAMPLESET, name: 'sampleset' })
@owns(STATEFULSET, { labelSelector: SAMPLESET_LABEL })
@owns(SERVICE, { labelSelector: SAMPLESET_LABEL })
@owns(PVC, { labelSelector: SAMPLESET_LABEL })
@watches(SECRET, (o, op: SampleSetOperator) => op.mappings.ofSecret(o))
// every pod, not only the labelled runtime pods: a deletion waits for the pods that mount the claim
@watches(POD, (o, op: SampleSetOperator) => op.mappings.ofPod(o))
@watches(NODE, (o, op: SampleSetOperator) => op.mappings.ofNode(o))
@watches(PV, (o, op: SampleSetOperator) => op.mappings.ofPv(o), { labelSelector: SAMPLESET_LABEL })
@watches(SAMPLEJOB, (o) => SampleSetWatchMappings.ofSampleJob(o))
export class SampleSetOperator extends ReconcilingOperator<SampleSet> {
  private readonly opts: Required<SampleSetOperatorOptions>;
  /** Submits and follows the initial syncs (outside the reconcile). */
  private readonly watcher: RuntimeJobWatcher;
  private readonly stats: CacheStatsPlanner;
  private readonly initialSync: InitialSync;
  private readonly objects: RuntimeObjectsPhase;
  private readonly nodeLabels: NodeLabelSync;
  private readonly deletion: SampleSetDeletion;
  private readonly nodeLoss: NodeLossPhase;
  /** Warms the shard of a replaced, added or restarted partition again (its own watcher: see partition-rewarm.ts). */
  private readonly rewarm: PartitionRewarm;
  private readonly rewarmWatcher: RuntimeJobWatcher;
  private readonly unsubscribe: () => void;
  /** Which SampleSets an event on another object concerns (made on first use: see watch-mappings.ts). */
  private mappingsOnce?: SampleSetWatchMappings;
  get mappings(): SampleSetWatchMappings {
    return (this.mappingsOnce ??= new SampleSetWatchMappings(
      () => this.primary,
      () => this.engines,
    ));
  }

  constructor(
    ctx: OperatorContext,
    private readonly engines: EngineRegistry,
    runtime: SampleSetRuntimeCalls,
    options: SampleSetOperatorOptions,
    notifier: CacheStatsNotifier,
  ) {
    indexSampleSets(ReconcilingOperator.declaredCache(ctx, new.target, SAMPLESET), engines);
    ReconcilingOperator.declaredCache<CachedPod>(ctx, new.target, POD).addIndex(SAMPLESET_PODS_INDEX, sampleSetPodKeys);
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
    const requeue = (key: string): void => this.queue.add(key);
    const event = (ss: SampleSet, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> =>
      this.event(ss, type, reason, message);
    const watcherOptions = {
      waitSeconds: this.opts.syncWaitSeconds,
      progressIntervalMs: this.opts.syncProgressIntervalMs,
      minPollIntervalMs: 250,
      minRetryMs: 500,
      maxRetryMs: 10_000,
      // one notification when the pod has stopped answering (the reconcile shows it, and may pick another pod)
      errorsBeforeNotify: 3,
      submitTimeoutMs: 15_000,
      clock: this.clock,
    };
    this.watcher = new RuntimeJobWatcher(runtime, requeue, {
      ...watcherOptions,
      submitBackoff: syncSubmitBackoff(this.opts.submitRetryMs),
    });
    this.stats = new CacheStatsPlanner(new StatsCollector(runtime, requeue, this.opts.statsTimeoutMs, this.clock), this.opts, this.clock);
    this.initialSync = new InitialSync({
      runtime,
      watcher: this.watcher,
      submitRetryMs: this.opts.submitRetryMs,
      event,
      onSucceeded: (k) => this.stats.invalidate(k),
      clock: this.clock,
    });
    this.objects = new RuntimeObjectsPhase({
      api: this.api,
      cached: <T extends KubernetesObject>(type: ResourceType, name: string, namespace?: string) =>
        this.cacheOf<T>(type).get(name, namespace),
      event,
      clock: this.clock,
      runtimeImage: this.opts.runtimeImage,
      conflictRetryMs: this.opts.conflictRetryMs,
      scaleDownBlockers: (ss, claim, sts, to) =>
        scaleDownBlockersOf(ss, this.cacheOf<CachedPod>(POD).list(ss.metadata.namespace), claim, sts, to),
    });
    this.nodeLabels = new NodeLabelSync({
      api: this.api,
      engines,
      nodes: () => this.cacheOf<CachedNode>(NODE).list(),
      labelledPods: (namespace, name) => labelledPodsOf(this.cacheOf<CachedPod>(POD), namespace, name),
      sampleSetsWithLabelKey: (key) => this.mappings.withNodeLabelKey(key),
      labelKeyOf: (ss) => this.mappings.nodeLabelKeyOf(ss),
    });
    this.deletion = new SampleSetDeletion({
      api: this.api,
      engines,
      cached: <T extends KubernetesObject>(type: ResourceType, namespace?: string) => this.cacheOf<T>(type).list(namespace),
      nodeLabels: this.nodeLabels,
      event,
      writeStatus: (ss, draft) => this.writeStatus(ss, draft),
      removeFinalizer: (ss) => this.removeFinalizer(ss, SAMPLESET_FINALIZER),
      clock: this.clock,
    });
    this.rewarmWatcher = new RuntimeJobWatcher(runtime, requeue, watcherOptions);
    this.rewarm = new PartitionRewarm({
      runtime,
      watcher: this.rewarmWatcher,
      event,
      onSucceeded: (k) => this.stats.invalidate(k),
      clock: this.clock,
    });
    this.nodeLoss = new NodeLossPhase({ api: this.api, node: (n) => this.cacheOf<CachedNode>(NODE).get(n), event, clock: this.clock });
    this.unsubscribe = notifier.subscribe(({ namespace, name }) => {
      const k = keyString({ namespace, name });
      this.stats.invalidate(k);
      this.queue.add(k);
    });
  }

  override async stop(timeoutMs?: number): Promise<void> {
    this.unsubscribe();
    await super.stop(timeoutMs);
    this.watcher.stop();
    this.rewarmWatcher.stop();
  }

  // ---- reconcile ------------------------------------------------------------------------------

  protected async reconcile(key: ObjectKey, obj: SampleSet | undefined): Promise<ReconcileResult> {
    const k = keyString(key);
    if (!obj) {
      this.forget(k);
      return;
    }
    if (obj.metadata.deletionTimestamp) {
      this.forget(k);
      return this.deletion.step(obj);
    }
    if (!(obj.metadata.finalizers ?? []).includes(SAMPLESET_FINALIZER)) obj = await this.addFinalizer(obj, SAMPLESET_FINALIZER);

    const status = new StatusDraft(obj, this.clock);
    try {
      return await this.converge(k, obj, status);
    } catch (e) {
      if (e instanceof SpecError || e instanceof Blocked) return this.stopped(obj, status, e);
      // the namespace is being deleted (its objects, this SampleSet included, are going): not an error
      if (isForbidden(e) && /being terminated/.test((e as Error).message)) return { requeueAfterMs: 5_000 };
      throw e;
    }
  }

  /** A pass stopped by a spec error or a blocked state: Ready=False, and a phase that says so too. */
  private async stopped(ss: SampleSet, status: StatusDraft, e: SpecError | Blocked): Promise<ReconcileResult> {
    const prevPhase = ss.status?.phase ?? '';
    status.set('phase', phaseWhenStopped(prevPhase));
    status.condition(CONDITION.ready, 'False', e.reason, e.message);
    status.set('observedGeneration', ss.metadata.generation);
    await this.writeStatus(ss, status);
    await this.event(ss, 'Warning', e.reason, e.message);
    if (prevPhase === 'Ready') await this.event(ss, 'Normal', 'NotReady', e.message);
    return e instanceof Blocked && e.requeueAfterMs ? { requeueAfterMs: e.requeueAfterMs } : undefined;
  }

  private forget(k: string): void {
    this.initialSync.forget(k);
    this.rewarm.forget(k);
    this.stats.forget(k);
  }

  /** One pass: the phases in order, each handing the next what it found. */
  private async converge(k: string, ss: SampleSet, status: StatusDraft): Promise<ReconcileResult> {
    const ns = ss.metadata.namespace!;
    const partitions = Math.max(1, ss.spec.partitions ?? 1);

    // 1. the spec and its Secrets
    const spec = checkSpec(ss, this.engines, (ref) => this.cacheOf<V1Secret>(SECRET).get(ref.name, ref.namespace));

    // 2–3. the objects that realise it; rescale; restart the runtime with a new token
    const objects = await this.objects.ensure({ sampleSet: ss, engine: spec.engine, volumeSecret: spec.volumeSecret });
    if (objects.pvCreated) {
      status.condition(CONDITION.volumeBound, 'False', 'Pending', `created PersistentVolume ${objects.pvName}`);
      status.set('observedGeneration', ss.metadata.generation);
      await this.writeStatus(ss, status);
      return { requeueAfterMs: objects.requeueAfterMs };
    }
    const { pv, pvc, statefulSet, runtimeToken, replicasMatch, scaleDownHeld } = objects;
    const stsName = statefulSet.metadata!.name!;

    // 4. the volume and the runtime pods
    const volumeBound = pvc.status?.phase === 'Bound';
    const pods = runtimePodsOf(labelledPodsOf(this.cacheOf<CachedPod>(POD), ns, ss.metadata.name!), ss.metadata.name!, stsName);
    const loss = await this.nodeLoss.step(
      ss,
      pods.filter((p) => p.ordinal < partitions),
    );
    const lostPods = new Set(loss.lost.map((l) => l.pod));
    const observed = observeRuntime(pods, partitions, lostPods);
    const { ready } = observed;

    // 5. node labels
    await this.nodeLabels.sync(ss, spec.engine.nodeLabelKey(ss), pods, partitions);

    // 6. the initial sync
    let requeue = Math.min(objects.requeueAfterMs ?? Infinity, loss.requeueAfterMs ?? Infinity);
    const sync = await this.initialSync.step({
      key: k,
      sampleSet: ss,
      engine: spec.engine,
      status,
      ready,
      token: runtimeToken,
      sourceSecret: spec.sourceSecret,
      wantsSync: spec.wantsSync,
    });
    if (sync.requeueAfterMs !== undefined) requeue = Math.min(requeue, sync.requeueAfterMs);

    // 7. cache statistics (once the data is in place)
    if (volumeBound && syncDone(sync.phase) && ready.length > 0) {
      requeue = Math.min(requeue, this.stats.step({ key: k, sampleSet: ss, status, ready, token: runtimeToken, unreachable: lostPods }));
    } else if (ready.length === 0) {
      status.condition(CONDITION.cacheStats, 'Unknown', 'NoRuntime', 'no runtime pod is ready to report cache statistics');
      // every partition's node lost: no cache is reachable, whatever the last collection said
      if (loss.lost.length > 0 && ss.status?.cacheStatus) status.set('cacheStatus', nothingReachable(ss.status.cacheStatus));
    }

    // 6b. partitions whose shard the last warmup did not warm (replaced, added, restarted): warm again
    let rewarms: Awaited<ReturnType<PartitionRewarm['step']>>['records'] | undefined;
    if (volumeBound && syncDone(sync.phase) && ready.length > 0) {
      const r = await this.rewarm.step({
        key: k,
        sampleSet: ss,
        engine: spec.engine,
        partitions,
        ready,
        token: runtimeToken,
        sampleJobs: this.cacheOf<SampleJob>(SAMPLEJOB).list(ns),
      });
      rewarms = r.records;
      requeue = Math.min(requeue, r.requeueAfterMs ?? Infinity);
    }

    // 8. phase, conditions, runtime and node status
    const inputs: PhaseInputs = {
      volumeBound,
      partitions,
      readyPartitions: ready.length,
      distinctNodes: observed.distinctNodes,
      replicasMatch,
      sync: sync.phase,
      lostPartitions: loss.lost.length,
    };
    const prevPhase = ss.status?.phase ?? '';
    const { phase, verdict } = describeRuntime(status, {
      partitions,
      statefulSetName: stsName,
      pv,
      pvc,
      observed,
      inputs,
      podReads: this.stats.podReads(k),
      scaleDownHeld,
      lost: loss.lost,
      nodeLossPolicy: ss.spec.nodeLossPolicy,
      rewarms,
    });
    status.set('observedGeneration', ss.metadata.generation);
    await this.writeStatus(ss, status);

    if (phase !== prevPhase) {
      if (phase === 'Ready') await this.event(ss, 'Normal', 'Ready', `all ${partitions} cache nodes are ready`);
      else if (prevPhase === 'Ready') await this.event(ss, 'Normal', 'NotReady', verdict.message);
    }
    return Number.isFinite(requeue) ? { requeueAfterMs: Math.max(0, Math.round(requeue)) } : undefined;
  }

  /** Writes the status when it changed; true when it did. */
  private async writeStatus(ss: SampleSet, draft: StatusDraft): Promise<boolean> {
    const patch = draft.patch();
    if (!patch) return false;
    await this.patchStatus(ss, patch);
    return true;
  }
}
