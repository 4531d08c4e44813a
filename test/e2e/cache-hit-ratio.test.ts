// Is the cache helping? End to end: a SampleSet synced from the S3 gateway goes Ready on simulated
// cache nodes (real paddle-runtime and a real JuiceFS FUSE mount per runtime pod); the dataset is
// read through a runtime pod's mount, as a training pod on that node would, once cold and once
// after the mount cached it. The SampleSet then shows the reads served from cache and from the
// object store, in total and per partition; `kubectl get -o wide` shows the hit ratio; /metrics
// exports it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import { SAMPLESET } from '../../src/api/constants.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import { Informer } from '../../src/kube/informer.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import type { OperatorContext } from '../../src/kube/reconciling-operator.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import { startCacheNodeSimulator, startS3Gateway, type CacheNodeSimulator, type S3Gateway } from '../harness/cache-nodes.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { sleep, waitFor } from '../harness/util.js';
import { deleteTestNamespaces, testCluster } from './cluster.js';
import { createVolumeSecrets } from './volume-secrets.js';
import { operatorContext } from './operator-context.js';

const PREFIX = 'e2e-hit-';
const MiB = 1024 * 1024;

/** Every regular file below `dir`, read to the end; returns the bytes read. */
function readTree(dir: string): number {
  let bytes = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue; // the mount's control files
    const p = path.join(dir, e.name);
    if (e.isDirectory()) bytes += readTree(p);
    else if (e.isFile()) bytes += fs.readFileSync(p).length;
  }
  return bytes;
}

