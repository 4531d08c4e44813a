/**
 * The pod admission webhook of the operator process: the SampleSet informer it resolves claims
 * from, its certificate source and its HTTPS server, started by the manager on EVERY replica
 * before (and regardless of) leader election — the apiserver sends admissions to whichever
 * replica its Service picks, standby or leader. The informer is the shared one (one watch per
 * kind in the process); the operators find it already running when they win the lease.
 */
import { SAMPLESET } from '../api/constants.js';
import type { SampleSet } from '../api/sampleset.js';
import type { EngineRegistry } from '../engines/registry.js';
import type { InformerFactory } from '../kube/informer-factory.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CertificateSource } from './certificate-source.js';
import { reviewPod } from './pod-review.js';
import { InformerSampleSetLookup } from './sampleset-lookup.js';
import { WebhookServer } from './webhook-server.js';

/** A certificate source that may have to be started (read, watched) and closed with the webhook. */
export type ManagedCertificateSource = CertificateSource & {
  start?(): void | Promise<void>;
  close?(): void | Promise<void>;
};

export interface PodWebhookDependencies {
  informers: InformerFactory;
  engines: EngineRegistry;
  certificates: ManagedCertificateSource;
  logger: Logger;
  metrics: Metrics;
  /** Also told the time spent inside the webhook for each request (benchmarks read it exactly). */
  observe?: (seconds: number, outcome: string) => void;
}

export class PodCacheAffinityWebhook {
  private server?: WebhookServer;

  constructor(private readonly deps: PodWebhookDependencies) {}

  /** Starts the SampleSet informer (without waiting for its first list) and the server; returns the bound port. */
  async start(address: { host: string; port: number }): Promise<number> {
    const { informers, engines, certificates, logger, metrics } = this.deps;
    const sampleSets = informers.get<SampleSet>(SAMPLESET);
    sampleSets.start();
    await certificates.start?.();
    const lookup = new InformerSampleSetLookup(sampleSets, engines);
    this.server = new WebhookServer({
      certificates,
      logger,
      review: (body) => reviewPod(body, lookup),
      observe: (seconds, outcome) => {
        metrics.admissionDuration.observe({ outcome }, seconds);
        this.deps.observe?.(seconds, outcome);
      },
    });
    const port = await this.server.listen(address);
    logger.info('pod admission webhook serving', { address: `${address.host}:${port}` });
    return port;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.deps.certificates.close?.();
  }
}
