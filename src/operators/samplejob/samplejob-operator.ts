/**
 * SampleJobOperator: runs `sync`, `warmup`, `rmr` and `clear` on a SampleSet's runtime pods and
 * schedules periodic runs (`spec.schedule`).
 *
 * A one-shot SampleJob moves `""` → `Pending` → `Running` → `Succeeded` | `Failed`:
 *  1. validation (type, SampleSet usable, Secret for sync, option paths via the engine's SpecError):
 *     problems fail the job with a specific reason, or wait (SampleSet missing or not ready yet);
 *  2. the run's id (uid + spec hash + generation) and the per-pod "about to submit" marks are
 *     written to status BEFORE any POST, so a lost write can never start a different job;
 *  3. sync/rmr go to one runtime pod (ordinal 0 when ready), warmup/clear to every pod (shard =
 *     ordinal); `terminate: true` cancels what the pods run before the first submission;
 *  4. submissions, completion and progress are the RuntimeJobWatcher's, outside the reconcile;
 *     a reconcile only reads the watcher and writes status (progress at most every
 *     `progressIntervalMs`);
 *  5. a pod that loses the run (restart → unknown job, or replaced) gets it again, up to
 *     `maxAttempts` per pod, then the job fails with `RuntimeLost`; a pod whose queue is full
 *     (429) gets it again after its Retry-After, with the condition reason `RuntimeBusy` and a
 *     Warning Event, without using an attempt or the pod wait deadline;
 *  6. at the end: Event, cache statistics of the SampleSet invalidated, finalizer removed.
 * Deleting a running SampleJob cancels its work (finalizer); a job whose pods are gone is let go.
 * A scheduled SampleJob never runs work itself: see schedule.ts and scheduled-parents.ts.
 *
 * The phases of a run's pass live apart: run-validation.ts (1), run-nodes.ts (the nodes, the
 * decisions applied, when to look again), run-state.ts (what to do per node), run-status.ts (the
 * status, its Events, failed/waiting/re-run statuses); this file does the I/O in between.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { CachedPod } from '../../kube/cached-objects.js';
import { POD, SAMPLEJOB, SAMPLEJOB_FINALIZER, SAMPLESET, SAMPLESET_LABEL, SECRET } from '../../api/constants.js';
import type { SampleJob, SampleJobNodeStatus, SampleJobStatus } from '../../api/samplejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { controller, owns, watches, type ObjectKey } from '../../kube/decorators.js';
import { keyString, ReconcilingOperator, type OperatorContext, type ReconcileResult } from '../../kube/reconciling-operator.js';
import type { CacheStatsNotifier } from '../shared/cache-stats-notifier.js';
import type { RuntimeJobCalls } from '../shared/runtime-calls.js';
import { RuntimeJobWatcher } from '../shared/runtime-job-watcher.js';
import { labelledPodsOf, runtimePodsOf, SAMPLESET_PODS_INDEX, sampleSetPodKeys, type RuntimePod } from '../shared/runtime-pods.js';
import { sampleSetChangeConcernsJobs } from '../shared/sampleset-change.js';
import { indexJobsBySampleSet, jobsCaringAbout } from './sampleset-jobs.js';
import { jobIdOf, specHash } from './job-id.js';
import { applySteps, decideNodes, initialNodes, nextLookMs, replacementPod } from './run-nodes.js';
import { RunCancellation } from './run-cancellation.js';
import { RunDispatch } from './run-dispatch.js';
import { announcement, failedStatus, isTerminalPhase, rerunPatch, runStatus, waitingStatus, type Announcement } from './run-status.js';
import { JobProblem, validateRun, type ValidationLookups } from './run-validation.js';
import { RuntimeTokenCache } from './runtime-token-cache.js';
import { isScheduled } from './schedule.js';
import { ScheduledParents } from './scheduled-parents.js';
import { SettledInvalidation } from './settled-invalidation.js';
import { deadlineMessage, runDeadline, sampleSetReplacedMessage, untilDeadline } from './run-deadline.js';
import { RunStatusWriter } from './run-status-writer.js';
import { RunTeardown } from './run-teardown.js';

export interface SampleJobOperatorOptions {
  /** Submissions per runtime pod before a run lost by its pod fails with RuntimeLost (default 3). */
  maxAttempts?: number;
  /** Long-poll duration of the runtime job watcher (default 20 s). */
  longPollSeconds?: number;
  /** Minimum spacing of status writes that only move progress (default 1 s). */
  progressIntervalMs?: number;
  /** How long a run waits for a runtime pod to be ready / reachable before that pod fails (default 5 min). */
  podWaitTimeoutMs?: number;
  /** How long the runtime token is cached (default 30 s). */
  tokenCacheMs?: number;
  /** Safety re-check of a running job even without events (default 60 s). */
  resyncMs?: number;
  /**
   * After a job ends the SampleSet's statistics are invalidated at once and again after this long
   * (default 2 s): an engine may publish the usage of fresh writes with a short delay, so a
   * collection right at the end can miss the last files.
   */
  statsSettleMs?: number;
  /** Longest a reconcile waits on one runtime call it makes itself (terminate, cancel) (default 5 s). */
  runtimeCallTimeoutMs?: number;
}

