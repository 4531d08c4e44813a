/**
 * Stopping what an unfinished run has submitted: on deletion and when a run fails for a reason of
 * its own (deadline, replaced SampleSet), its job is cancelled on the SampleSet's runtime pods. A
 * pod that could not be told makes the caller retry (RunCancellation bounds the retries).
 */
import type { SampleJob } from '../../api/samplejob.js';
import type { CachedPod } from '../../kube/cached-objects.js';
import { engineNameOf } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { EventType } from '../../kube/event-recorder.js';
import { runtimePodsOf } from '../shared/runtime-pods.js';
import type { RunCancellation } from './run-cancellation.js';
import { isTerminalPhase } from './run-status.js';
import type { ValidationLookups } from './run-validation.js';
import type { RuntimeTokenCache } from './runtime-token-cache.js';
import { isScheduled } from './schedule.js';

export interface RunTeardownDeps {
  lookups: Pick<ValidationLookups, 'engines' | 'sampleSet'>;
  tokens: Pick<RuntimeTokenCache, 'tokenOf'>;
  cancellation: Pick<RunCancellation, 'cancelRun'>;
  /** The pods carrying SampleSet `namespace/name`'s label. */
  labelledPods(namespace: string | undefined, name: string): CachedPod[];
  event(job: SampleJob, type: EventType, reason: string, message: string): Promise<void>;
}

export class RunTeardown {
  constructor(private readonly deps: RunTeardownDeps) {}

  /**
   * Cancels what an unfinished run has submitted on the SampleSet's runtime pods (nothing for a
   * finished run or a scheduled parent); throws while some pod could not be told, so the caller is
   * retried.
   */
  async cancelRuntimeWork(job: SampleJob): Promise<void> {
    const jobId = job.status?.jobName;
    if (!jobId || isTerminalPhase(job.status?.phase) || isScheduled(job)) return;
    const sampleSet = this.deps.lookups.sampleSet(job.spec.sampleSetRef?.name ?? '', job.metadata?.namespace);
    let engine: CacheEngine | undefined;
    try {
      engine = sampleSet ? this.deps.lookups.engines.get(engineNameOf(sampleSet)) : undefined;
    } catch {
      engine = undefined;
    }
    if (!sampleSet || !engine) return;
    const token = await this.deps.tokens.tokenOf(sampleSet, engine).catch(() => undefined);
    const pods = runtimePodsOf(
      this.deps.labelledPods(job.metadata?.namespace, sampleSet.metadata.name!),
      sampleSet.metadata.name!,
      engine.statefulSetName(sampleSet),
    );
    const r = await this.deps.cancellation.cancelRun(job, jobId, pods, token);
    if (r.targets > 0) void this.deps.event(job, 'Normal', 'Cancelled', `cancelled job ${jobId} on ${r.cancelled} runtime pod(s)`);
    if (r.retry) throw new Error('could not cancel the job on every runtime pod; retrying');
  }
}
