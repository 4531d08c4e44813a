// A SampleSet in use is not torn down, end to end: on the real control plane (kube-scheduler,
// persistentvolume-binder, garbage collector, KWOK nodes) with simulated cache nodes running real
// JuiceFS mounts, a SampleSet deleted while pods mount its claim stays Terminating — condition
// Terminating=True reason InUse naming the pods, a Warning Event, node labels, runtime and claim
// all still there — until the pods are gone (a plain pod deleted; a PaddleJob deleted, whose pod
// the garbage collector removes), or until the force-delete annotation is set.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { EVENT, PADDLEJOB, POD, PVC, SAMPLESET } from '../../src/api/constants.js';
import type { PaddleJob } from '../../src/api/paddlejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { JuiceFsEngine } from '../../src/engines/juicefs/juicefs-engine.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { FORCE_DELETE_ANNOTATION } from '../../src/operators/sampleset/sampleset-operator.js';
import { startCacheNodeSimulator, type CacheNodeSimulator } from '../harness/cache-nodes.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { sleep, waitFor } from '../harness/util.js';
import { deleteTestNamespaces, testCluster } from './cluster.js';
import {
  WAIT,
  cacheNodeLabels,
  conditionOf,
  createSampleSet,
  createVolumeSecret,
  leftOf,
  runtimePodsOf,
  sampleSetWhere,
  startSampleSetOperator,
  waitNothingLeft,
  type Operator,
} from './sampleset-helpers.js';

const NS_PREFIX = 'e2e-inuse-';

interface RecordedEvent {
  type?: string;
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

describe('SampleSet in use (real control plane, simulated cache nodes, real JuiceFS)', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let agent: http.Agent;
  let operator: Operator | undefined;
  let volumesDir: string;
  const namespaces: string[] = [];
  const engine = new JuiceFsEngine();

  async function namespace(prefix: string): Promise<string> {
    const ns = `${NS_PREFIX}${prefix}-${crypto.randomBytes(3).toString('hex')}`;
    await cp.ensureNamespace(ns);
    namespaces.push(ns);
    return ns;
  }

  /** A Ready SampleSet of one partition on a fresh (empty) JuiceFS volume, its cache node labelled. */
  async function readySampleSet(ns: string, name: string): Promise<SampleSet> {
    await createVolumeSecret(api, volumesDir, ns, 'jfs');
    await createSampleSet(api, ns, name, { partitions: 1, noSync: true });
    const ss = await sampleSetWhere(api, ns, name, 'Ready', (s) => s.status?.phase === 'Ready', {
      diagnostics: () => `\nsimulator errors: ${sim.errors.slice(-5).join(' | ')}`,
    });
    await waitFor(`the cache node of ${ns}/${name} labelled`, async () => Object.keys(await cacheNodeLabels(api, name)).length === 1, WAIT);
    return ss;
  }

  /** A pod that mounts the SampleSet's claim, optionally controlled by `owner` or bound to `nodeName`. */
  function userPod(ns: string, name: string, ss: SampleSet, owner?: PaddleJob, nodeName?: string): Promise<V1Pod> {
    return api.create<V1Pod>(POD, {
      metadata: {
        name,
        namespace: ns,
        ownerReferences: owner
          ? [
              {
                apiVersion: 'batch.paddlepaddle.org/v1',
                kind: 'PaddleJob',
                name: owner.metadata.name!,
                uid: owner.metadata.uid!,
                controller: true,
              },
            ]
          : undefined,
      },
      spec: {
        ...(nodeName ? { nodeName } : {}),
        containers: [{ name: 'train', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: engine.persistentVolumeClaimName(ss) } }],
      },
    });
  }

  const eventsOf = async (ns: string, name: string, reason: string): Promise<RecordedEvent[]> =>
    (await api.list<RecordedEvent & { metadata?: object }>(EVENT, ns)).items.filter(
      (e) => e.reason === reason && e.regarding?.kind === 'SampleSet' && e.regarding.name === name,
    );

