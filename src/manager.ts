import { hostname } from 'node:os';
import type { Container } from 'inversify';
import { TYPES, type RunnableOperator } from './container.js';
import { parseListenAddress } from './config/operator-config.js';
import { HttpEndpoints } from './observability/http-endpoints.js';
import { LeaderElector } from './kube/leader-elector.js';
import { SAMPLEJOB, SAMPLESET } from './api/constants.js';
import type { SampleSet } from './api/sampleset.js';
import type { SampleJob } from './api/samplejob.js';
import { withTimeout } from './operators/shared/with-timeout.js';
import type { PodCacheAffinityWebhook } from './webhook/pod-webhook.js';
import type { SelfManagedCertificates } from './webhook/certificates/self-managed-certificates.js';

/** The longest each shutdown step after the operators' drain may take. */
export const SHUTDOWN_STEP_MS = 5000;

/**
 * Runs the operators of one process: health and metrics endpoints and the pod admission webhook
 * first (every replica serves admissions, leader or not), then (with leader
 * election) waits for the Lease, keeps renewing it from then on, starts every operator, and on shutdown stops them (in-flight
 * reconciles finish), stops the informers and releases the Lease. Losing the Lease stops the
 * operators and resolves `done` with 'lost-leadership' so the process can exit and restart clean.
 */
export class OperatorManager {
  private readonly endpoints: HttpEndpoints;
  private elector?: LeaderElector;
  private webhook?: PodCacheAffinityWebhook;
  private certificates?: SelfManagedCertificates;
  private operators: RunnableOperator[] = [];
  private running = false;
  private stopping?: Promise<void>;
  private resolveDone!: (why: 'stopped' | 'lost-leadership') => void;
  /** Resolves when the manager has stopped, saying why. */
  readonly done = new Promise<'stopped' | 'lost-leadership'>((r) => (this.resolveDone = r));

  constructor(private readonly container: Container) {
    const informers = container.get(TYPES.InformerFactory);
    const config = container.get(TYPES.Config);
    // per-object gauges read the shared caches at scrape time
    container.get(TYPES.Metrics).observeResources({
      sampleSets: () => informers.get<SampleSet>(SAMPLESET).list(),
      sampleJobs: () => informers.get<SampleJob>(SAMPLEJOB).list(),
    });
    this.endpoints = new HttpEndpoints(container.get(TYPES.Metrics), () =>
      // ready when caches are synced, or when standing by for the lease
      config.leaderElect && !this.elector?.isLeader ? true : this.running && informers.allSynced,
    );
  }

  /** Bound ports of the endpoints and the webhook (0 when disabled). */
  ports = { metrics: 0, health: 0, webhook: 0 };

