// The whole path with the real operators and no stand-ins: a SampleSet goes Ready from a local S3
// source, a warmup SampleJob fills the node caches, a Collective PaddleJob with `sampleSetRef` gets
// worker i on the node of cache partition i with the claim mounted (the harness mounts it as the CSI
// driver would, with that node's cache directory), a worker reads the dataset through its mount and
// its own shard comes from that node's cache; then the job and the SampleSet are deleted and
// nothing is left behind.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import type { V1Node, V1PersistentVolume, V1Pod } from '@kubernetes/client-node';
import { NODE, PADDLEJOB, POD, PV, PVC, SAMPLEJOB, SAMPLESET, STATEFULSET, cacheNodeLabelKey } from '../../src/api/constants.js';
import type { PaddleJob } from '../../src/api/paddlejob.js';
import type { SampleJob } from '../../src/api/samplejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { parsePrometheusText } from '../../src/engines/juicefs/commands.js';
import { readStatsOf } from '../../src/engines/juicefs/juicefs-stats.js';
import { installedEngines } from '../../src/engines/installed.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { PaddleJobOperator } from '../../src/operators/paddlejob/paddlejob-operator.js';
import { SampleJobOperator } from '../../src/operators/samplejob/samplejob-operator.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import { startCacheNodeSimulator, startS3Gateway, type CacheNodeSimulator, type S3Gateway } from '../harness/cache-nodes.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { waitFor } from '../harness/util.js';
import { deleteTestNamespaces, testCluster } from './cluster.js';
import { createVolumeSecrets } from './volume-secrets.js';
import { operatorContext, type TestOperatorContext } from './operator-context.js';

const ns = `e2e-path-${crypto.randomBytes(3).toString('hex')}`;
const SS = 'images';
const MiB = 1024 * 1024;
const WAIT = { timeoutMs: 120_000, intervalMs: 300 };

/** Reads every regular file below `dir` (skipping the mount's control files); the bytes read. */
function readTree(dir: string): number {
  let bytes = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) bytes += readTree(p);
    else if (e.isFile()) bytes += fs.readFileSync(p).length;
  }
  return bytes;
}

/** The mount's block-cache counters (its `.stats` control file). */
function mountStats(mount: string): { hits: number; misses: number; hitBytes: number; missBytes: number; blocks: number } {
  const m = parsePrometheusText(fs.readFileSync(path.join(mount, '.stats'), 'utf8'));
  return { ...readStatsOf(m)!, blocks: m.get('juicefs_blockcache_blocks') ?? 0 };
}

