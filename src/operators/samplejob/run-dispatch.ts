/**
 * Sending a run to its runtime pods, after the status that records it is written: submissions in
 * the background (the RuntimeJobWatcher re-queues the SampleJob when one is accepted or refused,
 * and follows the run once accepted), and following every submitted node at its pod's current
 * address.
 */
import type { SampleJob, SampleJobNodeStatus } from '../../api/samplejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { Logger } from '../../observability/logger.js';
import { runtimeBaseUrl, type RuntimePod } from '../shared/runtime-pods.js';
import type { RuntimeJobWatcher, WatchTarget } from '../shared/runtime-job-watcher.js';
import type { NodeStep } from './run-state.js';
import { credentialsSecret, type ValidationLookups } from './run-validation.js';

export interface DispatchInput {
  /** The SampleJob's queue key. */
  key: string;
  job: SampleJob;
  sampleSet: SampleSet;
  engine: CacheEngine;
  jobId: string;
  nodes: SampleJobNodeStatus[];
  steps: NodeStep[];
  podsByName: Map<string, RuntimePod>;
  token: string;
}

export class RunDispatch {
  constructor(
    private readonly watcher: RuntimeJobWatcher,
    private readonly lookups: Pick<ValidationLookups, 'secret'>,
    private readonly log: Logger,
  ) {}

  dispatch(d: DispatchInput): void {
    const fanOut = d.engine.fanOut(d.job.spec.type);
    // new submissions first, then the retries of those whose POST failed
    for (const action of ['submit', 'retry-submit'] as const) {
      d.steps.forEach((s, i) => {
        if (s.action !== action) return;
        const shard = fanOut === 'all' ? i : 0;
        const shards = fanOut === 'all' ? d.nodes.length : 1;
        this.submit(d, d.podsByName.get(d.nodes[i].pod)!, shard, shards);
      });
    }
    // follow every submitted node at its pod's current address (idempotent: a new address or a
    // new pod makes the watcher ask there at once)
    for (let i = 0; i < d.nodes.length; i++) {
      const a = d.steps[i].action;
      if (a === 'submit' || a === 'retry-submit' || a === 'done' || a === 'fail' || (d.nodes[i].attempts ?? 0) === 0) continue;
      const pod = d.podsByName.get(d.nodes[i].pod);
      if (pod?.podIP && pod.ready) this.watcher.track(target(d, pod));
    }
  }

  private submit(d: DispatchInput, pod: RuntimePod, shard: number, shards: number): void {
    const { job, sampleSet, engine, jobId } = d;
    this.watcher.submit(
      target(d, pod),
      async () => {
        const secret = job.spec.type === 'sync' ? await credentialsSecret(job, sampleSet, this.lookups) : undefined;
        return engine.jobRequest(job, sampleSet, jobId, shard, shards, secret);
      },
      () =>
        this.log.info('submitted', {
          namespace: job.metadata?.namespace,
          name: job.metadata?.name,
          job: jobId,
          pod: pod.name,
          shard,
          shards,
        }),
    );
  }
}

function target(d: Pick<DispatchInput, 'key' | 'jobId' | 'token'>, pod: RuntimePod): WatchTarget {
  return { key: d.key, jobId: d.jobId, pod: pod.name, podUid: pod.uid, baseUrl: runtimeBaseUrl(pod)!, token: d.token };
}
