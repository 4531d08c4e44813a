/**
 * SampleJobOperator: runs `sync`, `warmup`, `rmr` and `clear` on a SampleSet's runtime pods and schedules periodic runs (`spec.schedule`).
 *
 * A one-shot SampleJob moves `""` → `Pending` → `Running` → `Succeeded` | `Failed`:
 *  1. validation (type, SampleSet usable, Secret for sync, option paths via the engine's SpecError):
 *     problems fail the job with a specific reason, or wait (SampleSet missing or not ready yet);
 *  2. the run's id (uid + spec hash + generation) and the per-pod "about to submit" marks are
 *     written to status BEFORE any POST, so a lost write can never start a different job;
 *  3. sync/rmr go to one runtime pod (ordinal 0 when ready), warmup/clear to every pod (shard =
 *     ordinal); `terminate: true` cancels what the pods run before the first submission;
 *  4. completion and progress are followed by the JobTracker's long-polls outside the reconcile;
 *     a reconcile only reads the tracker and writes status (progress at most every
 *     `progressIntervalMs`);
 *  5. a pod that loses the run (restart → unknown job, or replaced) gets it again, up to
 *     `maxAttempts` per pod, then the job fails with `RuntimeLost`; a pod whose queue is full
 *     (429) gets it again after its Retry-After, with the condition reason `RuntimeBusy` and a
 *     Warning Event, without using an attempt or the pod wait deadline;
 *  6. at the end: Event, cache statistics of the SampleSet invalidated, finalizer removed.
 * Deleting a running SampleJob cancels its work (finalizer); a job whose pods are gone is let go.
 * A scheduled SampleJob never runs work itself: see schedule.ts.
 */
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { setCondition, type Condition } from '../../api/conditions.js';
import { POD, SAMPLEJOB, SAMPLEJOB_FINALIZER, SAMPLESET, SAMPLESET_LABEL, SECRET } from '../../api/constants.js';
import { SAMPLEJOB_TYPES, type JobProgress, type SampleJob, type SampleJobNodeStatus, type SampleJobPhase, type SampleJobStatus } from '../../api/samplejob.js';
import { engineNameOf, type SampleSet } from '../../api/sampleset.js';
import { SpecError, type CacheEngine } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { controller, owns, watches, type ObjectKey } from '../../kube/decorators.js';
import { jsonEqual } from '../../kube/merge-patch.js';
import { keyString, ReconcilingOperator, type OperatorContext, type ReconcileResult } from '../../kube/reconciling-operator.js';
import { crossNamespaceProblem, CROSS_NAMESPACE_SECRET } from '../shared/secret-refs.js';
import type { CacheStatsNotifier } from '../shared/cache-stats-notifier.js';
import { readRuntimeToken, runtimeBaseUrl, runtimePodsOf, type RuntimePod } from '../shared/runtime-pods.js';
import { kubeTime } from '../../api/time.js';
import { jobIdOf, specHash } from './job-id.js';
import { JobTracker, type RuntimeJobsClient, type TrackTarget } from './job-tracker.js';
import { aggregateProgress, type NodeProgress } from './progress.js';
import { decideNode, jobPhaseOf, nodeFailureMessage, RUNTIME_BUSY, TERMINAL_NODE_PHASES, type NodeStep, type PodView } from './run-state.js';
import { isScheduled } from './schedule.js';
import { ScheduledParents } from './scheduled-parents.js';
import { withTimeout } from '../shared/with-timeout.js';

export interface SampleJobOperatorOptions {
  /** Submissions per runtime pod before a run lost by its pod fails with RuntimeLost (default 3). */
  maxAttempts?: number;
  /** Long-poll duration of the tracker (default 20 s). */
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
   * (default 2 s): JuiceFS publishes directory usage of fresh writes with a short delay, so a
   * collection right at the end can miss the last files.
   */
  statsSettleMs?: number;
  /** Longest a reconcile waits on one runtime call it makes itself (terminate, cancel) (default 5 s). */
  runtimeCallTimeoutMs?: number;
}

/** The condition every run carries: Unknown while waiting/running, True/False at the end (Tekton-style). */
export const SUCCEEDED_CONDITION = 'Succeeded';
/** The condition a scheduled parent carries. */
export { SCHEDULED_CONDITION } from './scheduled-parents.js';

const USABLE_SAMPLESET_PHASES = new Set(['Ready', 'PartialReady']);

const jobTypeName: Record<string, string> = { sync: 'Sync', warmup: 'Warmup', rmr: 'Rmr', clear: 'Clear' };