  /** Deletes the SampleSet and waits until it reports that pods hold it (Terminating=True InUse). */
  async function deleteAndWaitInUse(ns: string, name: string, what: (message: string) => boolean): Promise<SampleSet> {
    await api.delete(SAMPLESET, name, ns);
    return sampleSetWhere(api, ns, name, 'Terminating=True InUse', (s) => {
      const c = conditionOf(s, 'Terminating');
      return !!s.metadata.deletionTimestamp && c?.status === 'True' && c.reason === 'InUse' && what(c.message);
    });
  }

  /** Nothing of the SampleSet was torn down: the object, its claim, runtime, runtime pod and node label are all there. */
  async function nothingTornDown(ns: string, name: string): Promise<void> {
    expect(await leftOf(api, ns, name)).to.include.members([
      'SampleSet',
      'PV',
      'PVC',
      'StatefulSet',
      'Service',
      'token Secret',
      'node labels',
      'pods',
    ]);
    expect((await runtimePodsOf(api, ns, name)).map((p) => p.metadata!.name)).to.deep.equal([`${name}-runtime-0`]);
  }

  before(async function () {
    this.timeout(120_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    agent = new http.Agent({ keepAlive: true });
    volumesDir = path.join(cp.runDir, 'sampleset-in-use-volumes');
    fs.mkdirSync(volumesDir, { recursive: true });
    sim = await startCacheNodeSimulator(cp, { podFilter: (p) => (p.metadata?.namespace ?? '').startsWith(NS_PREFIX) });
    operator = await startSampleSetOperator(agent);
  });

  after(async function () {
    this.timeout(180_000);
    // the operator stays up while the namespaces go (the SampleSet finalizer needs it); force what a failed test left
    for (const ns of namespaces) {
      for (const ss of (await api.list<SampleSet>(SAMPLESET, ns)).items) {
        await api
          .patch(SAMPLESET, ss.metadata.name!, ns, { metadata: { annotations: { [FORCE_DELETE_ANNOTATION]: 'true' } } })
          .catch(() => undefined);
      }
    }
    if (namespaces.length) await deleteTestNamespaces(cp, namespaces, 'sampleset-in-use');
    await operator?.stop();
    await sim?.stop();
    agent?.destroy();
  });

  it('waits while a plain pod and a PaddleJob pod mount the claim, saying so; finishes on its own once they are gone', async function () {
    this.timeout(240_000);
    const ns = await namespace('wait');
    const ss = await readySampleSet(ns, 'busy');
    const job = await api.create<PaddleJob>(PADDLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1',
      kind: 'PaddleJob',
      metadata: { name: 'train', namespace: ns },
      spec: { worker: { replicas: 1, template: { spec: { containers: [{ name: 'train', image: 'busybox' }] } } } },
    });
    await userPod(ns, 'reader', ss);
    await userPod(ns, 'train-worker-0', ss, job);

    const held = await deleteAndWaitInUse(
      ns,
      'busy',
      (m) => m.includes('pod reader') && m.includes('pod train-worker-0 (PaddleJob train)'),
    );
    const c = conditionOf(held, 'Terminating')!;
    expect(c.message).to.include('2 pods mounting PersistentVolumeClaim busy').and.include(`${FORCE_DELETE_ANNOTATION}=true`);
    expect(c.observedGeneration).to.equal(held.metadata.generation);
    const warnings = await waitFor(
      'the InUse Warning',
      async () => ((await eventsOf(ns, 'busy', 'InUse')).length > 0 ? eventsOf(ns, 'busy', 'InUse') : undefined),
      WAIT,
    );
    expect(warnings[0]).to.include({ type: 'Warning', note: c.message });
    // it stays so: passes in between (pod updates, the resync) tear nothing down
    await sleep(3000);
    await nothingTornDown(ns, 'busy');
    expect(await eventsOf(ns, 'busy', 'Deleted')).to.deep.equal([]);

    // one user gone: still held, by the other only
    await api.delete(POD, 'reader', ns, { gracePeriodSeconds: 0 });
    await sampleSetWhere(api, ns, 'busy', 'held by the PaddleJob pod only', (s) => {
      const m = conditionOf(s, 'Terminating')?.message ?? '';
      return m.includes('1 pod mounting') && !m.includes('pod reader');
    });
    await nothingTornDown(ns, 'busy');

    // the PaddleJob deleted: the garbage collector removes its pod, and the deletion finishes
    await api.delete(PADDLEJOB, 'train', ns, { propagationPolicy: 'Background' });
    await waitNothingLeft(api, ns, 'busy');
    expect(await eventsOf(ns, 'busy', 'Deleted')).to.have.length(1);
    expect(await eventsOf(ns, 'busy', 'ForceDeleted')).to.deep.equal([]);
  });

