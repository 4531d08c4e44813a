// A cache node goes away, end to end: the real control plane (kube-scheduler, the StatefulSet
// controller), KWOK nodes of this suite's own, simulated cache nodes with real JuiceFS, and the
// SampleSet operator in this process on its ServiceAccount. One node of a Ready SampleSet stops
// reporting (KWOK no longer manages it; its Ready condition goes Unknown and it gets the
// unreachable taint, as the node lifecycle controller would do): the SampleSet shows the loss, and
// with spec.nodeLossPolicy.replaceAfterSeconds its runtime pod is replaced on another node.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { V1Node, V1Pod, V1Secret } from '@kubernetes/client-node';
import { EVENT, NODE, PADDLEJOB, POD, SAMPLEJOB, SAMPLESET, SECRET, cacheNodeLabelKey } from '../../src/api/constants.js';
import type { PaddleJob } from '../../src/api/paddlejob.js';
import type { SampleJob } from '../../src/api/samplejob.js';
import type { NodeLossPolicy, SampleSet } from '../../src/api/sampleset.js';
import { JuiceFsEngine } from '../../src/engines/juicefs/juicefs-engine.js';
import { EngineRegistry } from '../../src/engines/registry.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { PaddleJobOperator } from '../../src/operators/paddlejob/paddlejob-operator.js';
import { SampleJobOperator } from '../../src/operators/samplejob/samplejob-operator.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import { readRuntimeToken, runtimeBaseUrl } from '../../src/operators/shared/runtime-pods.js';
import { startCacheNodeSimulator, type CacheNodeSimulator } from '../harness/cache-nodes.js';
import { KWOK_NODE_ANNOTATION, type ControlPlane } from '../harness/control-plane.js';
import { waitFor } from '../harness/util.js';
import { deleteTestNamespaces, testCluster } from './cluster.js';
import { operatorContext } from './operator-context.js';
import { addReadyNodes, conditionOf, sampleSetWhere } from './sampleset-helpers.js';

const suffix = crypto.randomBytes(3).toString('hex');
const WAIT = { timeoutMs: 90_000, intervalMs: 250 };
/** The cache-node label of SampleSet `ds` (JuiceFS), whatever its namespace. */
const LABEL_KEY = cacheNodeLabelKey('juicefs', 'ds');
/** An events.k8s.io/v1 Event, as the operator records them. */
interface Event {
  metadata?: object;
  reason?: string;
  note?: string;
  type?: string;
  eventTime?: string;
}
/** This suite's nodes carry this label; its SampleSet may only use them. */
const POOL_LABEL = 'e2e-node-loss';