function isTerminalPhase(p: string | undefined): boolean {
  return p === 'Succeeded' || p === 'Failed';
}

function podView(p: RuntimePod | undefined): PodView | undefined {
  return p ? { name: p.name, uid: p.uid, ready: p.ready, podIP: p.podIP, nodeName: p.nodeName } : undefined;
}

/** A problem that fails the job (reason, message) or makes it wait. */
class JobProblem extends Error {
  constructor(readonly reason: string, message: string, readonly wait: boolean) {
    super(message);
  }
}

@controller({ resource: SAMPLEJOB, name: 'samplejob' })
@owns(SAMPLEJOB)
@watches(SAMPLESET, (o, op: SampleJobOperator) => op.jobsUsingSampleSet(o.metadata?.namespace, o.metadata?.name))
@watches(POD, (o, op: SampleJobOperator) => op.jobsUsingSampleSet(o.metadata?.namespace, o.metadata?.labels?.[SAMPLESET_LABEL]), { labelSelector: SAMPLESET_LABEL })
export class SampleJobOperator extends ReconcilingOperator<SampleJob> {
  private readonly maxAttempts: number;
  private readonly progressIntervalMs: number;
  private readonly podWaitTimeoutMs: number;
  private readonly tokenCacheMs: number;
  private readonly resyncMs: number;
  /** Follows runs on the runtime pods (long-polls outside the reconcile). */
  readonly tracker: JobTracker;
  /** When a node of a run started waiting for its pod, keyed `<jobId>/<pod>`. */
  private readonly waitingSince = new Map<string, number>();
  /**
   * Runs whose `terminate` was sent. Status records it too (attempts > 0), but a reconcile that
   * reads a cache not yet showing this process's last status write must not terminate again: that
   * would cancel the run's own submission.
   */
  private readonly terminatedRuns = new Set<string>();
  /** When the status of a SampleJob was last written with a progress-only change. */
  private readonly lastProgressWrite = new Map<string, number>();
  private readonly tokens = new Map<string, { token: string | undefined; at: number }>();
  private readonly cancelFailures = new Map<string, number>();
  private readonly statsSettleMs: number;
  private readonly callTimeoutMs: number;
  private readonly settleTimers = new Set<NodeJS.Timeout>();
  private readonly scheduled: ScheduledParents;

