/**
 * Automatic re-warm of a SampleSet's partitions, one reconcile step at a time (rewarm-plan.ts says
 * which). A step never waits on a runtime: it submits in the background through its own
 * RuntimeJobWatcher (kept apart from the initial sync's, which drops every other job of the
 * SampleSet), reads what the watcher knows, and returns the record each partition shows in
 * `status.nodes[].rewarm`. The job id in that record lets a restarted operator find the re-warm on
 * its pod again instead of starting it twice.
 */
import type { SampleJob } from '../../api/samplejob.js';
import type { CacheNodeRewarm, SampleSet } from '../../api/sampleset.js';
import { kubeTime } from '../../api/time.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { Clock } from '../../kube/clock.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { SampleSetRuntimeCalls } from '../shared/runtime-calls.js';
import { cancelledByShutdown, phaseOfRuntimeJob } from '../shared/runtime-job-phase.js';
import type { RuntimeJobWatcher, WatchTarget } from '../shared/runtime-job-watcher.js';
import { runtimeBaseUrl, type RuntimePod } from '../shared/runtime-pods.js';
import { isTerminalRewarm, rewarmReason, rewarmSource, rewarmsWanted, type RewarmWanted } from './rewarm-plan.js';

/** Safety re-check while a re-warm runs (the watcher re-queues on every change). */
const SAFETY_NET_MS = 60_000;

export interface PartitionRewarmDeps {
  runtime: Pick<SampleSetRuntimeCalls, 'healthz'>;
  watcher: RuntimeJobWatcher;
  event(ss: SampleSet, type: EventType, reason: string, message: string): Promise<void>;
  /** Told when a re-warm succeeded (the cache statistics are stale). */
  onSucceeded(key: string): void;
  clock: Clock;
}

export interface RewarmStepInput {
  key: string;
  sampleSet: SampleSet;
  engine: CacheEngine;
  partitions: number;
  /** Ready partition pods (none on a lost node). */
  ready: RuntimePod[];
  token: string;
  /** Every SampleJob in the SampleSet's namespace. */
  sampleJobs: readonly SampleJob[];
}

export interface RewarmStepResult {
  /** What `status.nodes[partition].rewarm` shows. */
  records: Map<number, CacheNodeRewarm>;
  requeueAfterMs?: number;
}

export class PartitionRewarm {
  constructor(private readonly deps: PartitionRewarmDeps) {}

  /** Drops what is known of SampleSet `k` (it is gone or being deleted). */
  forget(k: string): void {
    this.deps.watcher.untrackKey(k);
  }

  async step(input: RewarmStepInput): Promise<RewarmStepResult> {
    const { key: k, sampleSet: ss, partitions, ready } = input;
    const shown = new Map((ss.status?.nodes ?? []).filter((n) => n.rewarm).map((n) => [n.partition, n.rewarm!]));
    const source = rewarmSource(ss, input.sampleJobs);
    const wanted = new Map(rewarmsWanted(ss, source, ready, partitions).map((w) => [w.partition, w]));
    const records = new Map<number, CacheNodeRewarm>();
    const followed = new Set<string>();
    let requeue = Infinity;
    for (let i = 0; i < partitions; i++) {
      const rec = shown.get(i);
      const w = wanted.get(i);
      if (!w) {
        // history stays; an unfinished one stays while its pod is away (it is found again when it is back)
        if (rec && (isTerminalRewarm(rec) || !ready.some((p) => p.ordinal === i))) records.set(i, rec);
        continue;
      }
      if (rec?.id === w.id && isTerminalRewarm(rec)) {
        records.set(i, rec);
        continue;
      }
      followed.add(`${w.id}@${w.pod.name}`);
      const next = await this.advance(input, w, rec?.id === w.id ? rec : undefined, source.warmup!);
      records.set(i, next.record);
      requeue = Math.min(requeue, next.requeueAfterMs ?? Infinity);
    }
    for (const e of this.deps.watcher.entriesOf(k)) if (!followed.has(`${e.jobId}@${e.pod}`)) this.deps.watcher.release(e.jobId, e.pod);
    return { records, ...(Number.isFinite(requeue) ? { requeueAfterMs: requeue } : {}) };
  }

