import { expect } from 'chai';
import { Writable } from 'node:stream';
import winston from 'winston';
import dotI from '@dot-i/k8s-operator';
import { CoreV1Api, KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { CONFIGMAP, POD, SAMPLESET, STATEFULSET } from '../../../src/api/constants.js';
import { controller, owns, watches, type ObjectKey } from '../../../src/kube/decorators.js';
import { EventRecorder } from '../../../src/kube/event-recorder.js';
import { InformerFactory } from '../../../src/kube/informer-factory.js';
import { KubeApi } from '../../../src/kube/kube-api.js';
import { ReconcilingOperator, type ReconcileResult } from '../../../src/kube/reconciling-operator.js';
import { createLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { offlineKubeConfig } from '../support/offline-kube-config.js';

/** A ReconcilingOperator wired to nothing real: informers are fed by hand, never started. */
function context(lines: string[]) {
  const api = new KubeApi(offlineKubeConfig());
  const logger = createLogger({ level: 'debug', format: 'json' });
  logger.clear();
  logger.add(new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) }));
  const metrics = new Metrics();
  const informers = new InformerFactory(api, logger, metrics, '');
  return { api, logger, metrics, informers, events: new EventRecorder(api, logger), concurrency: 2 };
}

/** Feeds a watch event into a (never started) informer, as the watch stream would. */
function feed(informers: InformerFactory, type: typeof CONFIGMAP, obj: KubernetesObject, selector?: string): void {
  (informers.get(type, selector) as unknown as { apply(e: unknown): void }).apply({ type: 'ADDED', object: obj });
}

@controller({ resource: SAMPLESET, name: 'test' })
@owns(STATEFULSET, { labelSelector: 'x' })
@watches(CONFIGMAP, (o) => [{ namespace: o.metadata?.namespace, name: o.metadata?.labels?.target ?? '' }])
class TestOperator extends ReconcilingOperator<KubernetesObject> {
  readonly seen: string[] = [];
  protected reconcile(key: ObjectKey): Promise<ReconcileResult> {
    this.seen.push(`${key.namespace}/${key.name}`);
    this.log.info('reconciled');
    return Promise.resolve();
  }
  async drain(): Promise<void> {
    await this.queue.idle();
  }
}

describe('ReconcilingOperator', () => {
  it('declares its informers with decorators and maps owned and watched objects to primary keys', async () => {
    const lines: string[] = [];
    const ctx = context(lines);
    const op = new TestOperator(ctx);
    (op as unknown as { queue: { start(): void } }).queue.start();
    feed(
      ctx.informers,
      STATEFULSET,
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: {
          name: 'a-runtime',
          namespace: 'ns',
          resourceVersion: '1',
          ownerReferences: [{ apiVersion: 'batch.paddlepaddle.org/v1alpha1', kind: 'SampleSet', name: 'a', uid: 'u1', controller: true }],
        },
      },
      'x',
    );
    feed(
      ctx.informers,
      STATEFULSET,
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: {
          name: 'foreign',
          namespace: 'ns',
          resourceVersion: '2',
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', uid: 'u2', controller: true }],
        },
      },
      'x',
    );
    feed(ctx.informers, CONFIGMAP, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm', namespace: 'ns2', resourceVersion: '3', labels: { target: 'b' } },
    });
    await op.drain();
    expect(op.seen.sort()).to.deep.equal(['ns/a', 'ns2/b']);
    expect(() => (op as unknown as { cacheOf(t: unknown): unknown }).cacheOf(POD)).to.throw(/does not watch Pod/);
  });

  it('logs inside a reconcile with namespace, name and a reconcileID per pass', async () => {
    const lines: string[] = [];
    const ctx = context(lines);
    const op = new TestOperator(ctx);
    (op as unknown as { queue: { start(): void } }).queue.start();
    op.enqueue({ namespace: 'ns', name: 'a' });
    await op.drain();
    op.enqueue({ namespace: 'ns', name: 'a' });
    await op.drain();
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === 'reconciled');
    expect(entries).to.have.length(2);
    for (const e of entries) expect(e).to.include({ level: 'info', operator: 'test', namespace: 'ns', name: 'a' });
    expect(entries[0].reconcileID).to.match(/^[0-9a-f]{8}$/);
    expect(entries[0].reconcileID).to.not.equal(entries[1].reconcileID);
    const m = await ctx.metrics.reconcileTotal.get();
    expect(m.values.find((v) => v.labels.operator === 'test' && v.labels.outcome === 'success')?.value).to.equal(2);
    await op.stop(1000);
  });

  it('is a dot-i Operator whose own client (kubeConfig, k8sApi, eventQueue) is built only when used', () => {
    const op = new TestOperator(context([])) as unknown as Record<string, unknown>;
    expect(op).to.be.instanceOf(dotI.default);
    expect(op.logger).to.be.an('object');
    expect(Object.keys(op)).to.not.include.members(['kubeConfig', 'k8sApi', 'eventQueue']);
    expect(op.kubeConfig).to.be.instanceOf(KubeConfig);
    expect(op.k8sApi).to.be.instanceOf(CoreV1Api);
    expect(op.eventQueue).to.have.property('push');
    expect(Object.keys(op)).to.include.members(['kubeConfig', 'k8sApi', 'eventQueue']);
  });

  it('after its own status write, waits for the cache to show it instead of a pass that would conflict', async () => {
    const ctx = context([]);
    const patched: string[] = [];
    // the API answers the write with the next version; the cache hears of it only when fed
    (ctx.api as unknown as { patch: (...a: unknown[]) => Promise<KubernetesObject> }).patch = (_t, name) => {
      patched.push(String(name));
      return Promise.resolve({ metadata: { name: String(name), namespace: 'ns', resourceVersion: '2' } });
    };
    @controller({ resource: SAMPLESET, name: 'writer' })
    @watches(CONFIGMAP, (o) => [{ namespace: o.metadata?.namespace, name: o.metadata?.labels?.target ?? '' }])
    class Writer extends ReconcilingOperator<KubernetesObject> {
      readonly seen: string[] = [];
      protected async reconcile(_key: ObjectKey, obj: KubernetesObject | undefined): Promise<ReconcileResult> {
        this.seen.push(obj?.metadata?.resourceVersion ?? '-');
        if (obj?.metadata?.resourceVersion === '1') await this.patchStatus(obj, { phase: 'Ready' });
      }
      async drain(): Promise<void> {
        await this.queue.idle();
      }
    }
    const op = new Writer(ctx);
    (op as unknown as { queue: { start(): void } }).queue.start();
    const ss = {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'a', namespace: 'ns', resourceVersion: '1' },
    };
    feed(ctx.informers, SAMPLESET, ss);
    await op.drain();
    expect(op.seen).to.deep.equal(['1']);
    expect(patched).to.deep.equal(['a']);
    // an event of another kind before the write's own: no pass on the version the write replaced
    feed(ctx.informers, CONFIGMAP, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm', namespace: 'ns', resourceVersion: '5', labels: { target: 'a' } },
    });
    await op.drain();
    expect(op.seen).to.deep.equal(['1']);
    // the write's watch event: the pass runs on it
    (ctx.informers.get(SAMPLESET) as unknown as { apply(e: unknown): void }).apply({
      type: 'MODIFIED',
      object: { ...ss, metadata: { ...ss.metadata, resourceVersion: '2' } },
    });
    await op.drain();
    expect(op.seen).to.deep.equal(['1', '2']);
    expect(patched).to.deep.equal(['a']);
    await op.stop(1000);
  });
});