  constructor(
    ctx: OperatorContext,
    private readonly engines: EngineRegistry,
    private readonly runtime: RuntimeJobsClient,
    private readonly notifier: CacheStatsNotifier,
    options: SampleJobOperatorOptions = {},
  ) {
    super(ctx);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.progressIntervalMs = options.progressIntervalMs ?? 1000;
    this.podWaitTimeoutMs = options.podWaitTimeoutMs ?? 300_000;
    this.tokenCacheMs = options.tokenCacheMs ?? 30_000;
    this.resyncMs = options.resyncMs ?? 60_000;
    this.statsSettleMs = options.statsSettleMs ?? 2000;
    this.callTimeoutMs = options.runtimeCallTimeoutMs ?? 5000;
    this.tracker = new JobTracker(runtime, (key) => this.queue.add(key), {
      waitSeconds: options.longPollSeconds ?? 20,
      clock: this.clock,
      onError: (e, t) => this.log.debug('runtime poll failed', { job: t.jobId, pod: t.pod, error: (e as Error).message }),
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
    if (!name) return [];
    return this.primary
      .list(namespace, (j) => j.spec?.sampleSetRef?.name === name && !isScheduled(j) && (!isTerminalPhase(j.status?.phase) || !!j.metadata?.deletionTimestamp))
      .map((j) => ({ namespace: j.metadata?.namespace, name: j.metadata!.name! }));
  }

  override async stop(timeoutMs?: number): Promise<void> {
    await super.stop(timeoutMs);
    this.tracker.stop();
    for (const t of this.settleTimers) clearTimeout(t);
    this.settleTimers.clear();
  }

  /** Marks the SampleSet's cache statistics stale now, and once more when the volume's metadata has settled. */
  private invalidateStats(namespace: string, sampleSet: string): void {
    this.notifier.invalidate(namespace, sampleSet);
    if (this.statsSettleMs <= 0) return;
    const t = setTimeout(() => {
      this.settleTimers.delete(t);
      this.notifier.invalidate(namespace, sampleSet);
    }, this.statsSettleMs);
    t.unref?.();
    this.settleTimers.add(t);
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
    for (const id of this.tracker.jobIdsOf(key)) this.forgetRun(id);
    this.tracker.untrackKey(key);
    this.lastProgressWrite.delete(key);
  }

  private forgetRun(jobId: string): void {
    this.tracker.untrack(jobId);
    for (const k of [...this.waitingSince.keys()]) if (k.startsWith(`${jobId}/`)) this.waitingSince.delete(k);
    for (const k of [...this.cancelFailures.keys()]) if (k.startsWith(`${jobId}/`)) this.cancelFailures.delete(k);
  }

  // ---------------------------------------------------------------------------------------------
  // one-shot runs

  private async reconcileRun(job: SampleJob): Promise<ReconcileResult> {
    const status = job.status ?? {};
    const phase = status.phase ?? '';
    const key = keyString({ namespace: job.metadata?.namespace, name: job.metadata!.name! });

    if (isTerminalPhase(phase)) {
      if (phase === 'Failed' && status.specHash && specHash(job.spec) !== status.specHash) return this.rerun(job);
      if (status.jobName) this.forgetRun(status.jobName);
      this.lastProgressWrite.delete(key);
      await this.removeFinalizer(job, SAMPLEJOB_FINALIZER);
      return;
    }

    const hash = specHash(job.spec);
    const submitted = !!status.jobName && (status.nodes ?? []).some((n) => (n.attempts ?? 0) > 0);
    // a run that has not submitted anything follows spec edits; a submitted one keeps its spec
    const fresh = !submitted && (!status.jobName || status.specHash !== hash);

    let sampleSet: SampleSet;
    let engine: CacheEngine;
    let secret: V1Secret | undefined;
    try {
      // a Secret of another namespace is refused before anything else (nothing reads it)
      const crossNs = crossNamespaceProblem(job.metadata?.namespace || 'default', 'spec.secretRef', job.spec.secretRef);
      if (crossNs && !submitted) throw new JobProblem(CROSS_NAMESPACE_SECRET, crossNs, false);
      ({ sampleSet, engine } = this.validateSampleSet(job, !submitted));
      if (!submitted) {
        secret = await this.credentialsSecret(job, sampleSet);
        this.validateRequests(job, sampleSet, engine, secret);
      }
    } catch (e) {
      if (!(e instanceof JobProblem)) throw e;
      if (submitted && e.wait) {
        // the SampleSet went away under a running job: nothing can finish it
        return this.fail(job, 'SampleSetNotFound', e.message);
      }
      return e.wait ? this.waitFor(job, e.reason, e.message) : this.fail(job, e.reason, e.message);
    }

    const jobId = fresh ? jobIdOf(job, hash) : status.jobName!;
    const fanOut = engine.fanOut(job.spec.type);
    const stsName = engine.statefulSetName(sampleSet);
    const pods = runtimePodsOf(this.podsIn(job.metadata?.namespace), sampleSet.metadata.name!, stsName);
    const byName = new Map(pods.map((p) => [p.name, p]));
    const token = await this.tokenOf(sampleSet, engine);

    // the nodes of the run: fixed at the first submission
    let nodes: SampleJobNodeStatus[];
    if (fresh || !status.nodes?.length) {
      nodes =
        fanOut === 'all'
          ? Array.from({ length: Math.max(1, sampleSet.spec.partitions) }, (_, i) => ({ pod: `${stsName}-${i}`, phase: 'Waiting', attempts: 0 }))
          : [{ pod: (pods.find((p) => p.ready && p.ordinal === 0) ?? pods.find((p) => p.ready))?.name ?? `${stsName}-0`, phase: 'Waiting', attempts: 0 }];
    } else {
      nodes = status.nodes.map((n) => ({ ...n }));
    }
    if (fanOut === 'one') this.repickSinglePod(jobId, nodes[0], pods);

    // decide per node
    const now = this.clock.now();
    const steps: NodeStep[] = nodes.map((entry) => {
      const pod = byName.get(entry.pod);
      const tracked = this.tracker.get(jobId, entry.pod);
      const wk = `${jobId}/${entry.pod}`;
      const step = decideNode({
        entry,
        pod: token ? podView(pod) : podView(pod && { ...pod, ready: false }),
        track: tracked,
        waitingSince: this.waitingSince.get(wk),
        now,
        maxAttempts: this.maxAttempts,
        podWaitTimeoutMs: this.podWaitTimeoutMs,
      });
      const waiting = (step.action === 'observe' && step.waiting) || step.action === 'retry-submit';
      if (waiting) {
        if (!this.waitingSince.has(wk)) this.waitingSince.set(wk, now);
      } else if (step.action !== 'fail') {
        this.waitingSince.delete(wk);
      }
      return step;
    });

    const toSubmit = steps.flatMap((s, i) => (s.action === 'submit' ? [i] : []));
    const toRetry = steps.flatMap((s, i) => (s.action === 'retry-submit' ? [i] : []));
    const anySubmittedBefore = nodes.some((n) => (n.attempts ?? 0) > 0);

    // terminate: cancel what the runtime pods run, once, before this run's first submission
    if (toSubmit.length > 0 && !anySubmittedBefore && job.spec.terminate && token && !this.terminatedRuns.has(jobId)) {
      const ready = pods.filter((p) => p.ready && p.podIP);
      const cancelled: string[] = [];
      // all pods in parallel, each bounded; a failure retries the reconcile (nothing was submitted yet)
      await Promise.all(
        ready.map(async (p) => {
          const ids = await withTimeout(this.runtime.terminate(runtimeBaseUrl(p)!, token), this.callTimeoutMs, `terminate on ${p.name}`);
          if (Array.isArray(ids)) cancelled.push(...(ids as string[]));
        }),
      );
      this.terminatedRuns.add(jobId);
      if (this.terminatedRuns.size > 10_000) this.terminatedRuns.delete(this.terminatedRuns.values().next().value!);
      void this.event(job, 'Normal', 'Terminated', `cancelled ${cancelled.length} job(s) on ${ready.length} runtime pod(s) before submitting`);
    }

    // apply the decisions to the node entries
    const progressOf = new Map<string, NodeProgress>();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      const s = steps[i];
      const pod = byName.get(n.pod);
      if (pod?.nodeName && !TERMINAL_NODE_PHASES.has(n.phase ?? '')) n.node = pod.nodeName;
      switch (s.action) {
        case 'submit':
          n.attempts = (n.attempts ?? 0) + 1;
          n.phase = 'Pending';
          n.message = s.message ?? `submitted to ${n.pod}`;
          if (s.resubmit) void this.event(job, 'Warning', 'Resubmitted', s.message ?? `resubmitted to ${n.pod}`);
          break;
        case 'fail':
          n.phase = 'Failed';
          n.message = nodeFailureMessage(s.reason, s.message);
          break;
        case 'observe':
          // entering "runtime busy": tell the user once (the condition says it as long as it lasts)
          if (s.busy && !(n.message ?? '').startsWith(`${RUNTIME_BUSY}: `)) void this.event(job, 'Warning', RUNTIME_BUSY, (s.message ?? '').slice(RUNTIME_BUSY.length + 2));
          n.phase = s.phase;
          if (s.message !== undefined) n.message = s.message;
          else delete n.message;
          break;
        default:
          break;
      }
      const tracked = this.tracker.get(jobId, n.pod);
      progressOf.set(n.pod, { phase: n.phase, progress: s.action === 'observe' ? s.progress : tracked?.state?.progress });
    }

    // the status this pass wants
    const desired = this.runStatus(job, jobId, hash, fresh, nodes, progressOf, now);
    const willSubmit = toSubmit.length > 0;
    const significant = this.significantChange(status, desired);
    let current: SampleJob = job;
    if (fresh || willSubmit) current = await this.addFinalizer(job, SAMPLEJOB_FINALIZER);

    let requeue: number | undefined;
    if (willSubmit || significant || fresh) {
      current = (await this.patchStatus(current, desired as Record<string, unknown>)) ?? current;
      this.lastProgressWrite.set(key, now);
    } else if (!jsonEqual(status.progress, desired.progress) || !jsonEqual(status.nodes, desired.nodes)) {
      const last = this.lastProgressWrite.get(key) ?? 0;
      if (now - last >= this.progressIntervalMs) {
        current = (await this.patchStatus(current, desired as Record<string, unknown>)) ?? current;
        this.lastProgressWrite.set(key, now);
      } else {
        requeue = this.progressIntervalMs - (now - last);
      }
    }
    this.announce(job, status.phase ?? '', desired);

    if (isTerminalPhase(desired.phase)) {
      await this.complete(current, desired, sampleSet, jobId);
      return;
    }

    // submissions, after the status that records them
    if (token) {
      for (const i of [...toSubmit, ...toRetry]) {
        const n = nodes[i];
        const pod = byName.get(n.pod)!;
        const shard = fanOut === 'all' ? i : 0;
        const shards = fanOut === 'all' ? nodes.length : 1;
        this.submit(key, job, sampleSet, engine, jobId, pod, token, shard, shards);
      }
      // follow every submitted node at its pod's current address (idempotent: a new address or a
      // new pod makes the tracker ask there at once)
      for (let i = 0; i < nodes.length; i++) {
        const a = steps[i].action;
        if (a === 'submit' || a === 'retry-submit' || a === 'done' || a === 'fail' || (nodes[i].attempts ?? 0) === 0) continue;
        const pod = byName.get(nodes[i].pod);
        if (pod?.podIP && pod.ready) this.tracker.track(this.target(key, jobId, pod, token));
      }
    }

    // when to look again without an event: submission retries, pod wait deadlines, a safety resync
    const candidates: number[] = [this.resyncMs];
    if (requeue !== undefined) candidates.push(requeue);
    for (const n of nodes) {
      const since = this.waitingSince.get(`${jobId}/${n.pod}`);
      if (since !== undefined) candidates.push(Math.max(100, since + this.podWaitTimeoutMs - now + 100));
      const t = this.tracker.get(jobId, n.pod);
      if (t?.submitPending && !t.submitting && t.nextSubmitAt !== undefined) candidates.push(Math.max(10, t.nextSubmitAt - now));
      if (t?.errorSince !== undefined) candidates.push(Math.max(100, t.errorSince + this.podWaitTimeoutMs - now + 100));
    }
    if (!token) candidates.push(2000);
    return { requeueAfterMs: Math.min(...candidates) };
  }

  /** sync/rmr: move a run that has no usable pod to another ready one (nothing else can finish it). */
  private repickSinglePod(jobId: string, entry: SampleJobNodeStatus, pods: RuntimePod[]): void {
    if (TERMINAL_NODE_PHASES.has(entry.phase ?? '')) return;
    const cur = pods.find((p) => p.name === entry.pod);
    if (cur?.ready && cur.podIP) return;
    const tracked = this.tracker.get(jobId, entry.pod);
    const lost = (entry.attempts ?? 0) === 0 || !cur || !!tracked?.unknown;
    if (!lost) return;
    const alt = pods.find((p) => p.ready && p.podIP && p.ordinal === 0) ?? pods.find((p) => p.ready && p.podIP);
    if (!alt || alt.name === entry.pod) return;
    this.tracker.untrack(jobId);
    this.waitingSince.delete(`${jobId}/${entry.pod}`);
    entry.pod = alt.name;
    entry.node = alt.nodeName;
  }

  private target(key: string, jobId: string, pod: RuntimePod, token: string): TrackTarget {
    return { key, jobId, pod: pod.name, podUid: pod.uid, baseUrl: runtimeBaseUrl(pod)!, token };
  }

  /** Submits in the background; the tracker re-queues the job when it fails, and follows the run when it succeeds. */
  private submit(
    key: string,
    job: SampleJob,
    sampleSet: SampleSet,
    engine: CacheEngine,
    jobId: string,
    pod: RuntimePod,
    token: string,
    shard: number,
    shards: number,
  ): void {
    const target = this.target(key, jobId, pod, token);
    const ns = job.metadata?.namespace;
    const name = job.metadata?.name;
    this.tracker.submit(
      target,
      async () => {
        const secret = job.spec.type === 'sync' ? await this.credentialsSecret(job, sampleSet) : undefined;
        return engine.jobRequest(job, sampleSet, jobId, shard, shards, secret);
      },
      () => this.log.info('submitted', { namespace: ns, name, job: jobId, pod: pod.name, shard, shards }),
    );
  }

  /** The status of a run as this pass sees it (phase from the nodes, progress summed). */
  private runStatus(
    job: SampleJob,
    jobId: string,
    hash: string,
    fresh: boolean,
    nodes: SampleJobNodeStatus[],
    progressOf: Map<string, NodeProgress>,
    now: number,
  ): SampleJobStatus {
    const prev = job.status ?? {};
    const anySubmitted = nodes.some((n) => (n.attempts ?? 0) > 0);
    const result = jobPhaseOf(nodes);
    let phase: SampleJobPhase = result.phase;
    if (!anySubmitted && phase !== 'Failed') phase = 'Pending';
    const progress: JobProgress = aggregateProgress(nodes.map((n) => progressOf.get(n.pod) ?? { phase: n.phase }));
    const out: SampleJobStatus = {
      phase,
      jobName: jobId,
      specHash: fresh ? hash : (prev.specHash ?? hash),
      observedGeneration: job.metadata?.generation,
      nodes,
      attempts: nodes.reduce((a, n) => a + (n.attempts ?? 0), 0),
      progress: Object.keys(progress).length ? progress : (prev.progress ?? undefined),
    };
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
  private significantChange(prev: SampleJobStatus, next: SampleJobStatus): boolean {
    if (prev.phase !== next.phase || prev.jobName !== next.jobName || prev.specHash !== next.specHash) return true;
    if (prev.startTime !== next.startTime || prev.completionTime !== next.completionTime) return true;
    if (prev.observedGeneration !== next.observedGeneration) return true;
    const strip = (n: SampleJobNodeStatus[] | undefined) => (n ?? []).map((x) => ({ pod: x.pod, node: x.node, phase: x.phase, attempts: x.attempts }));
    if (!jsonEqual(strip(prev.nodes), strip(next.nodes))) return true;
    const cond = (c: Condition[] | undefined) => (c ?? []).map((x) => ({ type: x.type, status: x.status, reason: x.reason }));
    return !jsonEqual(cond(prev.conditions), cond(next.conditions));
  }

  /** Events on phase transitions. */
  private announce(job: SampleJob, from: string, next: SampleJobStatus): void {
    if (from === next.phase) return;
    const c = next.conditions?.find((x) => x.type === SUCCEEDED_CONDITION);
    const type = jobTypeName[job.spec.type] ?? job.spec.type;
    switch (next.phase) {
      case 'Pending':
        void this.event(job, 'Normal', 'Pending', `${type} job ${next.jobName} accepted: ${c?.message ?? ''}`.trim());
        break;
      case 'Running':
        void this.event(job, 'Normal', 'Running', `${type} job ${next.jobName} running on ${(next.nodes ?? []).map((n) => n.pod).join(', ')}`);
        break;
      case 'Succeeded': {
        const took = next.startTime && next.completionTime ? ` in ${Math.max(0, Date.parse(next.completionTime) - Date.parse(next.startTime)) / 1000}s` : '';
        void this.event(job, 'Normal', 'Succeeded', `${type} job ${next.jobName} succeeded${took}`);
        break;
      }
      case 'Failed':
        void this.event(job, 'Warning', c?.reason ?? 'Failed', `${type} job failed: ${c?.message ?? ''}`);
        break;
    }
  }

  private async complete(job: SampleJob, status: SampleJobStatus, sampleSet: SampleSet | undefined, jobId: string | undefined): Promise<void> {
    const ns = job.metadata?.namespace ?? 'default';
    if (sampleSet) this.invalidateStats(ns, sampleSet.metadata.name!);
    else if (job.spec?.sampleSetRef?.name) this.invalidateStats(ns, job.spec.sampleSetRef.name);
    if (jobId) this.forgetRun(jobId);
    this.lastProgressWrite.delete(keyString({ namespace: ns, name: job.metadata!.name! }));
    this.log.info('job finished', { namespace: ns, name: job.metadata?.name, phase: status.phase, job: jobId });
    await this.removeFinalizer(job, SAMPLEJOB_FINALIZER);
  }

  /** Fails the run with `reason` (validation or a lost SampleSet): terminal until the spec changes. */
  private async fail(job: SampleJob, reason: string, message: string): Promise<ReconcileResult> {
    const now = this.clock.now();
    const prev = job.status ?? {};
    const hash = specHash(job.spec);
    const status: SampleJobStatus = {
      phase: 'Failed',
      specHash: hash,
      observedGeneration: job.metadata?.generation,
      completionTime: kubeTime(now),
      conditions: setCondition(
        prev.conditions,
        { type: SUCCEEDED_CONDITION, status: 'False', reason, message, observedGeneration: job.metadata?.generation },
        new Date(now),
      ),
    };
    if (prev.nodes?.length) {
      status.nodes = prev.nodes.map((n) => (TERMINAL_NODE_PHASES.has(n.phase ?? '') ? n : { ...n, phase: 'Failed', message: `${reason}: ${message}` }));
    }
    if (prev.jobName) status.jobName = prev.jobName;
    const updated = (await this.patchStatus(job, status as Record<string, unknown>)) ?? job;
    void this.event(job, 'Warning', reason, message);
    await this.complete(updated, status, undefined, prev.jobName);
    return;
  }

  /** Waits (phase Pending, a condition saying why); the SampleSet/Pod watches re-queue the job. */
  private async waitFor(job: SampleJob, reason: string, message: string): Promise<ReconcileResult> {
    const prev = job.status ?? {};
    const now = this.clock.now();
    const conditions = setCondition(
      prev.conditions,
      { type: SUCCEEDED_CONDITION, status: 'Unknown', reason, message, observedGeneration: job.metadata?.generation },
      new Date(now),
    );
    const status: SampleJobStatus = { phase: 'Pending', observedGeneration: job.metadata?.generation, conditions };
    const changed = prev.phase !== 'Pending' || prev.observedGeneration !== job.metadata?.generation || !jsonEqual(prev.conditions, conditions);
    if (changed) {
      await this.patchStatus(job, status as Record<string, unknown>);
      void this.event(job, reason === 'SampleSetNotReady' ? 'Normal' : 'Warning', reason, message);
    }
    // the SampleSet watch re-queues; a slow safety net covers anything else
    return { requeueAfterMs: this.resyncMs };
  }

  /** A Failed job whose spec changed: start over with a new run id. */
  private async rerun(job: SampleJob): Promise<ReconcileResult> {
    const prev = job.status ?? {};
    if (prev.jobName) this.forgetRun(prev.jobName);
    const now = this.clock.now();
    const conditions = setCondition(
      prev.conditions,
      { type: SUCCEEDED_CONDITION, status: 'Unknown', reason: 'Rerun', message: 'the spec changed after a failure; running again', observedGeneration: job.metadata?.generation },
      new Date(now),
    );
    await this.patchStatus(job, {
      phase: '',
      jobName: null,
      specHash: null,
      nodes: null,
      progress: null,
      attempts: null,
      startTime: null,
      completionTime: null,
      observedGeneration: job.metadata?.generation,
      conditions,
    });
    void this.event(job, 'Normal', 'Rerun', 'the spec of the failed job changed; running it again');
    return;
  }

  // ---------------------------------------------------------------------------------------------
  // validation and lookups

  private validateSampleSet(job: SampleJob, beforeStart: boolean): { sampleSet: SampleSet; engine: CacheEngine } {
    if (!SAMPLEJOB_TYPES.includes(job.spec?.type)) {
      throw new JobProblem('InvalidType', `type must be one of ${SAMPLEJOB_TYPES.join(', ')} (got ${JSON.stringify(job.spec?.type)})`, false);
    }
    const name = job.spec.sampleSetRef?.name;
    if (!name) throw new JobProblem('SampleSetNotSpecified', 'spec.sampleSetRef.name is required', false);
    const sampleSet = this.cacheOf<SampleSet>(SAMPLESET).get(name, job.metadata?.namespace);
    if (!sampleSet) throw new JobProblem('SampleSetNotFound', `SampleSet ${name} not found in namespace ${job.metadata?.namespace}`, true);
    let engine: CacheEngine;
    try {
      engine = this.engines.get(engineNameOf(sampleSet));
    } catch (e) {
      if (e instanceof SpecError) throw new JobProblem(e.reason, e.message, false);
      throw e;
    }
    if (beforeStart) {
      if (sampleSet.metadata.deletionTimestamp) throw new JobProblem('SampleSetDeleting', `SampleSet ${name} is being deleted`, false);
      const phase = sampleSet.status?.phase ?? '';
      if (!USABLE_SAMPLESET_PHASES.has(phase)) {
        throw new JobProblem('SampleSetNotReady', `waiting for SampleSet ${name} to be Ready or PartialReady (phase ${JSON.stringify(phase)})`, true);
      }
    }
    return { sampleSet, engine };
  }

  /** The source credentials of a sync: spec.secretRef, else the SampleSet's source Secret. */
  private async credentialsSecret(job: SampleJob, sampleSet: SampleSet): Promise<V1Secret | undefined> {
    if (job.spec.type !== 'sync') return undefined;
    const ns = job.metadata?.namespace || 'default';
    const field = job.spec.secretRef ? 'spec.secretRef' : `the SampleSet's spec.source.secretRef`;
    const ref = job.spec.secretRef ?? sampleSet.spec.source?.secretRef;
    // only the job's own namespace (the SampleSet's is the same): never read another namespace's Secret
    const crossNs = crossNamespaceProblem(ns, field, ref);
    if (crossNs) throw new JobProblem(CROSS_NAMESPACE_SECRET, crossNs, false);
    if (!ref?.name) {
      const source = job.spec.syncOptions?.source ?? sampleSet.spec.source?.uri ?? '';
      if (/^file:\/\//i.test(source)) return undefined;
      throw new JobProblem('SecretNotSpecified', 'a sync job needs source credentials: set spec.secretRef (or the SampleSet\'s spec.source.secretRef)', false);
    }
    const secret = await this.api.get<V1Secret>(SECRET, ref.name, ns);
    if (!secret) throw new JobProblem('SecretNotFound', `Secret ${ns}/${ref.name} not found`, false);
    return secret;
  }

  /** Builds every request once, so option errors (unsafe paths, bad source) fail before anything runs. */
  private validateRequests(job: SampleJob, sampleSet: SampleSet, engine: CacheEngine, secret: V1Secret | undefined): void {
    const shards = engine.fanOut(job.spec.type) === 'all' ? Math.max(1, sampleSet.spec.partitions) : 1;
    try {
      for (let i = 0; i < shards; i++) engine.jobRequest(job, sampleSet, 'validate', i, shards, secret);
    } catch (e) {
      if (e instanceof SpecError) throw new JobProblem(e.reason, e.message, false);
      throw new JobProblem('InvalidOptions', (e as Error).message, false);
    }
  }

  private podsIn(namespace: string | undefined): V1Pod[] {
    return this.cacheOf<V1Pod>(POD).list(namespace);
  }

  /** The SampleSet's runtime bearer token (cached briefly). */
  private async tokenOf(sampleSet: SampleSet, engine: CacheEngine): Promise<string | undefined> {
    const ns = sampleSet.metadata.namespace;
    const name = engine.tokenSecretName(sampleSet);
    const k = `${ns}/${name}`;
    const hit = this.tokens.get(k);
    const now = this.clock.now();
    if (hit && hit.token && now - hit.at < this.tokenCacheMs) return hit.token;
    const secret = await this.api.get<V1Secret>(SECRET, name, ns);
    const token = readRuntimeToken(secret);
    this.tokens.set(k, { token, at: now });
    return token;
  }

  // ---------------------------------------------------------------------------------------------
  // deletion

  private async finalize(job: SampleJob): Promise<ReconcileResult> {
    if (!(job.metadata?.finalizers ?? []).includes(SAMPLEJOB_FINALIZER)) {
      this.forget(keyString({ namespace: job.metadata?.namespace, name: job.metadata!.name! }));
      return;
    }
    const status = job.status ?? {};
    const jobId = status.jobName;
    let retry = false;
    if (jobId && !isTerminalPhase(status.phase) && !isScheduled(job)) {
      const sampleSet = this.cacheOf<SampleSet>(SAMPLESET).get(job.spec.sampleSetRef?.name ?? '', job.metadata?.namespace);
      let engine: CacheEngine | undefined;
      try {
        engine = sampleSet ? this.engines.get(engineNameOf(sampleSet)) : undefined;
      } catch {
        engine = undefined;
      }
      if (sampleSet && engine) {
        const token = await this.tokenOf(sampleSet, engine).catch(() => undefined);
        const pods = runtimePodsOf(this.podsIn(job.metadata?.namespace), sampleSet.metadata.name!, engine.statefulSetName(sampleSet));
        const targets = (status.nodes ?? []).filter((n) => (n.attempts ?? 0) > 0 && !TERMINAL_NODE_PHASES.has(n.phase ?? ''));
        let cancelled = 0;
        await Promise.all(
          targets.map(async (n) => {
            const pod = pods.find((p) => p.name === n.pod);
            if (!token || !pod?.ready || !pod.podIP) return; // gone: nothing of ours runs there any more
            try {
              await withTimeout(this.runtime.cancel(runtimeBaseUrl(pod)!, token, jobId), this.callTimeoutMs, `cancel on ${n.pod}`);
              cancelled++;
            } catch (e) {
              const fk = `${jobId}/${n.pod}`;
              const failures = (this.cancelFailures.get(fk) ?? 0) + 1;
              this.cancelFailures.set(fk, failures);
              this.log.warn('cancel failed', { namespace: job.metadata?.namespace, name: job.metadata?.name, pod: n.pod, failures, error: (e as Error).message });
              if (failures < 3) retry = true; // never block deletion for long
            }
          }),
        );
        if (targets.length > 0) void this.event(job, 'Normal', 'Cancelled', `cancelled job ${jobId} on ${cancelled} runtime pod(s)`);
      }
    }
    if (retry) throw new Error('could not cancel the job on every runtime pod; retrying');
    if (jobId) this.forgetRun(jobId);
    this.forget(keyString({ namespace: job.metadata?.namespace, name: job.metadata!.name! }));
    await this.removeFinalizer(job, SAMPLEJOB_FINALIZER);
    if (job.spec?.sampleSetRef?.name && jobId && !isTerminalPhase(status.phase)) this.invalidateStats(job.metadata?.namespace ?? 'default', job.spec.sampleSetRef.name);
    return;
  }
}
