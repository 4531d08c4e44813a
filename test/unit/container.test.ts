import { expect } from 'chai';
import type { KubeConfig } from '@kubernetes/client-node';
import { buildContainer, TYPES } from '../../src/container.js';
import { parseOperatorConfig } from '../../src/config/operator-config.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { ManualClock, systemClock } from '../../src/kube/clock.js';
import { EngineRegistry } from '../../src/engines/registry.js';
import { DirectoryCertificateSource } from '../../src/webhook/directory-certificate-source.js';
import { PodCacheAffinityWebhook } from '../../src/webhook/pod-webhook.js';
import { SelfManagedCertificates } from '../../src/webhook/certificates/self-managed-certificates.js';
import { offlineKubeConfig } from './support/offline-kube-config.js';

const kubeConfig = (): KubeConfig => offlineKubeConfig('https://127.0.0.1:6443');

describe('composition root', () => {
  const config = parseOperatorConfig(['--namespace=team-a', '--concurrency=7'], {});

  it('wires every service as a singleton from the same config', () => {
    const kc = kubeConfig();
    const c = buildContainer(config, { kubeConfig: kc, logger: createLogger({ silent: true }), metrics: new Metrics() });
    expect(c.get(TYPES.KubeConfig)).to.equal(kc);
    expect(c.get(TYPES.KubeApi)).to.be.instanceOf(KubeApi);
    expect(c.get(TYPES.KubeApi)).to.equal(c.get(TYPES.KubeApi));
    expect(c.get(TYPES.InformerFactory)).to.be.instanceOf(InformerFactory);
    const ctx = c.get(TYPES.OperatorContext);
    expect(ctx.concurrency).to.equal(7);
    expect(ctx.api).to.equal(c.get(TYPES.KubeApi));
    expect(ctx.metrics).to.equal(c.get(TYPES.Metrics));
    expect(c.get(TYPES.EngineRegistry)).to.be.instanceOf(EngineRegistry);
  });

  it('binds one clock and hands it to every operator through the context', () => {
    const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
    const c = buildContainer(config, { kubeConfig: kubeConfig(), logger: createLogger({ silent: true }), metrics: new Metrics(), clock });
    expect(c.get(TYPES.Clock)).to.equal(clock);
    expect(c.get(TYPES.OperatorContext).clock).to.equal(clock);
    expect(buildContainer(config, { kubeConfig: kubeConfig() }).get(TYPES.Clock)).to.equal(systemClock);
  });

  it('hands the configured cache roots to the JuiceFS engine', () => {
    const c = buildContainer(parseOperatorConfig(['--cache-root=/mnt/nvme/cache'], {}), {
      kubeConfig: kubeConfig(),
      logger: createLogger({ silent: true }),
      metrics: new Metrics(),
    });
    expect((c.get(TYPES.EngineRegistry).get('juicefs') as unknown as { cacheRoots: string[] }).cacheRoots).to.deep.equal([
      '/mnt/nvme/cache',
    ]);
  });

  it('binds every operator the config asks for', () => {
    const c = buildContainer(config, { kubeConfig: kubeConfig(), logger: createLogger({ silent: true }), metrics: new Metrics() });
    const ops = c.isBound(TYPES.Operator) ? c.getAll(TYPES.Operator) : [];
    expect(ops.map((o) => o.constructor.name).sort()).to.deep.equal(expectedOperators(config.operators));
  });

  it('binds the self-managed webhook certificates (one object, two names) unless the certificates come from a directory', () => {
    const opts = { kubeConfig: kubeConfig(), logger: createLogger({ silent: true }), metrics: new Metrics() };
    const c = buildContainer(config, opts);
    expect(c.get(TYPES.SelfManagedCertificates)).to.be.instanceOf(SelfManagedCertificates);
    expect(c.get(TYPES.WebhookCertificates)).to.equal(c.get(TYPES.SelfManagedCertificates));
    const d = buildContainer(parseOperatorConfig(['--webhook-certs=directory', '--webhook-cert-dir=/certs'], {}), opts);
    expect(d.isBound(TYPES.SelfManagedCertificates)).to.equal(false);
  });
});

describe('composition root: the pod admission webhook', () => {
  const build = (args: string[]) =>
    buildContainer(parseOperatorConfig(args, {}), {
      kubeConfig: kubeConfig(),
      logger: createLogger({ silent: true }),
      metrics: new Metrics(),
    });

  it('is bound with a directory certificate source when --webhook-cert-dir is given', () => {
    const c = build(['--webhook-cert-dir=/certs']);
    expect(c.get(TYPES.WebhookCertificates)).to.be.instanceOf(DirectoryCertificateSource);
    expect((c.get(TYPES.WebhookCertificates) as DirectoryCertificateSource).dir).to.equal('/certs');
    expect(c.get(TYPES.PodWebhook)).to.be.instanceOf(PodCacheAffinityWebhook);
  });

  it('is bound with the self-managed certificates by default; nothing of it with --webhook-bind-address=0', () => {
    expect(build([]).get(TYPES.PodWebhook)).to.be.instanceOf(PodCacheAffinityWebhook);
    expect(build([]).get(TYPES.WebhookCertificates)).to.be.instanceOf(SelfManagedCertificates);
    for (const args of [['--webhook-bind-address=0'], ['--webhook-cert-dir=/certs', '--webhook-bind-address=0']]) {
      const off = build(args);
      expect(off.isBound(TYPES.PodWebhook), args.join(' ')).to.equal(false);
      expect(off.isBound(TYPES.WebhookCertificates), args.join(' ')).to.equal(false);
    }
  });
});

/** Class names of the operators, by config name (grows as operators land). */
function expectedOperators(names: string[]): string[] {
  const byName: Record<string, string> = { sampleset: 'SampleSetOperator', samplejob: 'SampleJobOperator', paddlejob: 'PaddleJobOperator' };
  return names.map((n) => byName[n]).sort();
}

describe('composition root: engines and runtime client', () => {
  it('registers the JuiceFS engine by name and builds one RuntimeClient', async () => {
    const { RuntimeClient } = await import('../../src/operators/shared/runtime-client.js');
    const c = buildContainer(parseOperatorConfig([], {}), {
      kubeConfig: kubeConfig(),
      logger: createLogger({ silent: true }),
      metrics: new Metrics(),
    });
    const registry = c.get(TYPES.EngineRegistry);
    expect(registry.names()).to.deep.equal(['juicefs']);
    expect(registry.get('juicefs').name).to.equal('juicefs');
    expect(() => registry.get('alluxio')).to.throw(/not installed/);
    expect(c.get(TYPES.RuntimeClient)).to.be.instanceOf(RuntimeClient);
    expect(c.get(TYPES.RuntimeClient)).to.equal(c.get(TYPES.RuntimeClient));
  });
});