/** The condition a scheduled parent carries. */
export { SCHEDULED_CONDITION } from './scheduled-parents.js';
export { SUCCEEDED_CONDITION } from './run-status.js';

@controller({ resource: SAMPLEJOB, name: 'samplejob' })
@owns(SAMPLEJOB)
@watches(SAMPLESET, (o, op: SampleJobOperator) => op.jobsUsingSampleSet(o.metadata?.namespace, o.metadata?.name), {
  changed: sampleSetChangeConcernsJobs,
})
@watches(POD, (o, op: SampleJobOperator) => op.jobsUsingSampleSet(o.metadata?.namespace, o.metadata?.labels?.[SAMPLESET_LABEL]), {
  labelSelector: SAMPLESET_LABEL,
})
export class SampleJobOperator extends ReconcilingOperator<SampleJob> {
  private readonly maxAttempts: number;
  private readonly podWaitTimeoutMs: number;
  private readonly resyncMs: number;
  /** Submits runs to the runtime pods and follows them (outside the reconcile). */
  readonly watcher: RuntimeJobWatcher;
  /** When a node of a run started waiting for its pod, keyed `<jobId>/<pod>`. */
  private readonly waitingSince = new Map<string, number>();
  private readonly statusWriter: RunStatusWriter;
  private readonly tokens: RuntimeTokenCache;
  private readonly cancellation: RunCancellation;
  private readonly statsInvalidation: SettledInvalidation;
  private readonly scheduled: ScheduledParents;
  /** Where validation reads the SampleSet (cache), its engine and Secrets (live). */
  private readonly lookups: ValidationLookups;
  private readonly dispatch: RunDispatch;
  private readonly teardown: RunTeardown;

  constructor(
    ctx: OperatorContext,
    private readonly engines: EngineRegistry,
    runtime: RuntimeJobCalls,
    notifier: CacheStatsNotifier,
    options: SampleJobOperatorOptions = {},
  ) {
    indexJobsBySampleSet(ReconcilingOperator.declaredCache(ctx, new.target, SAMPLEJOB));
    ReconcilingOperator.declaredCache<CachedPod>(ctx, new.target, POD).addIndex(SAMPLESET_PODS_INDEX, sampleSetPodKeys);
    super(ctx);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.podWaitTimeoutMs = options.podWaitTimeoutMs ?? 300_000;
    this.resyncMs = options.resyncMs ?? 60_000;
    this.statusWriter = new RunStatusWriter(
      { addFinalizer: (j, f) => this.addFinalizer(j, f), patchStatus: (j, st) => this.patchStatus(j, st) },
      options.progressIntervalMs ?? 1000,
    );
    this.tokens = new RuntimeTokenCache(this.api, this.clock, options.tokenCacheMs ?? 30_000);
    this.cancellation = new RunCancellation(runtime, options.runtimeCallTimeoutMs ?? 5000, this.log);
    this.statsInvalidation = new SettledInvalidation(notifier, options.statsSettleMs ?? 2000);
    this.watcher = new RuntimeJobWatcher(runtime, (key) => this.queue.add(key), {
      waitSeconds: options.longPollSeconds ?? 20,
      clock: this.clock,
      onError: (e, t) => this.log.debug('runtime poll failed', { job: t.jobId, pod: t.pod, error: (e as Error).message }),
    });
    this.lookups = {
      engines,
      sampleSet: (name, namespace) => this.cacheOf<SampleSet>(SAMPLESET).get(name, namespace),
      secret: (name, namespace) => this.api.get<V1Secret>(SECRET, name, namespace),
    };
    this.dispatch = new RunDispatch(this.watcher, this.lookups, this.log);
    this.teardown = new RunTeardown({
      lookups: this.lookups,
      tokens: this.tokens,
      cancellation: this.cancellation,
      labelledPods: (ns, name) => labelledPodsOf(this.cacheOf<CachedPod>(POD), ns, name),
      event: (o, type, reason, message) => this.event(o, type, reason, message),
    });
    this.scheduled = new ScheduledParents({
      api: this.api,
      clock: this.clock,
      jobs: this.primary,
      event: (obj, type, reason, message) => this.event(obj, type, reason, message),
      patchStatus: (obj, status) => this.patchStatus(obj, status),
      removeFinalizer: (obj, finalizer) => this.removeFinalizer(obj, finalizer),
    });
  }