/** Reads must reach the mount, not the kernel's page cache of an earlier read. */
function dropPageCache(): void {
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

describe('cache effectiveness: hit ratio and bytes from cache vs object store (real JuiceFS mounts)', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let gw: S3Gateway;
  let agent: http.Agent;
  let ctx: OperatorContext;
  let stopContext: () => Promise<void>;
  let op: SampleSetOperator | undefined;
  const namespaces: string[] = [];
  let sourceBytes = 0;

  before(async function () {
    this.timeout(300_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    agent = new http.Agent({ keepAlive: true });
    const juicefs = path.join(cp.binDir, 'juicefs');
    sim = await startCacheNodeSimulator(cp, { podFilter: (p) => (p.metadata?.namespace ?? '').startsWith(PREFIX) });
    gw = await startS3Gateway({ dir: path.join(cp.runDir, 'hit-ratio-s3'), juicefsBin: juicefs });
    // a few files spanning several 4 MiB JuiceFS blocks, and small ones
    const objects: Record<string, number> = {};
    for (let i = 0; i < 4; i++) objects[`shards/shard-${i}.bin`] = 6 * MiB + i * 4096;
    for (let i = 0; i < 40; i++) objects[`small/s-${i}.bin`] = 8192 + i;
    sourceBytes = gw.put('hits', objects).bytes;
    ({ ctx, stop: stopContext } = await operatorContext({ logLevel: process.env.E2E_LOG_LEVEL ?? 'warn' }));
    op = new SampleSetOperator(
      ctx,
      installedEngines(),
      new RuntimeClient({ timeoutMs: 5000, retries: 1, agent }),
      { runtimeImage: 'paddle-operator:e2e', statsIntervalMs: 2000, maxStatsIntervalMs: 2000, statsRetryMs: 1000, syncWaitSeconds: 5 },
      new CacheStatsNotifier(),
    );
    await op.start();
  });

  after(async function () {
    this.timeout(180_000);
    await deleteTestNamespaces(cp, namespaces, 'hit-ratio');
    await op?.stop();
    await stopContext?.();
    await sim?.stop();
    await gw?.stop();
    agent?.destroy();
  });

  it('reads through a cache node show as misses, then as hits: in status (total and per partition), kubectl get -o wide and /metrics', async function () {
    this.timeout(300_000);
    const ns = `${PREFIX}${crypto.randomBytes(3).toString('hex')}`;
    await cp.ensureNamespace(ns);
    namespaces.push(ns);
    const volumes = path.join(cp.runDir, 'hit-ratio-volumes');
    fs.mkdirSync(volumes, { recursive: true });
    await createVolumeSecrets(api, ns, volumes, gw, { volume: 'jfs', source: 'source' });
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'hits', namespace: ns },
      spec: { partitions: 1, secretRef: { name: 'jfs' }, source: { uri: gw.uri('hits'), secretRef: { name: 'source' } } },
    });
    let last: SampleSet | undefined;
    const where = (what: string, ok: (s: SampleSet) => boolean, timeoutMs = 180_000): Promise<SampleSet> =>
      waitFor(
        `SampleSet ${ns}/hits ${what}`,
        async () => {
          last = await api.get<SampleSet>(SAMPLESET, 'hits', ns);
          return last && ok(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 500 },
      ).catch((e: unknown) => {
        throw new Error(
          `${(e as Error).message}; last cacheStatus ${JSON.stringify(last?.status?.cacheStatus)}, nodes ${JSON.stringify(last?.status?.nodes)}`,
        );
      });
    const ready = await where('Ready', (s) => s.status?.phase === 'Ready' && s.status.cacheStatus?.totalBytes === sourceBytes);
    // nothing read through the mount yet: no hit ratio, no bytes from cache
    expect(ready.status!.cacheStatus!.cacheHitRatio).to.equal(undefined);
    expect(ready.status!.cacheStatus!.bytesFromCache ?? 0).to.equal(0);

    const pod = await sim.waitForRuntime(ns, 'hits-runtime-0');
    const mount = Object.values(pod.mounts)[0];
    expect(mount, 'the runtime pod mounts the claim').to.be.a('string');

    // cold: the sync wrote through the volume, not this mount, so every block comes from the store
    dropPageCache();
    expect(readTree(mount)).to.equal(sourceBytes);
    // (counted in blocks: a block read from the store counts whole, so at least what was read)
    const readBytes = (s: SampleSet): number => (s.status?.cacheStatus?.bytesFromStore ?? 0) + (s.status?.cacheStatus?.bytesFromCache ?? 0);
    const cold = await where('counting the cold reads', (s) => readBytes(s) >= sourceBytes, 60_000);
    expect(cold.status!.cacheStatus!.bytesFromStore, 'the cold read came from the object store').to.be.greaterThan(sourceBytes / 2);
    const coldHits = cold.status!.cacheStatus!.bytesFromCache ?? 0;

    // warm: the mount kept the blocks in its cache dir (written in the background: wait for them)
    // (the mount may drop a block it could not write in time: nine tenths is enough to tell)
    const mostly = 0.9 * sourceBytes;
    await where('holding the blocks in the cache dir', (s) => (s.status?.cacheStatus?.cachedBytes ?? 0) >= mostly, 60_000);
    await sleep(500);
    dropPageCache();
    expect(readTree(mount)).to.equal(sourceBytes);
    const warm = await where(
      'counting the warm reads as hits',
      (s) => (s.status?.cacheStatus?.bytesFromCache ?? 0) >= coldHits + mostly,
      60_000,
    );

    const cs = warm.status!.cacheStatus!;
    expect(cs.cacheHits).to.be.greaterThan(0);
    expect(cs.cacheMisses).to.be.greaterThan(0);
    const ratio = cs.cacheHits! / (cs.cacheHits! + cs.cacheMisses!);
    // one cold and one warm read of the same data: both kinds counted (exact block counts vary with
    // JuiceFS's readahead and with blocks the cache dropped, so no tighter bound)
    expect(ratio).to.be.greaterThan(0).and.lessThan(1);
    expect(cs.cacheHitRatio).to.equal(`${(ratio * 100).toFixed(1)}%`);
    // per partition: the only partition holds all of it
    const node = warm.status!.nodes![0];
    expect(node).to.include({ partition: 0, pod: 'hits-runtime-0' });
    expect(node.bytesFromCache).to.be.at.least(mostly);
    expect(node.cacheHitRatio).to.match(/^\d+\.\d%$/);

    // kubectl get -o wide: the HIT RATIO column
    const wide = await cp.kubectl(['get', 'samplesets', '-n', ns, 'hits', '-o', 'wide']);
    const [header, row] = wide.stdout.trim().split('\n');
    const col = header.indexOf('HIT RATIO');
    expect(col, header).to.be.greaterThan(0);
    const latest = (await api.get<SampleSet>(SAMPLESET, 'hits', ns))!.status!.cacheStatus!.cacheHitRatio!;
    expect(row.slice(col).split(/\s+/)[0]).to.equal(latest);

    // /metrics, fed from the SampleSets as the manager feeds it
    const informer = new Informer<SampleSet>(api, SAMPLESET, { namespace: ns });
    informer.start();
    try {
      await informer.waitForSync();
      ctx.metrics.observeResources({ sampleSets: () => informer.list(), sampleJobs: () => [] });
      const text = await ctx.metrics.registry.metrics();
      const labels = `namespace="${ns}",name="hits"`;
      const hit = new RegExp(`^paddle_operator_sampleset_cache_hit_ratio\\{${labels}\\} ([0-9.e-]+)$`, 'm').exec(text);
      expect(hit, 'hit ratio series').to.not.equal(null);
      expect(Number(hit![1])).to.be.greaterThan(0).and.lessThan(1);
      const fromCache = new RegExp(
        `^paddle_operator_sampleset_partition_read_bytes\\{${labels},partition="0",source="cache"\\} (\\d+)$`,
        'm',
      ).exec(text);
      expect(Number(fromCache?.[1])).to.be.at.least(mostly);
    } finally {
      await informer.stop();
    }
  });
});
