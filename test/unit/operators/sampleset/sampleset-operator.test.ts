import { expect } from 'chai';
import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { NODE, POD, PV, PVC, SAMPLESET, SAMPLESET_FINALIZER, SECRET, SERVICE, STATEFULSET } from '../../../../src/api/constants.js';
import type { Condition } from '../../../../src/api/conditions.js';
import type { SampleSet, SampleSetSpec } from '../../../../src/api/sampleset.js';
import { ExampleEngine } from '../../../../src/engines/example/example-engine.js';
import { EngineRegistry } from '../../../../src/engines/registry.js';
import { ManualClock } from '../../../../src/kube/clock.js';
import { isControlledBy } from '../../../../src/kube/owner-reference.js';
import { CacheStatsNotifier } from '../../../../src/operators/shared/cache-stats-notifier.js';
import {
  FORCE_DELETE_ANNOTATION,
  SampleSetOperator,
  TOKEN_HASH_ANNOTATION,
} from '../../../../src/operators/sampleset/sampleset-operator.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { baseUrl, NS, runtimePod, until } from '../samplejob/fixtures.js';
import { FakeSampleSetRuntime } from './fake-runtime.js';

/**
 * The SampleSet operator on the fake cluster, with the example engine (a second engine driven
 * through a SampleSet, not only through the registry) and an in-memory runtime: one test per
 * phase of a pass, the transitions between phases, and deletion.
 */
