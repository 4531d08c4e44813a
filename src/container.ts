/**
 * The composition root: every inversify binding of the paddle-operator process in one place.
 * Nothing else constructs its own dependencies; tests build the same container with overrides.
 */
import 'reflect-metadata';
import { Container, type ServiceIdentifier } from 'inversify';
import { parseListenAddress, type OperatorConfig } from './config/operator-config.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { KubeApi } from './kube/kube-api.js';
import { loadKubeConfig, type KubeCredentials } from './kube/kube-config.js';
import { systemClock, type Clock } from './kube/clock.js';
import { InformerFactory } from './kube/informer-factory.js';
import { EventRecorder } from './kube/event-recorder.js';
import type { OperatorContext } from './kube/reconciling-operator.js';
import type { EngineRegistry } from './engines/registry.js';
import { installedEngines } from './engines/installed.js';
import { RuntimeClient } from './operators/shared/runtime-client.js';
import { CacheStatsNotifier } from './operators/shared/cache-stats-notifier.js';
import { SampleSetOperator } from './operators/sampleset/sampleset-operator.js';
import { SampleJobOperator } from './operators/samplejob/samplejob-operator.js';
import { PaddleJobOperator } from './operators/paddlejob/paddlejob-operator.js';
import { DirectoryCertificateSource } from './webhook/directory-certificate-source.js';
import { PodCacheAffinityWebhook, type ManagedCertificateSource } from './webhook/pod-webhook.js';
import { SelfManagedCertificates } from './webhook/certificates/self-managed-certificates.js';

export const TYPES = {
  Config: Symbol.for('OperatorConfig') as ServiceIdentifier<OperatorConfig>,
  Logger: Symbol.for('Logger') as ServiceIdentifier<Logger>,
  Metrics: Symbol.for('Metrics') as ServiceIdentifier<Metrics>,
  /** The time source every operator reads "now" from. */
  Clock: Symbol.for('Clock') as ServiceIdentifier<Clock>,
  KubeConfig: Symbol.for('KubeConfig') as ServiceIdentifier<KubeCredentials>,
  KubeApi: Symbol.for('KubeApi') as ServiceIdentifier<KubeApi>,
  InformerFactory: Symbol.for('InformerFactory') as ServiceIdentifier<InformerFactory>,
  EventRecorder: Symbol.for('EventRecorder') as ServiceIdentifier<EventRecorder>,
  OperatorContext: Symbol.for('OperatorContext') as ServiceIdentifier<OperatorContext>,
  EngineRegistry: Symbol.for('EngineRegistry') as ServiceIdentifier<EngineRegistry>,
  RuntimeClient: Symbol.for('RuntimeClient') as ServiceIdentifier<RuntimeClient>,
  CacheStatsNotifier: Symbol.for('CacheStatsNotifier') as ServiceIdentifier<CacheStatsNotifier>,
  /** Where the pod admission webhook's serving certificate comes from (bound only when one is configured). */
  WebhookCertificates: Symbol.for('WebhookCertificates') as ServiceIdentifier<ManagedCertificateSource>,
  /** The pod admission webhook (bound only when enabled and given a certificate source). */
  PodWebhook: Symbol.for('PodWebhook') as ServiceIdentifier<PodCacheAffinityWebhook>,
  /** With --webhook-certs self-managed: the operator's own CA and serving certificate (the same object as WebhookCertificates). */
  SelfManagedCertificates: Symbol.for('SelfManagedCertificates') as ServiceIdentifier<SelfManagedCertificates>,
  /** Multi-binding: every operator the process runs. */
  Operator: Symbol.for('Operator') as ServiceIdentifier<RunnableOperator>,
};

/** What the manager needs of an operator. */
export interface RunnableOperator {
  start(): Promise<void>;
  stop(timeoutMs?: number): Promise<void>;
}

export interface ContainerOverrides {
  /** Credentials (client-node's KubeConfig will do). */
  kubeConfig?: KubeCredentials;
  logger?: Logger;
  metrics?: Metrics;
  clock?: Clock;
}