describe('SampleSet: a lost cache node (real control plane, KWOK nodes, simulated cache nodes, real JuiceFS)', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let stopOperator: (() => Promise<void>) | undefined;
  const namespaces: string[] = [];
  // three for the first SampleSet (one is lost, one takes its place); a fourth for the second
  const nodes = [0, 1, 2, 3].map((i) => `nodeloss-${suffix}-${i}`);

  async function startOperator(): Promise<() => Promise<void>> {
    const { ctx, stop } = await operatorContext({ logLevel: process.env.E2E_LOG_LEVEL ?? 'warn' });
    const engines = new EngineRegistry([new JuiceFsEngine()]);
    const runtime = new RuntimeClient({ timeoutMs: 5000, retries: 1 });
    const notifier = new CacheStatsNotifier();
    const op = new SampleSetOperator(
      ctx,
      engines,
      runtime,
      { runtimeImage: 'paddle-operator:e2e', statsIntervalMs: 3000, statsRetryMs: 1000, conflictRetryMs: 2000 },
      notifier,
    );
    // the warmup that the replaced partition's shard is warmed again with
    const jobs = new SampleJobOperator(ctx, engines, runtime, notifier, { podWaitTimeoutMs: 60_000, progressIntervalMs: 250 });
    // PaddleJobs that wait for a SampleSet with a lost node
    const training = new PaddleJobOperator(ctx, { engines, hostPortRange: { min: 38000, max: 38999 } });
    await Promise.all([op.start(), jobs.start(), training.start()]);
    return async () => {
      await training.stop();
      await jobs.stop();
      await op.stop();
      await stop();
    };
  }

  const cond = conditionOf;
  const ssWhere = (ns: string, name: string, what: string, ok: (s: SampleSet) => boolean): Promise<SampleSet> =>
    sampleSetWhere(api, ns, name, what, ok);

  const runtimePod = async (ns: string, name: string): Promise<V1Pod | undefined> => api.get<V1Pod>(POD, name, ns);

  async function events(ns: string, reason: string): Promise<Event[]> {
    return (await api.list<Event>(EVENT, ns)).items.filter((e) => e.reason === reason);
  }

  /**
   * What a node that stops reporting looks like: KWOK no longer renews it, its Ready condition is
   * Unknown, and it carries the unreachable taint (the scheduler then avoids it).
   */
  async function loseNode(name: string): Promise<void> {
    await api.patch(NODE, name, undefined, {
      metadata: { annotations: { [KWOK_NODE_ANNOTATION]: 'lost' } },
      spec: {
        taints: [
          { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' },
          { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
        ],
      },
    });
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await waitFor(
      `node ${name} Ready=Unknown`,
      async () => {
        const n = await api.get<V1Node>(NODE, name);
        const conditions = (n?.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
        conditions.push({
          type: 'Ready',
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
          lastHeartbeatTime: now as unknown as Date,
          lastTransitionTime: now as unknown as Date,
        });
        await api.patch(NODE, name, undefined, { status: { conditions } }, 'merge', { subresource: 'status' });
        // KWOK may still have had an update in flight: look again a moment later
        await new Promise((r) => setTimeout(r, 1000));
        const again = await api.get<V1Node>(NODE, name);
        return again?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'Unknown' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  /** Namespace `ns` with a JuiceFS volume Secret and SampleSet `ds` (2 partitions, this suite's nodes only). */
  async function createSampleSet(ns: string, nodeLossPolicy?: NodeLossPolicy): Promise<void> {
    await cp.ensureNamespace(ns);
    namespaces.push(ns);
    const volumesDir = path.join(cp.runDir, 'node-loss-volumes');
    fs.mkdirSync(volumesDir, { recursive: true });
    const volume = `${ns}-jfs`;
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'jfs', namespace: ns },
      stringData: {
        name: volume.slice(0, 60),
        metaurl: `sqlite3://${path.join(volumesDir, `${volume}.db`)}`,
        storage: 'file',
        bucket: path.join(volumesDir, `${volume}-objects`) + '/',
      },
    });
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'ds', namespace: ns },
      spec: {
        partitions: 2,
        secretRef: { name: 'jfs' },
        noSync: true,
        ...(nodeLossPolicy ? { nodeLossPolicy } : {}),
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: POOL_LABEL, operator: 'In', values: [suffix] }] }],
          },
        },
      },
    });
  }

  before(async function () {
    this.timeout(180_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    await addReadyNodes(cp, api, nodes, { [POOL_LABEL]: suffix });
    sim = await startCacheNodeSimulator(cp, { podFilter: (p) => (p.metadata?.namespace ?? '').startsWith('e2e-nl-') });
    stopOperator = await startOperator();
  });

  after(async function () {
    this.timeout(180_000);
    await deleteTestNamespaces(cp, namespaces, 'node-loss');
    if (stopOperator) await stopOperator();
    await sim?.stop();
    for (const n of nodes) await api.delete(NODE, n);
  });

  it('a Ready SampleSet whose node stops reporting: PartialReady with CacheNodesAvailable=False NodeLost naming partition and node, a NodeLost Event; replaceAfterSeconds 5 replaces the pod on another node → Ready again', async function () {
    this.timeout(240_000);
    const ns = `e2e-nl-${suffix}`;
    await createSampleSet(ns, { replaceAfterSeconds: 5 });
    const ready = await ssWhere(ns, 'ds', 'Ready on 2 partitions', (s) => s.status?.phase === 'Ready');
    expect(cond(ready, 'CacheNodesAvailable')).to.include({ status: 'True' });

    // data in the volume (written through partition 0's mount), warmed on both partitions
    const pod0 = await sim.waitForRuntime(ns, 'ds-runtime-0');
    const root = Object.values(pod0.mounts)[0];
    fs.mkdirSync(path.join(root, 'train'), { recursive: true });
    for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(root, 'train', `f-${i}.bin`), crypto.randomBytes(16 * 1024));
    await api.create<SampleJob>(SAMPLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name: 'warm', namespace: ns },
      spec: { type: 'warmup', sampleSetRef: { name: 'ds' }, warmupOptions: { paths: ['/train'] } },
    });
    const warmed = await waitFor(
      'the warmup finished',
      async () => {
        const j = await api.get<SampleJob>(SAMPLEJOB, 'warm', ns);
        return j?.status?.phase === 'Succeeded' || j?.status?.phase === 'Failed' ? j : undefined;
      },
      WAIT,
    );
    expect(warmed.status?.phase, JSON.stringify(warmed.status)).to.equal('Succeeded');
    const before = (await runtimePod(ns, 'ds-runtime-1'))!;
    const lostNode = before.spec!.nodeName!;
    expect(nodes).to.include(lostNode);

    await loseNode(lostNode);
    const lost = await ssWhere(
      ns,
      'ds',
      'PartialReady with CacheNodesAvailable=False NodeLost',
      (s) => s.status?.phase === 'PartialReady' && cond(s, 'CacheNodesAvailable')?.reason === 'NodeLost',
    );
    const c = cond(lost, 'CacheNodesAvailable')!;
    expect(c).to.include({ status: 'False', observedGeneration: lost.metadata.generation });
    expect(c.message).to.match(new RegExp(`^partition 1 \\(pod ds-runtime-1\\) on node ${lostNode}: node ${lostNode} is `));
    expect(lost.status!.nodes![1]).to.include({ node: lostNode, ready: false });
    expect(lost.status!.nodes![1].nodeLostSince).to.be.a('string');
    expect(cond(lost, 'Ready')).to.include({ status: 'False', reason: 'NodeLost' });

    const back = await ssWhere(
      ns,
      'ds',
      'Ready again with partition 1 on another node',
      (s) => s.status?.phase === 'Ready' && !!s.status.nodes?.[1]?.node && s.status.nodes[1].node !== lostNode,
    );
    expect(cond(back, 'CacheNodesAvailable')).to.include({ status: 'True' });
    const after = (await runtimePod(ns, 'ds-runtime-1'))!;
    expect(after.metadata!.uid).to.not.equal(before.metadata!.uid);
    expect(nodes.filter((n) => n !== lostNode)).to.include(after.spec!.nodeName);
    expect(back.status!.nodes![1]).to.not.have.property('nodeLostSince');

    // the new pod's shard is warmed again with the warmup that last succeeded, for that shard only
    const rewarmed = await ssWhere(ns, 'ds', 'partition 1 re-warmed', (s) =>
      ['Succeeded', 'Failed'].includes(s.status?.nodes?.[1]?.rewarm?.phase ?? ''),
    );
    expect(rewarmed.status!.nodes![1].rewarm, JSON.stringify(rewarmed.status!.nodes![1].rewarm)).to.include({
      phase: 'Succeeded',
      warmup: 'warm',
      shard: 1,
      shards: 2,
      podUID: after.metadata!.uid,
    });
    expect(rewarmed.status!.nodes![0]).to.not.have.property('rewarm');
    const token = readRuntimeToken(await api.get<V1Secret>(SECRET, 'ds-runtime-token', ns));
    // about half of the 400 × 16 KiB files: shard 2 of 2, on a node whose cache was empty; juicefs
    // writes the last blocks of a warmup into the cache dir in the background, so let them land
    const low = 400 * 16 * 1024 * 0.25;
    const readStats = async (): Promise<{ cachedBytes: number }> =>
      new RuntimeClient({ retries: 1 }).cacheStats(runtimeBaseUrl((await runtimePod(ns, 'ds-runtime-1'))!)!, token!);
    const stats = await waitFor(
      'the re-warmed shard in the cache dir',
      async () => {
        const st = await readStats();
        return st.cachedBytes >= low ? st : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    ).catch(readStats);
    expect(stats.cachedBytes).to.be.within(low, 400 * 16 * 1024 * 0.8);

    // the loss was reported once, the replacement too; both name the partition and the node
    const nodeLost = await events(ns, 'NodeLost');
    expect(nodeLost, 'NodeLost events').to.have.length(1);
    expect(nodeLost[0].type).to.equal('Warning');
    expect(nodeLost[0].note).to.include(`partition 1 (runtime pod ds-runtime-1) is on a lost node: node ${lostNode}`);
    const replaced = await events(ns, 'PartitionReplaced');
    expect(replaced, 'PartitionReplaced events').to.have.length(1);
    expect(replaced[0].note).to.include(`deleted runtime pod ds-runtime-1 of partition 1 on lost node ${lostNode}`);
    // it waited the 5 s the policy asks for, counted from when the loss was seen
    const seen = Date.parse(lost.status!.nodes![1].nodeLostSince!);
    expect(Date.parse(replaced[0].eventTime!)).to.be.at.least(seen + 4000);

    // gone before the next scenario: a SampleSet of the same name in another namespace shares its node label key
    await api.delete(SAMPLESET, 'ds', ns);
    await waitFor(
      'SampleSet ds deleted and its node labels removed',
      async () => {
        if (await api.get(SAMPLESET, 'ds', ns)) return undefined;
        const labelled = (await api.list<V1Node>(NODE)).items.filter((n) => n.metadata?.labels?.[LABEL_KEY] !== undefined);
        return labelled.length === 0 ? true : undefined;
      },
      WAIT,
    );
  });

  it('a deleted Node: lost at once (NodeDeleted); a PaddleJob with sampleSetRef.waitSeconds fails with SampleSetWaitExpired, one without waits naming the partition; a policy then replaces the pod at once and the waiting job gets its workers, pinned to their partitions', async function () {
    this.timeout(240_000);
    const ns = `e2e-nl-${suffix}-b`;
    await createSampleSet(ns);
    await ssWhere(ns, 'ds', 'Ready on 2 partitions', (s) => s.status?.phase === 'Ready');
    const victim = (await runtimePod(ns, 'ds-runtime-1'))!.spec!.nodeName!;
    expect(nodes).to.include(victim);

    await api.delete(NODE, victim);
    const lost = await ssWhere(
      ns,
      'ds',
      'PartialReady, NodeLost',
      (s) => s.status?.phase === 'PartialReady' && cond(s, 'CacheNodesAvailable')?.reason === 'NodeLost',
    );
    expect(cond(lost, 'CacheNodesAvailable')!.message).to.include(
      `partition 1 (pod ds-runtime-1) on node ${victim}: node ${victim} no longer exists`,
    );
    expect(cond(lost, 'CacheNodesAvailable')!.message).to.include('not replaced automatically');

    const job = (name: string, waitSeconds?: number): Promise<PaddleJob> =>
      api.create<PaddleJob>(PADDLEJOB, {
        apiVersion: 'batch.paddlepaddle.org/v1',
        kind: 'PaddleJob',
        metadata: { name, namespace: ns },
        spec: {
          sampleSetRef: { name: 'ds', mountPath: '/mnt/data', ...(waitSeconds === undefined ? {} : { waitSeconds }) },
          worker: {
            replicas: 2,
            template: { spec: { containers: [{ name: 'main', image: 'paddle:e2e' }], terminationGracePeriodSeconds: 0 } },
          },
        },
      });
    await job('impatient', 3);
    await job('patient');
    const jobWhere = (name: string, what: string, ok: (j: PaddleJob) => boolean): Promise<PaddleJob> =>
      waitFor(
        `PaddleJob ${name} ${what}`,
        async () => {
          const j = await api.get<PaddleJob>(PADDLEJOB, name, ns);
          return j && ok(j) ? j : undefined;
        },
        WAIT,
      );
    const jobCond = (j: PaddleJob, type: string): { status?: string; reason?: string; message?: string } | undefined =>
      j.status?.conditions?.find((c) => c.type === type);
    const failed = await jobWhere('impatient', 'Failed', (j) => j.status?.phase === 'Failed');
    expect(jobCond(failed, 'Failed')).to.include({ reason: 'SampleSetWaitExpired' });
    expect(jobCond(failed, 'Failed')!.message).to.include('not Ready within 3s').and.include(victim);
    const waiting = await jobWhere(
      'patient',
      'waiting, naming the lost node',
      (j) => jobCond(j, 'SampleSetReady')?.reason === 'SampleSetNodeLost',
    );
    expect(jobCond(waiting, 'SampleSetReady')!.message).to.include('ds-runtime-1').and.include(victim);
    expect(waiting.status?.phase).to.not.equal('Failed');
    const workerPods = async (name: string): Promise<V1Pod[]> =>
      (await api.list<V1Pod>(POD, ns)).items.filter((p) => p.metadata?.name?.startsWith(`${name}-worker-`));
    expect(await workerPods('patient')).to.deep.equal([]);
    expect(await workerPods('impatient')).to.deep.equal([]);

    // a policy on the SampleSet: a deleted Node counts at once, whatever the delay
    await api.patch(SAMPLESET, 'ds', ns, { spec: { nodeLossPolicy: { replaceAfterSeconds: 3600 } } });
    const back = await ssWhere(
      ns,
      'ds',
      'Ready again elsewhere',
      (s) => s.status?.phase === 'Ready' && !!s.status.nodes?.[1]?.node && s.status.nodes[1].node !== victim,
    );
    // the gate opens: both workers are created, each pinned to its partition's runtime pod
    const started = await waitFor(
      'both workers of the waiting job created',
      async () => {
        const pods = await workerPods('patient');
        return pods.length === 2 ? pods : undefined;
      },
      WAIT,
    );
    expect(back.status!.nodes!.map((n) => n.ready)).to.deep.equal([true, true]);
    for (const p of started) {
      const terms = p.spec!.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
      expect(JSON.stringify(terms), p.metadata!.name).to.include(`ds-runtime-${p.metadata!.name!.split('-').pop()}`);
      expect(
        p.spec!.volumes!.some((v) => v.persistentVolumeClaim),
        p.metadata!.name,
      ).to.equal(true);
    }
    // and the kube-scheduler places worker i on partition i's node (labelled for its runtime pod)
    const placed = await waitFor(
      'both workers scheduled',
      async () => {
        const pods = await workerPods('patient');
        return pods.length === 2 && pods.every((p) => p.spec?.nodeName) ? pods : undefined;
      },
      WAIT,
    );
    for (const p of placed) {
      const i = Number(p.metadata!.name!.split('-').pop());
      expect(p.spec!.nodeName, p.metadata!.name).to.equal(back.status!.nodes![i].node);
    }
  });
});