  /** Keys of the SampleJobs that care about SampleSet `namespace/name` (unfinished or being deleted). */
  jobsUsingSampleSet(namespace: string | undefined, name: string | undefined): ObjectKey[] {
    return name ? jobsCaringAbout(this.primary, namespace, name) : [];
  }

  override async stop(timeoutMs?: number): Promise<void> {
    await super.stop(timeoutMs);
    this.watcher.stop();
    this.statsInvalidation.stop();
  }

  protected async reconcile(key: ObjectKey, job: SampleJob | undefined): Promise<ReconcileResult> {
    const k = keyString(key);
    if (!job) {
      this.forget(k);
      return;
    }
    if (job.metadata?.deletionTimestamp) return this.finalize(job);
    if (isScheduled(job)) return this.scheduled.reconcile(job);
    return this.reconcileRun(job);
  }

  private forget(key: string): void {
    for (const id of this.watcher.jobIdsOf(key)) this.forgetRun(id);
    this.watcher.untrackKey(key);
    this.statusWriter.forget(key);
  }

  private forgetRun(jobId: string): void {
    this.watcher.untrack(jobId);
    for (const k of [...this.waitingSince.keys()]) if (k.startsWith(`${jobId}/`)) this.waitingSince.delete(k);
    this.cancellation.forget(jobId);
  }

  // ---------------------------------------------------------------------------------------------
  // one-shot runs

