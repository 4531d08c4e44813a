import { expect } from 'chai';
import {
  type KubernetesObject,
  type V1Node,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Service,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { CONFIGMAP, NODE, POD, PV, PVC, SERVICE } from '../../../src/api/constants.js';
import {
  LAST_APPLIED_ANNOTATION,
  cachedClaim,
  cachedNode,
  cachedPod,
  cachedService,
  cachedStatefulSet,
  cachedVolume,
  withoutServerFields,
} from '../../../src/kube/cached-objects.js';
import type { Informer, InformerEventType } from '../../../src/kube/informer.js';
import { InformerFactory } from '../../../src/kube/informer-factory.js';
import { KubeApi } from '../../../src/kube/kube-api.js';
import { labelMatcher } from '../../../src/kube/label-selector.js';
import { createLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { offlineKubeConfig } from '../support/offline-kube-config.js';

function factory(namespace = ''): InformerFactory {
  return new InformerFactory(new KubeApi(offlineKubeConfig()), createLogger({ silent: true }), new Metrics(), namespace);
}

/** Feeds a watch event into an informer that is never started, as its watch stream would. */
function feed(inf: Informer, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubernetesObject): void {
  (inf as unknown as { apply(e: unknown): void }).apply({ type, object: structuredClone(object) });
}

function pod(name: string, labels: Record<string, string> = {}, extra: Partial<V1Pod> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'ns', resourceVersion: '1', labels },
    spec: { containers: [{ name: 'main', image: 'x', env: [{ name: 'A', value: 'b' }] }] },
    ...extra,
  };
}

describe('label selectors evaluated in the process', () => {
  it('parses the equality-based forms and refuses the set-based ones', () => {
    const m = labelMatcher('a, b=1, c!=2, !d, e==3')!;
    expect(m({ a: '', b: '1', e: '3' })).to.equal(true);
    expect(m({ a: '', b: '1', e: '3', c: '2' })).to.equal(false);
    expect(m({ a: '', b: '1', e: '3', d: 'x' })).to.equal(false);
    expect(m({ b: '1', e: '3' })).to.equal(false);
    expect(m(undefined)).to.equal(false);
    expect(labelMatcher('paddlepaddle.org/sampleset')!({ 'paddlepaddle.org/sampleset': 'x' })).to.equal(true);
    for (const s of ['a in (x)', 'a notin (x)', '', 'a,,b', '!a=b', 'bad key']) expect(labelMatcher(s), s).to.equal(undefined);
  });
});

