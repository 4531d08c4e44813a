import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SampleSet } from '../api/sampleset.js';
import type { SampleJob } from '../api/samplejob.js';

/** The objects the per-object gauges describe. */
export interface ResourceSource {
  sampleSets(): SampleSet[];
  sampleJobs(): SampleJob[];
}

/** Every Prometheus metric the operator exposes, on one registry (one per process or test). */
export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'paddle_operator_reconcile_total',
    help: 'Reconciles by operator and outcome (success, error, requeue).',
    labelNames: ['operator', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'paddle_operator_reconcile_errors_total',
    help: 'Reconciles that ended in an error, by operator.',
    labelNames: ['operator'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'paddle_operator_reconcile_duration_seconds',
    help: 'Time spent in one reconcile, by operator.',
    labelNames: ['operator'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'paddle_operator_workqueue_depth',
    help: 'Keys waiting in the work queue, by operator.',
    labelNames: ['operator'] as const,
    registers: [this.registry],
  });
  readonly queueLatency = new Histogram({
    name: 'paddle_operator_workqueue_queue_duration_seconds',
    help: 'How long a key waited in the work queue before a reconcile picked it up.',
    labelNames: ['operator'] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'paddle_operator_watch_restarts_total',
    help: 'Watch streams restarted, by resource and reason (closed, gone, error, http_<code>).',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });
  readonly runtimeRequestDuration = new Histogram({
    name: 'paddle_operator_runtime_request_duration_seconds',
    help: 'Requests from the operator to paddle-runtime servers, by method, route and status code.',
    labelNames: ['method', 'route', 'code'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60],
    registers: [this.registry],
  });
  readonly kubeRequests = new Counter({
    name: 'paddle_operator_kube_requests_total',
    help: 'Requests to the Kubernetes API, by RBAC verb, resource and HTTP status code (0 = no answer).',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [this.registry],
  });
  readonly sampleSetCachedBytes = new Gauge({
    name: 'paddle_operator_sampleset_cached_bytes',
    help: 'Bytes of a SampleSet held in its cache nodes (from its status).',
    labelNames: ['namespace', 'name'] as const,
    registers: [this.registry],
    collect: () => this.collectResources(),
  });
  readonly sampleSetTotalBytes = new Gauge({
    name: 'paddle_operator_sampleset_total_bytes',
    help: "Bytes of a SampleSet's dataset (from its status).",
    labelNames: ['namespace', 'name'] as const,
    registers: [this.registry],
  });
  readonly sampleSetCachedRatio = new Gauge({
    name: 'paddle_operator_sampleset_cached_ratio',
    help: 'Fraction (0..1) of a SampleSet held in its cache nodes (from its status).',
    labelNames: ['namespace', 'name'] as const,
    registers: [this.registry],
  });
  readonly sampleSetCacheHitRatio = new Gauge({
    name: 'paddle_operator_sampleset_cache_hit_ratio',
    help: "Fraction (0..1) of block reads a SampleSet's mounts served from their node caches since they started (from its status).",
    labelNames: ['namespace', 'name'] as const,
    registers: [this.registry],
  });
  readonly partitionCacheHitRatio = new Gauge({
    name: 'paddle_operator_sampleset_partition_cache_hit_ratio',
    help: "Fraction (0..1) of block reads one cache partition's mount served from its node cache since it started (from status.nodes).",
    labelNames: ['namespace', 'name', 'partition'] as const,
    registers: [this.registry],
  });
  readonly partitionReadBytes = new Gauge({
    name: 'paddle_operator_sampleset_partition_read_bytes',
    help: "Bytes one cache partition's mount read since it started, by source: cache (its node cache) or store (the object store).",
    labelNames: ['namespace', 'name', 'partition', 'source'] as const,
    registers: [this.registry],
  });
  readonly sampleSetCondition = new Gauge({
    name: 'paddle_operator_sampleset_condition',
    help: "A SampleSet's conditions: 1 for the status and reason each condition has now (from its status).",
    labelNames: ['namespace', 'name', 'condition', 'status', 'reason'] as const,
    registers: [this.registry],
  });
  readonly sampleJobPhase = new Gauge({
    name: 'paddle_operator_samplejob_phase',
    help: "A SampleJob's phase: 1 for the phase it is in now (from its status).",
    labelNames: ['namespace', 'name', 'type', 'phase'] as const,
    registers: [this.registry],
  });
  readonly sampleJobProgress = new Gauge({
    name: 'paddle_operator_samplejob_progress_ratio',
    help: 'Progress (0..1) of a SampleJob (from its status; 1 once Succeeded).',
    labelNames: ['namespace', 'name', 'type'] as const,
    registers: [this.registry],
  });
  readonly admissionDuration = new Histogram({
    name: 'paddle_operator_admission_duration_seconds',
    help: 'Pod admission reviews answered by the webhook, from arrival to answer, by outcome (patched, unchanged, unsynced, failed, rejected).',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'paddle_operator_leader',
    help: '1 while this process holds the leader lease.',
    registers: [this.registry],
  });

  private resources?: ResourceSource;

  /** Where the per-object gauges read from at scrape time (the operators' informer caches). */
  observeResources(source: ResourceSource): void {
    this.resources = source;
  }

  /**
   * The Prometheus text of every metric. The per-object gauges are made from the caches for this
   * scrape and dropped after it: between scrapes they would only hold a copy of every object's
   * labels (a dozen series per SampleSet).
   */
  async render(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.resetResources();
    }
  }

  private resetResources(): void {
    this.sampleSetCachedBytes.reset();
    this.sampleSetTotalBytes.reset();
    this.sampleSetCachedRatio.reset();
    this.sampleSetCacheHitRatio.reset();
    this.partitionCacheHitRatio.reset();
    this.partitionReadBytes.reset();
    this.sampleSetCondition.reset();
    this.sampleJobPhase.reset();
    this.sampleJobProgress.reset();
  }

  private collectResources(): void {
    if (!this.resources) return;
    this.resetResources();
    for (const s of this.resources.sampleSets()) {
      const labels = { namespace: s.metadata?.namespace ?? '', name: s.metadata?.name ?? '' };
      for (const c of s.status?.conditions ?? []) {
        this.sampleSetCondition.set({ ...labels, condition: c.type, status: c.status, reason: c.reason ?? '' }, 1);
      }
      const cs = s.status?.cacheStatus;
      const hitRatio = ratio(cs?.cacheHits, cs?.cacheMisses);
      if (hitRatio !== undefined) this.sampleSetCacheHitRatio.set(labels, hitRatio);
      for (const n of s.status?.nodes ?? []) {
        const p = { ...labels, partition: String(n.partition) };
        const r = ratio(n.cacheHits, n.cacheMisses);
        if (r !== undefined) this.partitionCacheHitRatio.set(p, r);
        if (n.bytesFromCache !== undefined) this.partitionReadBytes.set({ ...p, source: 'cache' }, n.bytesFromCache);
        if (n.bytesFromStore !== undefined) this.partitionReadBytes.set({ ...p, source: 'store' }, n.bytesFromStore);
      }
      if (cs?.cachedBytes === undefined || cs.totalBytes === undefined) continue;
      this.sampleSetCachedBytes.set(labels, cs.cachedBytes);
      this.sampleSetTotalBytes.set(labels, cs.totalBytes);
      this.sampleSetCachedRatio.set(labels, cs.totalBytes > 0 ? Math.min(1, cs.cachedBytes / cs.totalBytes) : 1);
    }
    for (const j of this.resources.sampleJobs()) {
      if (j.spec?.schedule) continue; // parents do no work themselves
      const labels = { namespace: j.metadata?.namespace ?? '', name: j.metadata?.name ?? '', type: j.spec?.type ?? '' };
      if (j.status?.phase) this.sampleJobPhase.set({ ...labels, phase: j.status.phase }, 1);
      const p = j.status?.progress;
      if (j.status?.phase === 'Succeeded') this.sampleJobProgress.set(labels, 1);
      else if (p?.bytesTotal) this.sampleJobProgress.set(labels, Math.min(1, (p.bytesDone ?? 0) / p.bytesTotal));
      else if (p?.filesTotal) this.sampleJobProgress.set(labels, Math.min(1, (p.filesDone ?? 0) / p.filesTotal));
    }
  }

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'paddle_operator_' });
  }
}

/** hits / (hits + misses), or undefined before anything was read. */
function ratio(hits: number | undefined, misses: number | undefined): number | undefined {
  const total = (hits ?? 0) + (misses ?? 0);
  return total > 0 ? (hits ?? 0) / total : undefined;
}