  private async reconcileRun(job: SampleJob): Promise<ReconcileResult> {
    const status = job.status ?? {};
    const phase = status.phase ?? '';
    const key = keyString({ namespace: job.metadata?.namespace, name: job.metadata.name! });

    if (isTerminalPhase(phase)) {
      if (phase === 'Failed' && status.specHash && specHash(job.spec) !== status.specHash) return this.rerun(job);
      if (status.jobName) this.forgetRun(status.jobName);
      this.statusWriter.forget(key);
      await this.removeFinalizer(job, SAMPLEJOB_FINALIZER);
      return;
    }

    const deadline = runDeadline(job);
    if (deadline !== undefined && this.clock.now() >= deadline) return this.expire(job);

    const hash = specHash(job.spec);
    const submitted = !!status.jobName && (status.nodes ?? []).some((n) => (n.attempts ?? 0) > 0);
    // a run that has not submitted anything follows spec edits; a submitted one keeps its spec
    const fresh = !submitted && (!status.jobName || status.specHash !== hash);

    let sampleSet: SampleSet;
    let engine: CacheEngine;
    try {
      ({ sampleSet, engine } = await validateRun(job, submitted, this.lookups));
    } catch (e) {
      if (!(e instanceof JobProblem)) throw e;
      if (submitted && e.wait) {
        // the SampleSet went away under a running job: nothing can finish it
        return this.fail(job, 'SampleSetNotFound', e.message);
      }
      return e.wait
        ? untilDeadline(await this.waitFor(job, e.reason, e.message), deadline, this.clock.now())
        : this.fail(job, e.reason, e.message);
    }
    const replaced = status.sampleSetUID && sampleSet.metadata.uid && status.sampleSetUID !== sampleSet.metadata.uid;
    if (replaced) {
      await this.teardown.cancelRuntimeWork(job);
      return this.fail(job, 'SampleSetReplaced', sampleSetReplacedMessage(sampleSet.metadata.name!));
    }

    const jobId = fresh ? jobIdOf(job, hash) : status.jobName!;
    const fanOut = engine.fanOut(job.spec.type);
    const stsName = engine.statefulSetName(sampleSet);
    const pods = runtimePodsOf(
      labelledPodsOf(this.cacheOf<CachedPod>(POD), job.metadata?.namespace, sampleSet.metadata.name!),
      sampleSet.metadata.name!,
      stsName,
    );
    const byName = new Map(pods.map((p) => [p.name, p]));
    const token = await this.tokens.tokenOf(sampleSet, engine);

    // the nodes of the run: fixed at the first submission
    const nodes: SampleJobNodeStatus[] =
      fresh || !status.nodes?.length ? initialNodes(fanOut, sampleSet.spec.partitions, stsName, pods) : status.nodes.map((n) => ({ ...n }));
    if (fanOut === 'one') this.repickSinglePod(jobId, nodes[0], pods);

    // decide per node
    const now = this.clock.now();
    const steps = decideNodes({
      jobId,
      nodes,
      podsByName: byName,
      hasToken: !!token,
      now,
      maxAttempts: this.maxAttempts,
      podWaitTimeoutMs: this.podWaitTimeoutMs,
      tracked: (pod) => this.watcher.get(jobId, pod),
      waitingSince: this.waitingSince,
      partitions: fanOut === 'all' ? sampleSet.spec.partitions : undefined,
    });

    const toSubmit = steps.flatMap((s, i) => (s.action === 'submit' ? [i] : []));
    const anySubmittedBefore = nodes.some((n) => (n.attempts ?? 0) > 0);

    // terminate: cancel what the runtime pods run, once, before this run's first submission
    if (toSubmit.length > 0 && !anySubmittedBefore && job.spec.terminate && token) {
      const t = await this.cancellation.terminateOnce(jobId, pods, token);
      if (t) void this.event(job, 'Normal', 'Terminated', `cancelled ${t.cancelled} job(s) on ${t.pods} runtime pod(s) before submitting`);
    }

    // apply the decisions to the node entries
    const applied = applySteps(nodes, steps, byName, (pod) => this.watcher.get(jobId, pod)?.state?.progress);
    steps.forEach((s, i) => s.action === 'remove' && this.watcher.release(jobId, nodes[i].pod));
    for (const e of applied.events) void this.event(job, e.type, e.reason, e.message);

    // the status this pass wants, written before anything is submitted
    const desired = runStatus({
      job,
      jobId,
      specHash: hash,
      fresh,
      nodes,
      progressOf: applied.progressOf,
      now,
      sampleSetUID: sampleSet.metadata.uid,
    });
    const { current, throttledMs } = await this.statusWriter.record({ key, job, desired, now, mustWrite: fresh || toSubmit.length > 0 });
    this.announce(job, announcement(job, status.phase ?? '', desired));

    if (isTerminalPhase(desired.phase)) {
      await this.complete(current, desired, sampleSet, jobId);
      return;
    }

    // submissions, after the status that records them
    if (token) this.dispatch.dispatch({ key, job, sampleSet, engine, jobId, nodes, steps, podsByName: byName, token });

    return untilDeadline(
      {
        requeueAfterMs: nextLookMs({
          nodes,
          now,
          resyncMs: this.resyncMs,
          throttledMs,
          podWaitTimeoutMs: this.podWaitTimeoutMs,
          noToken: !token,
          waitingSince: (pod) => this.waitingSince.get(`${jobId}/${pod}`),
          tracked: (pod) => this.watcher.get(jobId, pod),
        }),
      },
      deadline,
      now,
    );
  }