  async start(): Promise<void> {
    const c = this.container;
    const config = c.get(TYPES.Config);
    const log = c.get(TYPES.Logger);
    const metricsAddr = parseListenAddress(config.metricsAddress);
    const probeAddr = parseListenAddress(config.probeAddress);
    if (metricsAddr && probeAddr && metricsAddr.port !== 0 && metricsAddr.port === probeAddr.port && metricsAddr.host === probeAddr.host) {
      this.ports.metrics = this.ports.health = await this.endpoints.listen(metricsAddr, { health: true, metrics: true });
    } else {
      if (metricsAddr) this.ports.metrics = await this.endpoints.listen(metricsAddr, { health: false, metrics: true });
      if (probeAddr) this.ports.health = await this.endpoints.listen(probeAddr, { health: true, metrics: false });
    }
    if (c.isBound(TYPES.PodWebhook)) {
      this.webhook = c.get(TYPES.PodWebhook);
      this.ports.webhook = await this.webhook.start(parseListenAddress(config.webhookAddress)!);
    } else if (config.webhookAddress && parseListenAddress(config.webhookAddress)) {
      log.info('pod admission webhook off: no certificate source');
    }
    this.followCertificates();
    this.operators = c.isBound(TYPES.Operator) ? c.getAll(TYPES.Operator) : [];
    if (config.leaderElect) {
      this.elector = new LeaderElector(
        c.get(TYPES.KubeApi),
        {
          namespace: config.leaderElectionNamespace,
          name: config.leaderElectionId,
          identity: `${process.env.POD_NAME ?? hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`,
          leaseDurationSeconds: config.leaseDurationSeconds,
          renewDeadlineSeconds: config.renewDeadlineSeconds,
          retryPeriodSeconds: config.retryPeriodSeconds,
        },
        log,
      );
      log.info('waiting for leadership', { lease: `${config.leaderElectionNamespace}/${config.leaderElectionId}` });
      const elector = this.elector;
      const events = c.get(TYPES.EventRecorder);
      const identity = elector.identity;
      void elector.acquire().then(async (won) => {
        if (!won) return;
        c.get(TYPES.Metrics).leader.set(1);
        if (elector.lease)
          void events.record(elector.lease, 'Normal', 'LeaderElected', `${identity} became the leader and runs the operators`);
        // renew from the moment the lease is held, as controller-runtime does: starting the
        // operators waits for their informers' first list, which may outlast the lease
        const held = elector.holdUntilLost();
        await this.startOperators();
        await held;
        if (this.stopping) return;
        c.get(TYPES.Metrics).leader.set(0);
        if (elector.lease)
          void events.record(
            elector.lease,
            'Warning',
            'LeadershipLost',
            `${identity} could not renew the lease within the renew deadline and stops reconciling; another replica takes over`,
          );
        await this.shutdown(config.shutdownTimeoutSeconds * 1000, 'lost-leadership');
      });
    } else {
      await this.startOperators();
    }
  }

  /**
   * Self-managed webhook certificates: every replica, standby or not, follows their Secret and
   * serves what it holds; only the replica that runs the operators writes (startOperators).
   */
  private followCertificates(): void {
    if (!this.container.isBound(TYPES.SelfManagedCertificates)) return;
    this.certificates = this.container.get(TYPES.SelfManagedCertificates);
    this.certificates.start();
  }

  private async startOperators(): Promise<void> {
    this.certificates?.startWriting();
    await Promise.all(this.operators.map((o) => o.start()));
    this.running = true;
    this.container.get(TYPES.Logger).info('operators running', { count: this.operators.length });
  }

  /** Stops taking work, waits for in-flight reconciles, stops watches, releases the Lease. */
  stop(timeoutMs = 25_000): Promise<void> {
    return this.shutdown(timeoutMs, 'stopped');
  }

  private shutdown(timeoutMs: number, why: 'stopped' | 'lost-leadership'): Promise<void> {
    this.stopping ??= (async () => {
      const log = this.container.get(TYPES.Logger);
      // every step is bounded: a watch or list that never answers, or a client that keeps a
      // connection open, must not keep the process from exiting (its pod from terminating)
      const bounded = async (step: Promise<unknown>, what: string): Promise<void> => {
        await withTimeout(step, SHUTDOWN_STEP_MS, what).catch((e: unknown) =>
          log.warn('shutdown step did not finish; going on', { step: what, error: (e as Error).message }),
        );
      };
      this.elector?.stop();
      await Promise.all(this.operators.map((o) => o.stop(timeoutMs)));
      this.running = false;
      await bounded(this.container.get(TYPES.InformerFactory).stopAll(), 'stopping the watches');
      await bounded(this.certificates?.close() ?? Promise.resolve(), 'stopping the webhook certificates');
      await bounded(this.elector?.release() ?? Promise.resolve(), 'releasing the lease');
      await bounded(this.webhook?.stop() ?? Promise.resolve(), 'closing the webhook server');
      await bounded(this.endpoints.close(), 'closing the health and metrics endpoints');
      this.resolveDone(why);
    })();
    return this.stopping;
  }
}