describe('SampleSetOperator', () => {
  let kube: FakeCluster;
  let rt: FakeSampleSetRuntime;
  let notifier: CacheStatsNotifier;
  let op: SampleSetOperator | undefined;

  const LABEL = 'paddlepaddle.org/example-ds';
  const get = (): SampleSet | undefined => kube.get<SampleSet>(SAMPLESET, 'ds', NS);
  const phase = (): string | undefined => get()?.status?.phase;
  const cond = (type: string): Condition | undefined => get()?.status?.conditions?.find((c) => c.type === type);
  const reasons = (): string[] => kube.events.map((e) => e.reason);

  async function start(): Promise<void> {
    const engines = new EngineRegistry([new ExampleEngine()]);
    op = new SampleSetOperator(
      kube.context(),
      engines,
      rt,
      { runtimeImage: 'img', syncWaitSeconds: 1, syncProgressIntervalMs: 10, conflictRetryMs: 50, submitRetryMs: 10, statsRetryMs: 10 },
      notifier,
    );
    await op.start();
  }

  function sampleSet(spec: Partial<SampleSetSpec> = {}): void {
    kube.put(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'ds', namespace: NS },
      spec: { partitions: 2, secretRef: { name: 'vol' }, csi: { driver: 'example' }, noSync: true, ...spec },
    });
  }

  const volumeSecret = (): void => void kube.put(SECRET, { metadata: { name: 'vol', namespace: NS }, data: {} });

  /** What kube-controller-manager's binder does: the claim becomes Bound. */
  function bindClaim(): void {
    const pvc = kube.get<V1PersistentVolumeClaim>(PVC, 'ds', NS)!;
    kube.put(PVC, { ...pvc, status: { phase: 'Bound' } });
  }

  /** The pods the StatefulSet controller would make, ready on node-<i>. */
  function runtimePods(n: number): void {
    for (let i = 0; i < n; i++) runtimePod(kube, 'ds', i);
  }

  /** A SampleSet that got past objects and binding. */
  async function bound(spec: Partial<SampleSetSpec> = {}): Promise<void> {
    volumeSecret();
    sampleSet(spec);
    await start();
    await until(() => !!kube.get(STATEFULSET, 'ds-runtime', NS), 2000, 'runtime StatefulSet');
    bindClaim();
  }

  beforeEach(() => {
    kube = new FakeCluster();
    rt = new FakeSampleSetRuntime();
    notifier = new CacheStatsNotifier();
    for (let i = 0; i < 3; i++) kube.put(NODE, { metadata: { name: `node-${i}`, labels: {} } });
  });
  afterEach(async () => {
    await op?.stop(1000);
    op = undefined;
  });

  describe('phase 1: the spec and its Secrets', () => {
    it('a missing volume Secret: Ready=False SecretNotFound, a Warning, no object created; the Secret appearing lets it proceed', async () => {
      sampleSet();
      await start();
      await until(() => cond('Ready')?.reason === 'SecretNotFound', 2000, 'SecretNotFound');
      expect(cond('Ready')?.status).to.equal('False');
      expect(get()?.metadata?.finalizers).to.include(SAMPLESET_FINALIZER);
      expect(kube.events.find((e) => e.reason === 'SecretNotFound')?.type).to.equal('Warning');
      expect(kube.api.writes().filter((c) => c.verb === 'create')).to.deep.equal([]);
      volumeSecret();
      await until(() => !!kube.get(PV, 'ns.ds-example'), 2000, 'the PV after the Secret appeared');
    });

    it("a spec the engine refuses: Ready=False with the engine's reason", async () => {
      volumeSecret();
      sampleSet({ noSync: false, source: { uri: 's3://bucket/x' } });
      await start();
      await until(() => cond('Ready')?.reason === 'InvalidSource', 2000, 'InvalidSource');
    });
  });

  describe('phases 2–3: the objects that realise it', () => {
    it('creates the PV first, then the owned claim, token Secret, Service and StatefulSet with partitions replicas', async () => {
      volumeSecret();
      sampleSet();
      await start();
      await until(() => !!kube.get(STATEFULSET, 'ds-runtime', NS), 2000, 'StatefulSet');
      const creates = kube.api
        .writes()
        .filter((c) => c.verb === 'create')
        .map((c) => c.plural);
      expect(creates).to.deep.equal(['persistentvolumes', 'persistentvolumeclaims', 'secrets', 'services', 'statefulsets']);
      const ss = get()!;
      for (const [type, name] of [
        [PVC, 'ds'],
        [SECRET, 'ds-runtime-token'],
        [SERVICE, 'ds-runtime'],
        [STATEFULSET, 'ds-runtime'],
      ] as const) {
        expect(isControlledBy(kube.get(type, name, NS)!, ss), `${type.kind} ${name}`).to.equal(true);
      }
      expect(kube.get<V1PersistentVolume>(PV, 'ns.ds-example')?.metadata?.annotations).to.deep.include({
        'paddlepaddle.org/sampleset-owner': 'ns/ds',
      });
      const sts = kube.get<V1StatefulSet>(STATEFULSET, 'ds-runtime', NS)!;
      expect(sts.spec?.replicas).to.equal(2);
      expect(sts.spec?.template?.metadata?.annotations?.[TOKEN_HASH_ANNOTATION]).to.be.a('string');
      await until(() => cond('VolumeBound')?.status === 'False' && phase() === '', 2000, 'VolumeBound=False, phase ""');
      expect(reasons()).to.include.members([
        'CreatedPersistentVolume',
        'CreatedPersistentVolumeClaim',
        'CreatedSecret',
        'CreatedService',
        'CreatedStatefulSet',
      ]);
    });

    it('nudges a claim the binder left Pending under a PV bound to it, less and less often (2, 4, 8 s … after its creation)', async () => {
      const clock = new ManualClock();
      const t0 = clock.now();
      volumeSecret();
      sampleSet();
      op = new SampleSetOperator(kube.context(4, clock), new EngineRegistry([new ExampleEngine()]), rt, { runtimeImage: 'img' }, notifier);
      await op.start();
      await until(() => !!kube.get(STATEFULSET, 'ds-runtime', NS), 2000, 'StatefulSet');
      const pvc = kube.get<V1PersistentVolumeClaim>(PVC, 'ds', NS)!;
      kube.put(PVC, { ...pvc, metadata: { ...pvc.metadata, creationTimestamp: new Date(t0) }, status: { phase: 'Pending' } });
      const pv = kube.get<V1PersistentVolume>(PV, 'ns.ds-example')!;
      kube.put(PV, { ...pv, spec: { ...pv.spec, claimRef: { uid: pvc.metadata!.uid } } });
      const nudges = (): string[] =>
        kube.api
          .writes()
          .filter((c) => c.verb === 'patch' && c.plural === 'persistentvolumeclaims')
          .map(
            (c) =>
              (c.body as { metadata: { annotations: Record<string, string> } }).metadata.annotations['paddlepaddle.org/bind-nudged-at'],
          );
      const at = async (s: number, want: number): Promise<void> => {
        clock.set(t0 + s * 1000);
        op!.enqueue({ namespace: NS, name: 'ds' });
        await until(() => nudges().length === want, 2000, `${want} nudges at ${s} s`);
        await new Promise((r) => setTimeout(r, 20));
        expect(nudges(), `at ${s} s`).to.have.length(want);
      };
      await at(1, 0);
      await at(2, 1);
      await at(3.9, 1); // next one 2 s after the first (it came 2 s after the claim)
      await at(4, 2);
      await at(7.9, 2);
      await at(8, 3);
      await at(100, 4);
      await at(129, 4); // at most 30 s apart
      await at(130, 5);
      expect(nudges()[0]).to.equal(new Date(t0 + 2000).toISOString());
    });

    it('an object of that name it does not own blocks the pass (Ready=False ObjectConflict) and is never adopted', async () => {
      volumeSecret();
      kube.put(SERVICE, { metadata: { name: 'ds-runtime', namespace: NS }, spec: {} });
      sampleSet();
      await start();
      await until(() => cond('Ready')?.reason === 'ObjectConflict', 2000, 'ObjectConflict');
      expect(cond('Ready')?.message).to.match(/Service ns\/ds-runtime exists and is not owned/);
      expect(kube.get(STATEFULSET, 'ds-runtime', NS)).to.equal(undefined);
      expect(kube.get<V1Service>(SERVICE, 'ds-runtime', NS)?.metadata?.ownerReferences).to.equal(undefined);
    });

    it('scales the runtime StatefulSet with spec.partitions', async () => {
      await bound();
      const ss = get()!;
      await kube.editSpec(SAMPLESET, 'ds', NS, { ...ss.spec, partitions: 3 });
      await until(() => kube.get<V1StatefulSet>(STATEFULSET, 'ds-runtime', NS)?.spec?.replicas === 3, 2000, 'scaled to 3');
      expect(reasons()).to.include('Scaled');
    });

    it('a scale-down waits for pods that use the cache on the nodes it removes, then goes on when they are gone', async () => {
      await bound();
      runtimePods(2);
      await until(() => phase() === 'Ready', 2000, 'Ready');
      const claim = kube.get<V1PersistentVolumeClaim>(PVC, 'ds', NS)!.metadata!.name!;
      kube.put(POD, {
        metadata: {
          name: 'train-0',
          namespace: NS,
          ownerReferences: [{ apiVersion: 'v1', kind: 'PaddleJob', name: 'train', uid: 'j', controller: true }],
        },
        spec: { nodeName: 'node-1', containers: [], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] },
        status: { phase: 'Running' },
      });
      await kube.editSpec(SAMPLESET, 'ds', NS, { ...get()!.spec, partitions: 1 });
      await until(() => cond('PartitionsScaled')?.status === 'False', 2000, 'the scale-down waiting');
      expect(cond('PartitionsScaled')).to.include({ reason: 'ScaleDownWaiting' });
      expect(cond('PartitionsScaled')!.message).to.contain('pod train-0 (PaddleJob train)');
      expect(kube.get<V1StatefulSet>(STATEFULSET, 'ds-runtime', NS)?.spec?.replicas).to.equal(2);
      expect(reasons()).to.include('ScaleDownWaiting');
      expect(phase(), 'the SampleSet stays usable while it waits').to.equal('Ready');
      kube.remove(POD, 'train-0', NS);
      await until(() => kube.get<V1StatefulSet>(STATEFULSET, 'ds-runtime', NS)?.spec?.replicas === 1, 2000, 'scaled to 1');
      await until(() => cond('PartitionsScaled')?.status === 'True', 2000, 'PartitionsScaled');
    });

    it('a scale-down goes on at once when no pod on the removed nodes uses the cache', async () => {
      await bound();
      runtimePods(2);
      const claim = kube.get<V1PersistentVolumeClaim>(PVC, 'ds', NS)!.metadata!.name!;
      kube.put(POD, {
        metadata: { name: 'elsewhere', namespace: NS },
        spec: { nodeName: 'node-0', containers: [], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] },
        status: { phase: 'Running' },
      });
      await kube.editSpec(SAMPLESET, 'ds', NS, { ...get()!.spec, partitions: 1 });
      await until(() => kube.get<V1StatefulSet>(STATEFULSET, 'ds-runtime', NS)?.spec?.replicas === 1, 2000, 'scaled to 1');
    });
  });

  describe('phases 4–8: runtime, node labels, sync, statistics, status', () => {
    it('"" → Bound → Ready with noSync: node labels on the cache nodes, runtime and node status, a Ready event', async () => {
      await bound();
      await until(() => phase() === 'Bound', 2000, 'Bound');
      expect(cond('VolumeBound')?.status).to.equal('True');
      expect(cond('Ready')).to.include({ status: 'False', reason: 'RuntimeNotReady' });
      runtimePods(2);
      await until(() => phase() === 'Ready', 2000, 'Ready');
      const s = get()!.status!;
      expect(s.runtimeStatus).to.deep.equal({ specReplicas: 2, readyReplicas: 2, runtimeReady: '2/2' });
      expect(s.nodes).to.deep.equal([
        { partition: 0, pod: 'ds-runtime-0', ready: true, node: 'node-0' },
        { partition: 1, pod: 'ds-runtime-1', ready: true, node: 'node-1' },
      ]);
      expect(cond('Ready')).to.include({ status: 'True', reason: 'Ready' });
      expect(cond('Synced')).to.include({ status: 'True', reason: 'SyncSkipped' });
      expect(kube.get<V1Node>(NODE, 'node-0')?.metadata?.labels?.[LABEL]).to.equal('ds-runtime-0');
      expect(kube.get<V1Node>(NODE, 'node-1')?.metadata?.labels?.[LABEL]).to.equal('ds-runtime-1');
      expect(kube.get<V1Node>(NODE, 'node-2')?.metadata?.labels?.[LABEL]).to.equal(undefined);
      expect(reasons()).to.include('Ready');
      await until(() => get()?.status?.cacheStatus?.cachedBytes === 2048, 2000, 'cache statistics of both pods');
    });

    it('Ready → PartialReady when a partition pod is lost (a NotReady event), and its node is unlabelled', async () => {
      await bound();
      runtimePods(2);
      await until(() => phase() === 'Ready', 2000, 'Ready');
      kube.remove(POD, 'ds-runtime-1', NS);
      await until(() => phase() === 'PartialReady', 2000, 'PartialReady');
      expect(cond('Ready')).to.include({ status: 'False', reason: 'PartitionsNotReady' });
      expect(get()?.status?.nodes?.[1]).to.deep.include({ ready: false, message: 'not created yet' });
      expect(reasons()).to.include('NotReady');
      await until(() => kube.get<V1Node>(NODE, 'node-1')?.metadata?.labels?.[LABEL] === undefined, 2000, 'node-1 unlabelled');
    });

    it('the initial sync: Syncing while it runs on pod 0, Ready when it succeeded', async () => {
      await bound({ noSync: false, source: { uri: 'file:///data/in' } });
      runtimePods(2);
      await until(() => rt.count('submit') === 1, 2000, 'sync submitted');
      const id = get()?.status?.syncJob?.id ?? rt.calls.find((c) => c.op === 'submit')!.id!;
      expect(rt.calls.find((c) => c.op === 'submit')?.baseUrl).to.equal(baseUrl(0));
      rt.update(baseUrl(0), id, 'running', { progress: { filesDone: 1, filesTotal: 2 } });
      await until(() => phase() === 'Syncing' && get()?.status?.syncJob?.phase === 'Running', 2000, 'Syncing');
      expect(cond('Ready')?.reason).to.equal('Syncing');
      rt.update(baseUrl(0), id, 'succeeded', { message: 'copied 2 files' });
      await until(() => phase() === 'Ready', 2000, 'Ready after the sync');
      expect(cond('Synced')).to.include({ status: 'True', reason: 'SyncSucceeded' });
      expect(reasons()).to.include.members(['SyncStarted', 'SyncSucceeded', 'Ready']);
    });

    it('a failed initial sync: phase SyncFailed, Ready=False SyncFailed, a Warning', async () => {
      await bound({ noSync: false, source: { uri: 'file:///data/in' } });
      runtimePods(1);
      await until(() => rt.count('submit') === 1, 2000, 'sync submitted');
      const id = rt.calls.find((c) => c.op === 'submit')!.id!;
      rt.update(baseUrl(0), id, 'failed', { message: 'no such directory' });
      await until(() => phase() === 'SyncFailed', 2000, 'SyncFailed');
      expect(cond('Ready')?.reason).to.equal('SyncFailed');
      expect(kube.events.find((e) => e.reason === 'SyncFailed')?.type).to.equal('Warning');
    });
  });

  describe('phase and conditions never disagree', () => {
    it('a Ready SampleSet whose volume Secret is deleted: Ready=False and a phase SampleJobs do not admit, a NotReady event', async () => {
      await bound();
      runtimePods(2);
      await until(() => phase() === 'Ready', 2000, 'Ready');
      kube.remove(SECRET, 'vol', NS);
      await until(() => cond('Ready')?.reason === 'SecretNotFound', 2000, 'SecretNotFound');
      expect(cond('Ready')?.status).to.equal('False');
      expect(phase()).to.not.be.oneOf(['Ready', 'PartialReady']);
      expect(reasons()).to.include('NotReady');
      volumeSecret();
      await until(() => phase() === 'Ready', 2000, 'Ready again');
    });

    it('a Ready SampleSet meeting an object conflict: Ready=False and a phase SampleJobs do not admit', async () => {
      await bound();
      runtimePods(2);
      await until(() => phase() === 'Ready', 2000, 'Ready');
      // the Service is replaced by someone else's of the same name
      kube.remove(SERVICE, 'ds-runtime', NS);
      kube.put(SERVICE, { metadata: { name: 'ds-runtime', namespace: NS }, spec: {} });
      await until(() => cond('Ready')?.reason === 'ObjectConflict', 2000, 'ObjectConflict');
      expect(phase()).to.not.be.oneOf(['Ready', 'PartialReady']);
    });
  });

  describe('deletion', () => {
    it('removes node labels, owned objects and the PV, then the finalizer', async () => {
      await bound();
      runtimePods(2);
      await until(() => phase() === 'Ready', 2000, 'Ready');
      await kube.api.delete(SAMPLESET, 'ds', NS);
      await until(() => !get(), 2000, 'SampleSet gone');
      for (const [type, name] of [
        [STATEFULSET, 'ds-runtime'],
        [SERVICE, 'ds-runtime'],
        [SECRET, 'ds-runtime-token'],
        [PVC, 'ds'],
      ] as const) {
        expect(kube.get(type, name, NS), `${type.kind} ${name}`).to.equal(undefined);
      }
      expect(kube.get(PV, 'ns.ds-example')).to.equal(undefined);
      expect(kube.get<V1Node>(NODE, 'node-0')?.metadata?.labels?.[LABEL]).to.equal(undefined);
      expect(kube.get(SECRET, 'vol', NS), "the user's Secret stays").to.not.equal(undefined);
      expect(reasons()).to.include('Deleted');
    });

    /** A pod of a PaddleJob that mounts the SampleSet's claim (`ds`, the example engine's name for it). */
    function userPod(name: string): void {
      kube.put(POD, {
        metadata: {
          name,
          namespace: NS,
          uid: `uid-${name}`,
          ownerReferences: [{ apiVersion: 'batch.paddlepaddle.org/v1', kind: 'PaddleJob', name: 'train', uid: 'pj', controller: true }],
        },
        spec: { containers: [], volumes: [{ name: 'paddle-sampleset', persistentVolumeClaim: { claimName: 'ds' } }] },
        status: { phase: 'Running' },
      });
    }

    async function readyInUse(): Promise<void> {
      await bound();
      runtimePods(2);
      await until(() => phase() === 'Ready', 2000, 'Ready');
      userPod('train-worker-0');
      await kube.api.delete(SAMPLESET, 'ds', NS);
      await until(() => cond('Terminating')?.reason === 'InUse', 2000, 'Terminating=True InUse');
    }

    it('waits while a pod mounts the claim: nothing removed, Terminating=True InUse and a Warning; finishes once the pod is gone', async () => {
      await readyInUse();
      expect(cond('Terminating')).to.include({ status: 'True', observedGeneration: get()!.metadata.generation });
      expect(cond('Terminating')?.message).to.include('pod train-worker-0 (PaddleJob train)').and.include(FORCE_DELETE_ANNOTATION);
      const warning = kube.events.find((e) => e.reason === 'InUse');
      expect(warning?.type).to.equal('Warning');
      expect(warning?.message).to.equal(cond('Terminating')?.message);
      // a second pass (any event) changes nothing and says nothing new
      runtimePod(kube, 'ds', 0, { ip: '10.0.0.9' });
      await new Promise((r) => setTimeout(r, 100));
      expect(kube.events.filter((e) => e.reason === 'InUse')).to.have.length(1);
      expect(kube.api.writes().filter((c) => c.verb === 'delete' && c.plural !== 'samplesets')).to.deep.equal([]);
      expect(kube.get(STATEFULSET, 'ds-runtime', NS)).to.not.equal(undefined);
      expect(kube.get<V1Node>(NODE, 'node-0')?.metadata?.labels?.[LABEL]).to.equal('ds-runtime-0');
      expect(reasons()).to.not.include('Deleted');

      kube.remove(POD, 'train-worker-0', NS);
      await until(() => !get(), 2000, 'SampleSet gone after its user');
      expect(kube.get(STATEFULSET, 'ds-runtime', NS)).to.equal(undefined);
      expect(kube.get<V1Node>(NODE, 'node-0')?.metadata?.labels?.[LABEL]).to.equal(undefined);
      expect(reasons()).to.include('Deleted').and.not.include('ForceDeleted');
    });

    it('a user pod that finishes (Succeeded) lets the deletion finish', async () => {
      await readyInUse();
      const p = kube.get<V1Pod>(POD, 'train-worker-0', NS)!;
      kube.put(POD, { ...p, status: { phase: 'Succeeded' } });
      await until(() => !get(), 2000, 'SampleSet gone after its user finished');
    });

    it('the force-delete annotation proceeds with the pod still there, and a Warning names it', async () => {
      await readyInUse();
      await kube.api.patch(SAMPLESET, 'ds', NS, { metadata: { annotations: { [FORCE_DELETE_ANNOTATION]: 'true' } } });
      await until(() => !get(), 2000, 'SampleSet gone though used');
      expect(kube.get(STATEFULSET, 'ds-runtime', NS)).to.equal(undefined);
      expect(kube.get(PV, 'ns.ds-example')).to.equal(undefined);
      const forced = kube.events.find((e) => e.reason === 'ForceDeleted');
      expect(forced?.type).to.equal('Warning');
      expect(forced?.message).to.include('pod train-worker-0 (PaddleJob train)');
      expect(kube.get(POD, 'train-worker-0', NS), 'the user pod is not ours to delete').to.not.equal(undefined);
    });
  });
});
