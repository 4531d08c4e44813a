/**
 * A crash at any instant loses nothing: the real paddle-operator process (on the ServiceAccount's
 * credentials) is killed with SIGKILL at random points at least 10 times while a SampleSet goes
 * through scenario 1 (sync from the S3 gateway into 2 partitions); once it is left running, the
 * SampleSet reaches Ready with totals equal to the source and nothing duplicated.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { V1PersistentVolume, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import { PV, SAMPLESET, SECRET, STATEFULSET } from '../../src/api/constants.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { startCacheNodeSimulator, startS3Gateway, type CacheNodeSimulator, type S3Gateway } from '../harness/cache-nodes.js';
import { sleep, waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { operatorKubeConfig, operatorKubeConfigPath } from './operator-context.js';
import { spawnOperator, type OperatorProcess } from './operator-processes.js';

const KILLS = 10;

const OPERATOR_ARGS = [
  '--operators=sampleset',
  '--metrics-bind-address=0',
  '--health-probe-bind-address=0',
  '--runtime-image=paddle-operator:e2e',
];

describe('crash safety: the operator killed at random points during a SampleSet sync', function () {
  this.timeout(420_000);
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let gw: S3Gateway;
  let proc: OperatorProcess | undefined;
  let log: fs.WriteStream;
  const ns = `e2e-crash-${crypto.randomBytes(3).toString('hex')}`;
  const source = { files: 0, bytes: 0 };

  before(async function () {
    this.timeout(120_000);
    const cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    await operatorKubeConfig();
    await cp.ensureNamespace(ns);
    const dir = path.join(cp.runDir, 'crash-safety');
    fs.mkdirSync(dir, { recursive: true });
    log = fs.createWriteStream(path.join(dir, 'operator.log'));
    sim = await startCacheNodeSimulator(cp, { podFilter: (p) => p.metadata?.namespace === ns });
    gw = await startS3Gateway({ dir: path.join(dir, 's3'), juicefsBin: path.join(cp.binDir, 'juicefs') });
    const objects: Record<string, number> = {};
    for (let i = 0; i < 200; i++) objects[`train/part-${i % 5}/s-${i}.bin`] = 2048 + ((i * 7919) % 30000);
    for (let i = 0; i < 4; i++) objects[`large/shard-${i}.bin`] = 2 * 1024 * 1024;
    Object.assign(source, gw.put('crash', objects));
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'jfs', namespace: ns },
      stringData: {
        name: 'crashvol',
        metaurl: `sqlite3://${path.join(dir, 'vol.db')}`,
        storage: 'file',
        bucket: path.join(dir, 'vol-objects') + '/',
      },
    });
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'source', namespace: ns },
      stringData: { 'access-key': gw.accessKey, 'secret-key': gw.secretKey },
    });
  });

  after(async function () {
    this.timeout(120_000);
    await proc?.kill();
    // let a live operator finish the deletion so the finalizer does not pin the namespace
    await api.delete(SAMPLESET, 'crashy', ns).catch(() => undefined);
    proc = spawnOperator('crashy-operator', operatorKubeConfigPath(), OPERATOR_ARGS, { log });
    await waitFor('the SampleSet to be deleted', async () => ((await api.get(SAMPLESET, 'crashy', ns)) ? undefined : true), {
      timeoutMs: 90_000,
      intervalMs: 500,
    }).catch(() => undefined);
    await proc.kill();
    await testCluster().kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
    await sim?.stop();
    await gw?.stop();
    log?.end();
  });

  it(`reaches Ready with the right totals after ${KILLS} kills at random points`, async () => {
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'crashy', namespace: ns },
      spec: { partitions: 2, secretRef: { name: 'jfs' }, source: { uri: gw.uri('crash'), secretRef: { name: 'source' } } },
    });
    const phasesAtKill: string[] = [];
    // deterministic "random" points, so a failure can be replayed: 0.2 s .. 1.7 s after each start
    // (the process needs about half a second to list and start reconciling)
    let seed = 0x5eed;
    const next = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
    for (let i = 0; i < KILLS; i++) {
      proc = spawnOperator('crashy-operator', operatorKubeConfigPath(), OPERATOR_ARGS, { log });
      await sleep(200 + Math.floor(next() * 1500));
      await proc.kill();
      phasesAtKill.push((await api.get<SampleSet>(SAMPLESET, 'crashy', ns))?.status?.phase || '""');
    }
    proc = spawnOperator('crashy-operator', operatorKubeConfigPath(), OPERATOR_ARGS, { log });
    const ss = await waitFor(
      'the SampleSet to be Ready with the source totals',
      async () => {
        const s = await api.get<SampleSet>(SAMPLESET, 'crashy', ns);
        const cs = s?.status?.cacheStatus;
        return s?.status?.phase === 'Ready' && cs?.fileCount === source.files && cs?.totalBytes === source.bytes ? s : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    ).catch(async (e: unknown) => {
      const s = await api.get<SampleSet>(SAMPLESET, 'crashy', ns);
      throw new Error(
        `${(e as Error).message}; phases at the kills: ${phasesAtKill.join(', ')}; last status: ${JSON.stringify(s?.status)}`,
      );
    });
    expect(ss.status!.syncJob?.phase).to.equal('Succeeded');
    expect(ss.status!.runtimeStatus).to.deep.equal({ specReplicas: 2, readyReplicas: 2, runtimeReady: '2/2' });
    expect(ss.status!.observedGeneration).to.equal(ss.metadata.generation);
    expect(ss.metadata.finalizers?.filter((f) => f.startsWith('paddlepaddle.org/'))).to.have.length(1);
    // one of each object, owned by this SampleSet
    const sts = await api.get<V1StatefulSet>(STATEFULSET, 'crashy-runtime', ns);
    expect(sts?.spec?.replicas).to.equal(2);
    expect(sts?.metadata?.ownerReferences?.[0]?.uid).to.equal(ss.metadata.uid);
    expect(await api.get<V1PersistentVolume>(PV, `${ns}.crashy`)).to.not.equal(undefined);
    process.stderr.write(`      [crash] SampleSet phase at each kill: ${phasesAtKill.join(', ')}\n`);
  });
});