export function buildContainer(config: OperatorConfig, overrides: ContainerOverrides = {}): Container {
  const c = new Container({ defaultScope: 'Singleton' });
  c.bind(TYPES.Config).toConstantValue(config);
  c.bind(TYPES.Logger).toResolvedValue(() => overrides.logger ?? createLogger({ level: config.logLevel, format: config.logFormat }));
  c.bind(TYPES.Metrics).toResolvedValue(() => overrides.metrics ?? new Metrics({ defaultMetrics: true }));
  c.bind(TYPES.Clock).toConstantValue(overrides.clock ?? systemClock);
  c.bind(TYPES.KubeConfig).toResolvedValue(() => overrides.kubeConfig ?? loadKubeConfig(config.kubeconfig));
  c.bind(TYPES.KubeApi).toResolvedValue(
    (kc: KubeCredentials, m: Metrics) =>
      new KubeApi(kc, {
        onRequest: (verb, group, resource, code) => m.kubeRequests.inc({ verb, resource: group ? `${resource}.${group}` : resource, code }),
      }),
    [TYPES.KubeConfig, TYPES.Metrics],
  );
  c.bind(TYPES.InformerFactory).toResolvedValue(
    (api: KubeApi, log: Logger, m: Metrics) => new InformerFactory(api, log, m, config.namespace),
    [TYPES.KubeApi, TYPES.Logger, TYPES.Metrics],
  );
  c.bind(TYPES.EventRecorder).toResolvedValue((api: KubeApi, log: Logger) => new EventRecorder(api, log), [TYPES.KubeApi, TYPES.Logger]);
  c.bind(TYPES.OperatorContext).toResolvedValue(
    (api: KubeApi, informers: InformerFactory, events: EventRecorder, logger: Logger, metrics: Metrics, clock: Clock): OperatorContext => ({
      api,
      informers,
      events,
      logger,
      metrics,
      concurrency: config.concurrency,
      clock,
    }),
    [TYPES.KubeApi, TYPES.InformerFactory, TYPES.EventRecorder, TYPES.Logger, TYPES.Metrics, TYPES.Clock],
  );
  // Cache engines: the installed list (src/engines/installed.ts); no operator knows any engine.
  c.bind(TYPES.EngineRegistry).toConstantValue(installedEngines({ cacheRoots: config.cacheRoots }));
  c.bind(TYPES.RuntimeClient).toResolvedValue(
    (m: Metrics) =>
      new RuntimeClient({
        onRequest: (method, route, code, seconds) => m.runtimeRequestDuration.observe({ method, route, code: String(code) }, seconds),
      }),
    [TYPES.Metrics],
  );
  c.bind(TYPES.CacheStatsNotifier).toResolvedValue(() => new CacheStatsNotifier());

  // The pod admission webhook: served by every replica, leader or not (the manager starts it).
  if (parseListenAddress(config.webhookAddress)) bindWebhookCertificates(c, config);
  if (c.isBound(TYPES.WebhookCertificates)) {
    c.bind(TYPES.PodWebhook).toResolvedValue(
      (informers: InformerFactory, engines: EngineRegistry, certificates: ManagedCertificateSource, logger: Logger, metrics: Metrics) =>
        new PodCacheAffinityWebhook({ informers, engines, certificates, logger, metrics }),
      [TYPES.InformerFactory, TYPES.EngineRegistry, TYPES.WebhookCertificates, TYPES.Logger, TYPES.Metrics],
    );
  }

  // The operators this process runs (--operators), each resolved with its dependencies.
  if (config.operators.includes('sampleset')) {
    c.bind(TYPES.Operator).toResolvedValue(
      (ctx: OperatorContext, engines: EngineRegistry, runtime: RuntimeClient, notifier: CacheStatsNotifier) =>
        new SampleSetOperator(ctx, engines, runtime, { runtimeImage: config.runtimeImage }, notifier),
      [TYPES.OperatorContext, TYPES.EngineRegistry, TYPES.RuntimeClient, TYPES.CacheStatsNotifier],
    );
  }
  if (config.operators.includes('samplejob')) {
    c.bind(TYPES.Operator).toResolvedValue(
      (ctx: OperatorContext, engines: EngineRegistry, runtime: RuntimeClient, notifier: CacheStatsNotifier) =>
        new SampleJobOperator(ctx, engines, runtime, notifier),
      [TYPES.OperatorContext, TYPES.EngineRegistry, TYPES.RuntimeClient, TYPES.CacheStatsNotifier],
    );
  }
  if (config.operators.includes('paddlejob')) {
    c.bind(TYPES.Operator).toResolvedValue(
      (ctx: OperatorContext, engines: EngineRegistry) =>
        new PaddleJobOperator(ctx, { hostPortRange: { min: config.hostPortRange[0], max: config.hostPortRange[1] }, engines }),
      [TYPES.OperatorContext, TYPES.EngineRegistry],
    );
  }
  return c;
}

/**
 * `--webhook-certs self-managed`: the operator's own CA and serving certificate, in a Secret every
 * replica watches and serves from; the manager lets only the replica running the operators write it.
 */
function bindWebhookCertificates(c: Container, config: OperatorConfig): void {
  const { mode, ...settings } = config.webhookCertificates;
  if (mode === 'directory') {
    c.bind(TYPES.WebhookCertificates).toResolvedValue(
      (log: Logger) => new DirectoryCertificateSource(config.webhookCertDir, { logger: log }),
      [TYPES.Logger],
    );
    return;
  }
  c.bind(TYPES.SelfManagedCertificates).toResolvedValue(
    (api: KubeApi, events: EventRecorder, logger: Logger, clock: Clock) =>
      new SelfManagedCertificates({ api, events, logger, clock }, settings),
    [TYPES.KubeApi, TYPES.EventRecorder, TYPES.Logger, TYPES.Clock],
  );
  c.bind(TYPES.WebhookCertificates).toService(TYPES.SelfManagedCertificates);
}