  /** sync/rmr: move a run that has no usable pod to another ready one (nothing else can finish it). */
  private repickSinglePod(jobId: string, entry: SampleJobNodeStatus, pods: RuntimePod[]): void {
    const alt = replacementPod(entry, pods, !!this.watcher.get(jobId, entry.pod)?.unknown);
    if (!alt) return;
    this.watcher.untrack(jobId);
    this.waitingSince.delete(`${jobId}/${entry.pod}`);
    entry.pod = alt.name;
    entry.node = alt.nodeName;
  }

  private announce(job: SampleJob, a: Announcement | undefined): void {
    if (a) void this.event(job, a.type, a.reason, a.message);
  }

  private async complete(
    job: SampleJob,
    status: SampleJobStatus,
    sampleSet: SampleSet | undefined,
    jobId: string | undefined,
  ): Promise<void> {
    const ns = job.metadata?.namespace ?? 'default';
    if (sampleSet) this.statsInvalidation.invalidate(ns, sampleSet.metadata.name!);
    else if (job.spec?.sampleSetRef?.name) this.statsInvalidation.invalidate(ns, job.spec.sampleSetRef.name);
    if (jobId) this.forgetRun(jobId);
    this.statusWriter.forget(keyString({ namespace: ns, name: job.metadata.name! }));
    this.log.info('job finished', { namespace: ns, name: job.metadata?.name, phase: status.phase, job: jobId });
    await this.removeFinalizer(job, SAMPLEJOB_FINALIZER);
  }

  /** Fails the run with `reason` (validation or a lost SampleSet): terminal until the spec changes. */
  private async fail(job: SampleJob, reason: string, message: string): Promise<ReconcileResult> {
    const status = failedStatus(job, specHash(job.spec), reason, message, this.clock.now());
    const updated = (await this.patchStatus(job, status as Record<string, unknown>)) ?? job;
    void this.event(job, 'Warning', reason, message);
    await this.complete(updated, status, undefined, job.status?.jobName);
  }

  /** Waits (phase Pending, a condition saying why); the SampleSet/Pod watches re-queue the job. */
  private async waitFor(job: SampleJob, reason: string, message: string): Promise<ReconcileResult> {
    const { status, changed } = waitingStatus(job, reason, message, this.clock.now());
    if (changed) {
      await this.patchStatus(job, status as Record<string, unknown>);
      void this.event(job, reason === 'SampleSetNotReady' ? 'Normal' : 'Warning', reason, message);
    }
    // the SampleSet watch re-queues; a slow safety net covers anything else
    return { requeueAfterMs: this.resyncMs };
  }

  /** A Failed job whose spec changed: start over with a new run id. */
  private async rerun(job: SampleJob): Promise<ReconcileResult> {
    if (job.status?.jobName) this.forgetRun(job.status.jobName);
    await this.patchStatus(job, rerunPatch(job, this.clock.now()));
    void this.event(job, 'Normal', 'Rerun', 'the spec of the failed job changed; running it again');
  }

  // ---------------------------------------------------------------------------------------------
  // deletion

  private async finalize(job: SampleJob): Promise<ReconcileResult> {
    if (!(job.metadata?.finalizers ?? []).includes(SAMPLEJOB_FINALIZER)) {
      this.forget(keyString({ namespace: job.metadata?.namespace, name: job.metadata.name! }));
      return;
    }
    const status = job.status ?? {};
    const jobId = status.jobName;
    await this.teardown.cancelRuntimeWork(job);
    if (jobId) this.forgetRun(jobId);
    this.forget(keyString({ namespace: job.metadata?.namespace, name: job.metadata.name! }));
    await this.removeFinalizer(job, SAMPLEJOB_FINALIZER);
    if (job.spec?.sampleSetRef?.name && jobId && !isTerminalPhase(status.phase))
      this.statsInvalidation.invalidate(job.metadata?.namespace ?? 'default', job.spec.sampleSetRef.name);
    return;
  }

  /** A run past its active deadline: what it runs is cancelled, and it fails with DeadlineExceeded. */
  private async expire(job: SampleJob): Promise<ReconcileResult> {
    await this.teardown.cancelRuntimeWork(job);
    return this.fail(job, 'DeadlineExceeded', deadlineMessage(job));
  }
}