  /** One step of one partition's re-warm: submit, ask again after a restart, or report what the runtime says. */
  private async advance(
    input: RewarmStepInput,
    w: RewarmWanted,
    rec: CacheNodeRewarm | undefined,
    warmup: SampleJob,
  ): Promise<{ record: CacheNodeRewarm; requeueAfterMs?: number }> {
    const { watcher, clock } = this.deps;
    const ss = input.sampleSet;
    const now = clock.now();
    const base: CacheNodeRewarm = rec ?? {
      warmup: warmup.metadata.name!,
      id: w.id,
      shard: w.shard,
      shards: w.shards,
      podUID: w.pod.uid!,
      phase: 'Pending',
      startTime: kubeTime(now),
    };
    const target: WatchTarget = {
      key: input.key,
      jobId: w.id,
      pod: w.pod.name,
      podUid: w.pod.uid,
      baseUrl: runtimeBaseUrl(w.pod)!,
      token: input.token,
    };
    const e = watcher.get(w.id, w.pod.name);
    if (!e) {
      // recorded before an operator restart: ask the pod first; else start it
      if (rec) watcher.track(target);
      else {
        this.submit(input, w, warmup, target);
        const why = rewarmReason(warmup, Date.parse(warmup.status?.completionTime ?? '') || 0, w.pod, input.partitions);
        await this.deps.event(
          ss,
          'Normal',
          'RewarmStarted',
          `warming shard ${w.shard + 1}/${w.shards} on runtime pod ${w.pod.name} again with warmup SampleJob ${warmup.metadata.name}: ${why}`,
        );
      }
      return { record: base, requeueAfterMs: SAFETY_NET_MS };
    }
    if (e.submitPending) {
      if (!e.submitting && (e.nextSubmitAt ?? 0) <= now) this.submit(input, w, warmup, target);
      const message = e.submitError ? `not accepted by ${w.pod.name} yet: ${e.submitError}` : undefined;
      return {
        record: { ...base, ...(message ? { message } : {}) },
        requeueAfterMs: Math.max(0, (e.nextSubmitAt ?? now) - now) || SAFETY_NET_MS,
      };
    }
    if (e.unknown || cancelledByShutdown(e.state)) {
      // the pod does not know it, or its runtime stopped under it (restarted, or an old process
      // still answering on a reused address): run it again
      this.submit(input, w, warmup, target);
      return { record: { ...base, phase: 'Pending' }, requeueAfterMs: SAFETY_NET_MS };
    }
    if (!e.state) return { record: base, requeueAfterMs: SAFETY_NET_MS };
    const phase = phaseOfRuntimeJob(e.state.status);
    const record: CacheNodeRewarm = { ...base, phase };
    if (e.state.message) record.message = e.state.message;
    else delete record.message;
    if (!isTerminalRewarm(record)) return { record, requeueAfterMs: SAFETY_NET_MS };
    record.completionTime = kubeTime(now);
    watcher.release(w.id, w.pod.name);
    const what = `re-warm of shard ${w.shard + 1}/${w.shards} on runtime pod ${w.pod.name} (warmup SampleJob ${base.warmup})`;
    if (phase === 'Succeeded') {
      this.deps.onSucceeded(input.key);
      await this.deps.event(ss, 'Normal', 'RewarmSucceeded', `${what} succeeded`);
    } else {
      await this.deps.event(
        ss,
        'Warning',
        'RewarmFailed',
        `${what} failed: ${e.state.message ?? 'no message'}; run a warmup SampleJob to warm the shard again`,
      );
    }
    return { record };
  }

  private submit(input: RewarmStepInput, w: RewarmWanted, warmup: SampleJob, target: WatchTarget): void {
    const req = input.engine.jobRequest(warmup, input.sampleSet, w.id, w.shard, w.shards, undefined);
    this.deps.watcher.submit(target, async () => {
      // a pod is Ready before its server listens (KWOK, or a slow start): ask cheaply first
      if (!(await this.deps.runtime.healthz(target.baseUrl))) throw new Error('the runtime server does not answer /healthz yet');
      return req;
    });
  }
}
