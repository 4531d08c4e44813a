/**
 * The base class's event source against a real kube-apiserver: it survives an apiserver restart
 * (keeps running, reconnects, reconciles what was created while the server was down), a 410 Gone
 * (etcd compacted past the watch's resourceVersion) and sees deletions that happened while it was
 * disconnected.
 */
import { expect } from 'chai';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { CONFIGMAP } from '../../src/api/constants.js';
import { controller } from '../../src/kube/decorators.js';
import { EventRecorder } from '../../src/kube/event-recorder.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { Informer } from '../../src/kube/informer.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { ReconcilingOperator, type ReconcileResult } from '../../src/kube/reconciling-operator.js';
import type { ObjectKey } from '../../src/kube/decorators.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { testCluster } from './cluster.js';

const LABEL = 'e2e.paddlepaddle.org/watch-test';

/** Records what it saw: the latest data of every live ConfigMap, and which ones it saw vanish. */
@controller({ resource: CONFIGMAP, name: 'watch-test', labelSelector: LABEL })
class RecordingOperator extends ReconcilingOperator<V1ConfigMap> {
  readonly seen = new Map<string, string>();
  readonly gone = new Set<string>();
  protected reconcile(key: ObjectKey, obj: V1ConfigMap | undefined): Promise<ReconcileResult> {
    const k = `${key.namespace}/${key.name}`;
    if (obj) this.seen.set(k, obj.data?.value ?? '');
    else {
      this.seen.delete(k);
      this.gone.add(k);
    }
    return Promise.resolve();
  }
}

async function eventually(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe('ReconcilingOperator event source (real apiserver)', function () {
  this.timeout(240_000);
  const ns = 'watch-test';
  let api: KubeApi;
  let informers: InformerFactory;
  let metrics: Metrics;
  let op: RecordingOperator;
  const cm = (name: string, value: string): V1ConfigMap => ({
    metadata: { name, namespace: ns, labels: { [LABEL]: 'yes' } },
    data: { value },
  });

  before(async () => {
    const cluster = testCluster();
    await cluster.ensureNamespace(ns);
    api = new KubeApi(cluster.kubeConfig());
    const logger = createLogger({ level: 'error' });
    metrics = new Metrics();
    informers = new InformerFactory(api, logger, metrics, '');
    op = new RecordingOperator({ api, informers, events: new EventRecorder(api, logger), logger, metrics, concurrency: 2 });
    await api.create(CONFIGMAP, cm('before-start', '1'));
    await op.start();
  });

  after(async () => {
    await op?.stop();
    await informers?.stopAll();
  });

  it('lists existing objects, then follows changes', async () => {
    await eventually('the pre-existing object is reconciled', () => op.seen.get(`${ns}/before-start`) === '1');
    await api.patch(CONFIGMAP, 'before-start', ns, { data: { value: '2' } });
    await eventually('the change is reconciled', () => op.seen.get(`${ns}/before-start`) === '2');
  });

  it('survives an apiserver restart and reconciles what changed while it was down', async () => {
    const cluster = testCluster();
    await api.create(CONFIGMAP, cm('doomed', 'x'));
    await eventually('doomed is seen', () => op.seen.has(`${ns}/doomed`));
    const restartsBefore = await restartCount(metrics);

    await cluster.stopApiserver();
    await new Promise((r) => setTimeout(r, 3000)); // the watch fails and backs off meanwhile
    await cluster.startApiserver();
    // changes made right after the server is back, before the informer has necessarily reconnected
    await api.create(CONFIGMAP, cm('created-after-restart', 'new'));
    await api.delete(CONFIGMAP, 'doomed', ns);

    await eventually('the new object is reconciled', () => op.seen.get(`${ns}/created-after-restart`) === 'new', 90_000);
    await eventually('the deletion is seen', () => op.gone.has(`${ns}/doomed`), 90_000);
    expect(await restartCount(metrics)).to.be.greaterThan(restartsBefore);
  });

  it('relists after 410 Gone and emits deletions that happened while disconnected', async () => {
    const cluster = testCluster();
    // A dedicated informer that waits 30 s before reconnecting, so by then etcd is compacted past
    // its resourceVersion: its next watch gets 410 Gone and it must relist.
    const t0 = Date.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    const reasons: string[] = [];
    const deleted: string[] = [];
    const inf = new Informer<V1ConfigMap>(api, CONFIGMAP, {
      namespace: ns,
      labelSelector: LABEL,
      minBackoffMs: 30_000,
      maxBackoffMs: 30_000,
      onRestart: (r) => {
        reasons.push(r);
        mark(`informer restart: ${r}`);
      },
    });
    inf.addHandler((t, o) => t === 'delete' && deleted.push(o.metadata!.name!));
    await api.create(CONFIGMAP, cm('vanishes-while-down', 'v'));
    inf.start();
    try {
      await inf.waitForSync();
      await eventually('the informer has it', () => inf.get('vanishes-while-down', ns) !== undefined);

      mark('stopping apiserver');
      await cluster.stopApiserver();
      await cluster.startApiserver();
      mark('apiserver back');
      await api.delete(CONFIGMAP, 'vanishes-while-down', ns);
      for (let i = 0; i < 5; i++) await api.create(CONFIGMAP, cm(`churn-${i}`, String(i)));
      await api.create(CONFIGMAP, cm('after-compaction', 'c'));
      // compact past the informer's resourceVersion, and restart so the apiserver's watch cache
      // (which would still hold those events) starts after the compaction too
      await cluster.compactEtcd();
      await cluster.restartApiserver();
      mark('deleted, churned, compacted and restarted');

      await eventually('the deletion made while disconnected is emitted', () => deleted.includes('vanishes-while-down'), 150_000);
      await eventually('objects created meanwhile are in the cache', () => inf.get('after-compaction', ns)?.data?.value === 'c', 90_000);
      expect(reasons, timeline.join('\n')).to.include('gone');
      for (let i = 0; i < 5; i++) expect(inf.get(`churn-${i}`, ns)?.data?.value).to.equal(String(i));
    } finally {
      await inf.stop();
    }
    // the operator (normal backoff) converged too
    await eventually('the operator saw the deletion', () => op.gone.has(`${ns}/vanishes-while-down`), 90_000);
    await eventually('the operator saw the new object', () => op.seen.get(`${ns}/after-compaction`) === 'c', 90_000);
  });
});

async function restartCount(metrics: Metrics, reason?: string): Promise<number> {
  const m = await metrics.watchRestarts.get();
  return m.values.filter((v) => !reason || v.labels.reason === reason).reduce((a, v) => a + v.value, 0);
}