describe('what the caches keep', () => {
  it('drops managedFields and the last-applied annotation from every kind', () => {
    const o = withoutServerFields({
      metadata: {
        name: 'x',
        managedFields: [{ manager: 'kubectl' }],
        annotations: { [LAST_APPLIED_ANNOTATION]: '{}', keep: 'me' },
      },
    });
    expect(o.metadata).to.deep.equal({ name: 'x', annotations: { keep: 'me' } });
    expect(withoutServerFields({ metadata: { name: 'y', annotations: { [LAST_APPLIED_ANNOTATION]: '{}' } } }).metadata).to.deep.equal({
      name: 'y',
    });
  });

  it('keeps of a pod its metadata, node, claims and status (no container specs, no other volumes)', () => {
    const p: V1Pod = {
      ...pod('p', { l: 'v' }),
      spec: {
        nodeName: 'n1',
        containers: [{ name: 'main', image: 'x' }],
        volumes: [
          { name: 'data', persistentVolumeClaim: { claimName: 'c' } },
          { name: 'token', projected: { sources: [] } },
        ],
      },
      status: {
        phase: 'Running',
        podIP: '10.0.0.1',
        hostIP: '10.1.1.1',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: 'main', ready: true, restartCount: 0, image: 'x', imageID: 'sha', state: { running: {} } }],
      },
    };
    expect(cachedPod(p)).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: p.metadata,
      spec: { nodeName: 'n1', volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'c' } }] },
      status: {
        phase: 'Running',
        podIP: '10.0.0.1',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: 'main', ready: true, restartCount: 0, state: { running: {} } }],
      },
    });
  });

  it('keeps of a node its metadata, taints, unschedulable and conditions (no images, no capacity)', () => {
    const n: V1Node = {
      metadata: { name: 'n', labels: { a: 'b' } },
      spec: { taints: [{ key: 'k', effect: 'NoSchedule' }], podCIDR: '10.0.0.0/24' },
      status: { conditions: [{ type: 'Ready', status: 'True' }], images: [{ names: ['x'], sizeBytes: 1 }], capacity: { cpu: '1' } },
    };
    expect(cachedNode(n)).to.deep.equal({
      metadata: n.metadata,
      spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
  });

  it('keeps of a StatefulSet its metadata, replicas, pod template metadata and status (no pod spec)', () => {
    const sts: V1StatefulSet = {
      metadata: { name: 's' },
      spec: {
        replicas: 2,
        serviceName: 'svc',
        selector: { matchLabels: { a: 'b' } },
        template: { metadata: { annotations: { h: '1' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
      status: { replicas: 2, readyReplicas: 1 },
    };
    expect(cachedStatefulSet(sts)).to.deep.equal({
      metadata: { name: 's' },
      spec: { replicas: 2, template: { metadata: { annotations: { h: '1' } } } },
      status: { replicas: 2, readyReplicas: 1 },
    });
  });

  it('keeps of a Service its metadata only, of a claim its phase, of a volume its claimRef, CSI handle and phase', () => {
    const svc: V1Service = {
      metadata: { name: 's', ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'u', controller: true }] },
      spec: { clusterIP: 'None', ports: [{ port: 80 }], selector: { a: 'b' } },
      status: { loadBalancer: {} },
    };
    expect(cachedService(svc)).to.deep.equal({ metadata: svc.metadata });
    const pvc: V1PersistentVolumeClaim = {
      metadata: { name: 'c', uid: 'cu', annotations: { k: 'v' } },
      spec: { volumeName: 'v', accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
      status: { phase: 'Bound', capacity: { storage: '1Gi' } },
    };
    expect(cachedClaim(pvc)).to.deep.equal({ metadata: pvc.metadata, status: { phase: 'Bound' } });
    const pv: V1PersistentVolume = {
      metadata: { name: 'v', annotations: { o: 'ns/ds' } },
      spec: {
        capacity: { storage: '1Gi' },
        claimRef: { name: 'c', namespace: 'ns', uid: 'cu', resourceVersion: '7', kind: 'PersistentVolumeClaim' },
        csi: {
          driver: 'csi.juicefs.com',
          volumeHandle: 'h',
          nodePublishSecretRef: { name: 's', namespace: 'ns' },
          volumeAttributes: { a: 'b' },
        },
      },
      status: { phase: 'Bound' },
    };
    expect(cachedVolume(pv)).to.deep.equal({
      metadata: pv.metadata,
      spec: { claimRef: { name: 'c', namespace: 'ns', uid: 'cu' }, csi: { volumeHandle: 'h' } },
      status: { phase: 'Bound' },
    });
    expect(cachedVolume({ metadata: { name: 'bare' }, spec: {} })).to.deep.equal({ metadata: { name: 'bare' }, spec: {} });
  });

  it("the factory's informers apply them as objects arrive", () => {
    const f = factory();
    const pods = f.get<V1Pod>(POD);
    feed(pods, 'ADDED', { ...pod('p'), metadata: { ...pod('p').metadata, managedFields: [{ manager: 'm' }] } });
    expect(pods.get('p', 'ns')).to.deep.equal({ apiVersion: 'v1', kind: 'Pod', metadata: pod('p').metadata, spec: {} });
    const nodes = f.get<V1Node>(NODE);
    feed(nodes, 'ADDED', { metadata: { name: 'n', resourceVersion: '1' }, status: { images: [{ names: ['x'] }] } } as V1Node);
    expect(nodes.get('n')).to.deep.equal({ metadata: { name: 'n', resourceVersion: '1' }, status: {} });
    const services = f.get<V1Service>(SERVICE);
    feed(services, 'ADDED', { metadata: { name: 's', namespace: 'ns', resourceVersion: '1' }, spec: { clusterIP: 'None' } } as V1Service);
    expect(services.get('s', 'ns')).to.deep.equal({ metadata: { name: 's', namespace: 'ns', resourceVersion: '1' } });
    const claims = f.get<V1PersistentVolumeClaim>(PVC);
    feed(claims, 'ADDED', {
      metadata: { name: 'c', namespace: 'ns', resourceVersion: '1' },
      spec: { volumeName: 'v' },
    } as V1PersistentVolumeClaim);
    expect(claims.get('c', 'ns')).to.deep.equal({ metadata: { name: 'c', namespace: 'ns', resourceVersion: '1' } });
    const volumes = f.get<V1PersistentVolume>(PV);
    feed(volumes, 'ADDED', { metadata: { name: 'v', resourceVersion: '1' }, spec: { capacity: { storage: '1Gi' } } } as V1PersistentVolume);
    expect(volumes.get('v')).to.deep.equal({ metadata: { name: 'v', resourceVersion: '1' }, spec: {} });
  });
});

describe('informers that follow a whole one', () => {
  it('a selector informer of a kind also watched whole takes its objects and events from that one', async () => {
    const f = factory();
    const labelled = f.get<V1Pod>(POD, 'app');
    const events: Array<[InformerEventType, string, string | undefined]> = [];
    labelled.addHandler((t, o, old) => events.push([t, o.metadata!.name!, old?.metadata?.resourceVersion]));
    const whole = f.get<V1Pod>(POD);
    const configMaps = f.get(CONFIGMAP, 'app');
    // nothing to list here: the informers are fed by hand, so make the whole one "synced" without a server
    (whole as unknown as { markSynced(): void }).markSynced();
    f.startAll();
    expect(labelled.hasStarted && whole.hasStarted && configMaps.hasStarted).to.equal(true);
    await configMaps.stop(); // a kind not watched whole keeps its own watch (stopped at once here)
    await labelled.waitForSync();

    feed(whole, 'ADDED', pod('a', { app: 'x' }));
    feed(whole, 'ADDED', pod('b'));
    feed(whole, 'MODIFIED', { ...pod('b', { app: 'y' }), metadata: { ...pod('b', { app: 'y' }).metadata, resourceVersion: '2' } });
    feed(whole, 'MODIFIED', { ...pod('a'), metadata: { ...pod('a').metadata, resourceVersion: '3' } });
    feed(whole, 'DELETED', pod('b', { app: 'y' }));
    expect(events).to.deep.equal([
      ['add', 'a', undefined],
      ['add', 'b', undefined],
      ['delete', 'a', undefined],
      ['delete', 'b', undefined],
    ]);
    expect(labelled.list()).to.deep.equal([]);
    feed(whole, 'ADDED', pod('c', { app: 'z' }));
    expect(labelled.get('c', 'ns')).to.equal(whole.get('c', 'ns')); // the same object, not a copy
    await whole.stop();
  });
});