  it('the force-delete annotation lets the deletion proceed with the pod still mounting the claim, and an Event names it', async function () {
    this.timeout(240_000);
    const ns = await namespace('force');
    const ss = await readySampleSet(ns, 'forced');
    await userPod(ns, 'reader', ss);
    await deleteAndWaitInUse(ns, 'forced', (m) => m.includes('pod reader'));
    await sleep(1000);
    await nothingTornDown(ns, 'forced');

    await api.patch(SAMPLESET, 'forced', ns, { metadata: { annotations: { [FORCE_DELETE_ANNOTATION]: 'true' } } });
    // torn down as without users; only the claim and its PV stay, held by Kubernetes' own protection while the pod lives
    await waitFor(
      'the forced deletion to tear down all but the claim and its PV',
      async () => {
        const left = await leftOf(api, ns, 'forced');
        return left.length === 2 && left.includes('PV') && left.includes('PVC') ? left : undefined;
      },
      WAIT,
    );
    expect((await api.get<V1PersistentVolumeClaim>(PVC, 'forced', ns))?.metadata?.deletionTimestamp).to.not.equal(undefined);
    const forced = await waitFor('the ForceDeleted Event', async () => (await eventsOf(ns, 'forced', 'ForceDeleted'))[0], WAIT);
    expect(forced.type).to.equal('Warning');
    expect(forced.note).to.include('pod reader');
    expect(await api.get(POD, 'reader', ns), 'the user pod is not the operator’s to delete').to.not.equal(undefined);

    await api.delete(POD, 'reader', ns, { gracePeriodSeconds: 0 });
    await waitNothingLeft(api, ns, 'forced');
  });

  it('a scale-down waits for a pod using the cache on the node it removes (PartitionsScaled=False), and goes on once it is gone', async function () {
    this.timeout(240_000);
    const ns = await namespace('scale');
    await createVolumeSecret(api, volumesDir, ns, 'jfs');
    await createSampleSet(api, ns, 'shrink', { partitions: 2, noSync: true });
    const ss = await sampleSetWhere(api, ns, 'shrink', 'Ready on 2 partitions', (x) => x.status?.phase === 'Ready');
    const leaving = ss.status!.nodes!.find((n) => n.partition === 1)!.node!;
    // a training pod on the node of partition 1, reading through the claim
    await userPod(ns, 'reader', ss, undefined, leaving);

    await api.patch(SAMPLESET, 'shrink', ns, { spec: { partitions: 1 } });
    const waiting = await sampleSetWhere(
      api,
      ns,
      'shrink',
      'PartitionsScaled=False',
      (x) => conditionOf(x, 'PartitionsScaled')?.status === 'False',
    );
    expect(conditionOf(waiting, 'PartitionsScaled')).to.include({ reason: 'ScaleDownWaiting' });
    expect(conditionOf(waiting, 'PartitionsScaled')!.message).to.include('pod reader');
    await sleep(1000);
    expect((await runtimePodsOf(api, ns, 'shrink')).map((p) => p.metadata!.name).sort(), 'partition 1 keeps its runtime pod').to.deep.equal(
      ['shrink-runtime-0', 'shrink-runtime-1'],
    );
    expect((await api.get<SampleSet>(SAMPLESET, 'shrink', ns))!.status!.phase, 'the SampleSet stays usable').to.equal('Ready');
    expect((await eventsOf(ns, 'shrink', 'ScaleDownWaiting'))[0]?.type).to.equal('Warning');

    await api.delete(POD, 'reader', ns, { gracePeriodSeconds: 0 });
    await waitFor('the runtime scaled to 1', async () => (await runtimePodsOf(api, ns, 'shrink')).length === 1 || undefined, WAIT);
    await sampleSetWhere(api, ns, 'shrink', 'PartitionsScaled=True', (x) => conditionOf(x, 'PartitionsScaled')?.status === 'True');
  });
});