describe('the whole path: SampleSet from S3 → warmup → PaddleJob on the cache nodes → reads from cache → cleaned up', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let gw: S3Gateway;
  let agent: http.Agent;
  let opCtx: TestOperatorContext;
  let ops: { stop(): Promise<void> }[] = [];
  let datasetBytes = 0;

  const get = <T>(type: typeof SAMPLESET, name: string): Promise<T | undefined> => api.get<T & { metadata: object }>(type, name, ns);
  async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = WAIT.timeoutMs): Promise<T> {
    return waitFor(what, async () => (await f()) ?? undefined, { ...WAIT, timeoutMs });
  }

  before(async function () {
    this.timeout(300_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    agent = new http.Agent({ keepAlive: true });
    await cp.ensureNamespace(ns);
    const inNs = (p: V1Pod): boolean => p.metadata?.namespace === ns;
    sim = await startCacheNodeSimulator(cp, { podFilter: inNs, claimConsumers: inNs });
    gw = await startS3Gateway({ dir: path.join(cp.runDir, 'whole-path-s3'), juicefsBin: path.join(cp.binDir, 'juicefs') });
    const objects: Record<string, number> = {};
    for (let i = 0; i < 8; i++) objects[`train/shard-${i}.bin`] = 5 * MiB + i * 1000;
    for (let i = 0; i < 24; i++) objects[`val/img-${i}.bin`] = 20_000 + i;
    datasetBytes = gw.put('images', objects).bytes;

    opCtx = await operatorContext({ logLevel: process.env.E2E_LOG_LEVEL ?? 'warn' });
    const engines = installedEngines();
    const runtime = new RuntimeClient({ timeoutMs: 5000, retries: 1, agent });
    const notifier = new CacheStatsNotifier();
    const ssOp = new SampleSetOperator(
      opCtx.ctx,
      engines,
      runtime,
      { runtimeImage: 'paddle-operator:e2e', statsIntervalMs: 3000 },
      notifier,
    );
    const sjOp = new SampleJobOperator(opCtx.ctx, engines, runtime, notifier, { progressIntervalMs: 250 });
    const pjOp = new PaddleJobOperator(opCtx.ctx, { engines, hostPortRange: { min: 37000, max: 37999 } });
    await Promise.all([ssOp.start(), sjOp.start(), pjOp.start()]);
    ops = [pjOp, sjOp, ssOp];
  });

  after(async function () {
    this.timeout(180_000);
    await deleteTestNamespaces(cp, [ns], 'whole-path');
    for (const op of ops) await op.stop();
    await opCtx?.stop();
    await sim?.stop();
    await gw?.stop();
    agent?.destroy();
  });

  it('runs the whole way with the real operators and leaves nothing behind', async function () {
    this.timeout(480_000);
    const volumes = path.join(cp.runDir, 'whole-path-volumes');
    fs.mkdirSync(volumes, { recursive: true });
    await createVolumeSecrets(api, ns, volumes, gw, { volume: 'jfs', source: 's3' });

    // 1. the SampleSet goes Ready from the S3 source, on two cache nodes
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: SS, namespace: ns },
      spec: { partitions: 2, secretRef: { name: 'jfs' }, source: { uri: gw.uri('images'), secretRef: { name: 's3' } } },
    });
    const ready = await until(
      'the SampleSet Ready with the dataset',
      async () => {
        const s = await get<SampleSet>(SAMPLESET, SS);
        return s?.status?.phase === 'Ready' && s.status.cacheStatus?.totalBytes === datasetBytes ? s : undefined;
      },
      240_000,
    );
    const nodeOf = Object.fromEntries(ready.status!.nodes!.map((n) => [n.partition, n.node!]));
    expect(new Set(Object.values(nodeOf)).size).to.equal(2);

    // 2. a warmup SampleJob fills the two node caches, one shard each
    await api.create<SampleJob>(SAMPLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name: 'warm', namespace: ns },
      spec: { type: 'warmup', sampleSetRef: { name: SS } },
    });
    await until('the warmup Succeeded', async () => {
      const j = await api.get<SampleJob>(SAMPLEJOB, 'warm', ns);
      if (j?.status?.phase === 'Failed') throw new Error(`warmup failed: ${JSON.stringify(j.status.conditions)}`);
      return j?.status?.phase === 'Succeeded' ? j : undefined;
    });
    await until('the caches holding the dataset', async () => {
      const s = await get<SampleSet>(SAMPLESET, SS);
      return (s?.status?.cacheStatus?.cachedBytes ?? 0) >= 0.9 * datasetBytes ? s : undefined;
    });

    // 3. a Collective PaddleJob: worker i on the node of partition i, the claim mounted
    await api.create<PaddleJob>(PADDLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1',
      kind: 'PaddleJob',
      metadata: { name: 'train', namespace: ns },
      spec: {
        sampleSetRef: { name: SS, mountPath: '/mnt/data' },
        worker: {
          replicas: 2,
          template: { spec: { containers: [{ name: 'main', image: 'paddle:e2e' }], terminationGracePeriodSeconds: 0 } },
        },
      },
    });
    const workers = await until('both workers Running', async () => {
      const pods = (await api.list<V1Pod>(POD, ns)).items.filter((p) => p.metadata?.name?.startsWith('train-worker-'));
      return pods.length === 2 && pods.every((p) => p.status?.phase === 'Running') ? pods : undefined;
    });
    const bytesFromCache: number[] = [];
    for (const i of [0, 1]) {
      const pod = workers.find((p) => p.metadata!.name === `train-worker-${i}`)!;
      expect(pod.spec!.nodeName, `worker ${i} on the node of partition ${i}`).to.equal(nodeOf[i]);
      expect(pod.spec!.volumes).to.deep.include({ name: 'paddle-sampleset', persistentVolumeClaim: { claimName: SS } });
      const consumer = await sim.waitForConsumer(ns, pod.metadata!.name!);
      const mount = consumer.mounts['paddle-sampleset'];
      // the mount indexes the node's cached blocks at start; read once it has
      await waitFor(`worker ${i}'s mount indexing the node cache`, () => mountStats(mount).blocks > 0 || undefined, {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
      expect(readTree(mount)).to.equal(datasetBytes);
      const st = mountStats(mount);
      // its own shard comes from this node's cache, the other shard from the object store
      expect(st.hitBytes, `worker ${i}: bytes from the node cache`).to.be.greaterThan(0);
      expect(st.missBytes, `worker ${i}: the other shard from the object store`).to.be.greaterThan(0);
      bytesFromCache.push(st.hitBytes);
    }
    // between them the two nodes served (nearly) the whole dataset from cache
    expect(bytesFromCache[0] + bytesFromCache[1]).to.be.at.least(0.9 * datasetBytes);

    // 4. the job deleted: its pods and their mounts go
    await api.delete(PADDLEJOB, 'train', ns);
    await until('the workers gone and unmounted', async () => {
      const pods = (await api.list<V1Pod>(POD, ns)).items.filter((p) => p.metadata?.name?.startsWith('train-'));
      return pods.length === 0 && sim.consumers().length === 0 ? true : undefined;
    });

    // 5. the SampleSet deleted: nothing of it is left
    const pvName = (await api.get<{ spec?: { volumeName?: string } } & { metadata: object }>(PVC, SS, ns))?.spec?.volumeName;
    await api.delete(SAMPLESET, SS, ns);
    const labelKey = cacheNodeLabelKey('juicefs', SS);
    await until('everything of the SampleSet gone', async () => {
      const left: string[] = [];
      if (await get(SAMPLESET, SS)) left.push('SampleSet');
      if (await api.get(PVC, SS, ns)) left.push('PVC');
      if (pvName && (await api.get<V1PersistentVolume>(PV, pvName))) left.push('PV');
      if (await api.get(STATEFULSET, `${SS}-runtime`, ns)) left.push('StatefulSet');
      if ((await api.list<V1Pod>(POD, ns)).items.length > 0) left.push('pods');
      if ((await api.list<V1Node>(NODE)).items.some((n) => n.metadata?.labels?.[labelKey])) left.push('node labels');
      if (sim.pods().some((p) => p.namespace === ns)) left.push('runtime mounts');
      return left.length === 0 ? true : undefined;
    });
  });
});
