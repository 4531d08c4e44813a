// Does the cache pay? A dataset of a few thousand files of mixed sizes lives in a local S3 endpoint
// (the JuiceFS gateway) behind a throttling proxy that makes it behave like a remote bucket; the
// JuiceFS volume of a SampleSet keeps its blocks there too. Through the real operators on the local
// control plane (simulated nodes, real paddle-runtime, real JuiceFS FUSE mounts) a SampleSet goes
// Ready from that source, then for each configuration (data-path/measure.ts) the dataset is read
// through a runtime pod's mount cold, after a warmup SampleJob, and from a plain local copy on the
// same disk (the physical limit here) and that copy through a bare loopback FUSE file system (what
// FUSE alone costs here: the most a FUSE file system with the same kernel caches reaches), and the
// warmup is compared with `juicefs warmup` by hand.
//   npm run bench -- data-path                          the engine's defaults, DATA_PATH_RUNS times (3)
//   DATA_PATH_TUNE=1 npm run bench -- data-path         every tuning candidate once
// Env: DATA_PATH_MBPS (bandwidth, default 80 MB/s), DATA_PATH_LATENCY_MS (default 20-40),
// DATA_PATH_WORKERS (readers in parallel, default 8), DATA_PATH_ROUNDS (warm/local passes per run, default 3), DATA_PATH_SCALE (dataset size factor, default 1),
// DATA_PATH_DROP (what is emptied before a warm or local pass: `pages`, the page cache only — the
// default, what a dataset larger than memory has lost by its next epoch — or `all`, dentries and
// inodes too, as `echo 3 > drop_caches`; every round also reads paired with the other and prints both),
// DATA_PATH_PLAN (a JSON list of candidates to run instead, e.g. '[{"name":"x","mountOptions":{"prefetch":2}}]').
// Not a test; the toolchain must be built (test/toolchain/build.sh; fuse-floor is built on first use by
// test/toolchain/build-fuse-floor.sh); needs root (FUSE, drop_caches).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { SAMPLESET, SECRET } from '../../src/api/constants.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import { EventRecorder } from '../../src/kube/event-recorder.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { SampleJobOperator } from '../../src/operators/samplejob/samplejob-operator.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import { startCacheNodeSimulator, startS3Gateway } from '../harness/cache-nodes.js';
import { ControlPlane } from '../harness/control-plane.js';
import { fuseFloorBinary, mountFuseFloor, type FuseFloorMount } from '../harness/fuse-floor.js';
import type { CacheDrop } from '../harness/read-files.js';
import { startThrottledProxy } from '../harness/throttled-proxy.js';
import { toolchainBinDir } from '../harness/toolchain.js';
import { waitFor } from '../harness/util.js';
import { cpuMeter, datasetObjects, DEFAULT_SHAPE, describeShape, epochOrder, loadAverage, median } from './data-path/dataset.js';
import { JobRunner, measure, type Candidate, type Measured, type Pass, type SizeClass, type World } from './data-path/measure.js';

const NS = 'bench-data-path';
const MiB = 1024 * 1024;
const env = process.env;
const MBPS = Number(env.DATA_PATH_MBPS ?? 80);
const [LAT_MIN, LAT_MAX] = (env.DATA_PATH_LATENCY_MS ?? '20-40').split('-').map(Number);
const WORKERS = Number(env.DATA_PATH_WORKERS ?? 8);
const SCALE = Number(env.DATA_PATH_SCALE ?? 1);
const RUNS = Math.max(1, Number(env.DATA_PATH_RUNS ?? 3));
const TUNE = env.DATA_PATH_TUNE === '1';
const ROUNDS = Math.max(1, Number(env.DATA_PATH_ROUNDS ?? 3));
const DROP: CacheDrop = env.DATA_PATH_DROP === 'all' ? 'all' : 'pages';
const OTHER_DROP: CacheDrop = DROP === 'all' ? 'pages' : 'all';
const DROP_SAYS: Record<CacheDrop, string> = {
  pages: 'page cache dropped (echo 1 > drop_caches)',
  all: 'page cache, dentries and inodes dropped (echo 3 > drop_caches)',
};

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** What the tuning run tries, one change at a time against the engine's defaults. */
const CANDIDATES: Candidate[] = [
  { name: 'engine defaults' },
  { name: "open-cache 0 (JuiceFS's: off)", mountOptions: { 'open-cache': 0 } },
  { name: 'buffer-size 1024 (MiB)', mountOptions: { 'buffer-size': 1024 } },
  { name: 'prefetch 4', mountOptions: { prefetch: 4 } },
  { name: 'max-readahead 64 (MiB)', mountOptions: { 'max-readahead': 64 } },
  { name: 'max-fuse-io 1M', mountOptions: { 'max-fuse-io': '1M' } },
  { name: 'verify-cache-checksum none', mountOptions: { 'verify-cache-checksum': 'none' } },
  { name: 'cache-size 256 (MiB)', mountOptions: { 'cache-size': 256 } },
  { name: 'free-space-ratio 0.3', mountOptions: { 'free-space-ratio': '0.3' } },
  { name: 'warmup threads 10', warmupThreads: 10 },
  { name: 'warmup threads 200', warmupThreads: 200 },
  { name: '2 partitions, sequence', partitions: 2, strategy: 'sequence' },
  { name: '2 partitions, random', partitions: 2, strategy: 'random' },
  { name: 'attr/entry/dir-entry 30 s', mountOptions: { 'attr-cache': 30, 'entry-cache': 30, 'dir-entry-cache': 30 } },
  { name: 'attr/entry/dir-entry 300 s', mountOptions: { 'attr-cache': 300, 'entry-cache': 300, 'dir-entry-cache': 300 } },
  {
    name: 'every lever',
    mountOptions: { 'attr-cache': 300, 'entry-cache': 300, 'dir-entry-cache': 300, 'verify-cache-checksum': 'none', 'max-fuse-io': '1M' },
  },
  { name: 'engine defaults' },
];

const mibps = (p: Pass): number => p.bytes / MiB / p.seconds;
const filesps = (p: Pass): number => p.files / p.seconds;
const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');

function bySize(m: Measured): string {
  const b = m.bySize;
  if (!b) return '';
  const pct = (x: SizeClass, of: Pass = x.warm): string => fmt((100 * x.local.seconds) / of.seconds, 0);
  return (
    ` | warm/local small files ${pct(b.small)} % (${fmt(filesps(b.small.warm), 0)} f/s), large ${pct(b.large)} % (${fmt(mibps(b.large.warm))} MiB/s)` +
    ` | floor/local small ${pct(b.small, b.small.floor)} %, large ${pct(b.large, b.large.floor)} %`
  );
}

function otherRow(m: Measured): string {
  const o = m.other;
  if (!o) return '';
  return ` | ${OTHER_DROP === 'all' ? 'dentries+inodes dropped too' : 'page cache only'}: warm ${fmt(mibps(o.warm))} local ${fmt(mibps(o.local))} MiB/s, warm/local ${fmt(100 * o.warmOfLocal, 0)} %`;
}

function row(m: Measured): string {
  const c = m.candidate.name.padEnd(26);
  if (!m.cold || !m.warm || !m.local) {
    const shards = (m.shardBytes ?? []).map((b) => fmt(b / MiB, 0)).join(' / ');
    return `${c} warmup ${fmt(m.warmupSeconds)} s; MiB per shard ${shards}`;
  }
  const p = (x: Pass): string => `${fmt(mibps(x)).padStart(6)} MiB/s ${fmt(filesps(x), 0).padStart(5)} f/s`;
  return (
    `${c} cold ${p(m.cold)} | warm ${p(m.warm)} | local ${p(m.local)} | warm/cold ×${fmt(m.warm.bytes / m.warm.seconds / (m.cold.bytes / m.cold.seconds))} ` +
    `warm/local ${fmt(100 * (m.warmOfLocal ?? NaN), 0)} % floor ${m.floor ? p(m.floor) : '–'} floor/local ${fmt(100 * (m.floorOfLocal ?? NaN), 0)} % | warmup ${fmt(m.warmupSeconds)} s ` +
    `hand ${fmt(m.handSeconds ?? NaN)} s ×${fmt(m.warmupSeconds / (m.handSeconds ?? NaN), 2)} | from cache cold ${fmt((100 * m.cold.fromCache) / m.cold.bytes, 0)} % warm ${fmt((100 * m.warm.fromCache) / m.warm.bytes, 0)} % | CPU busy ${fmt(100 * m.cold.cpu, 0)}/${fmt(100 * m.warm.cpu, 0)}/${fmt(100 * m.local.cpu, 0)} %${bySize(m)}${otherRow(m)}`
  );
}

function summary(ms: Measured[]): void {
  const full = ms.filter((m) => m.cold && m.warm && m.local);
  if (!full.length) return;
  const med = (f: (m: Measured) => number): number => median(full.map(f));
  const cold = med((m) => mibps(m.cold!));
  const warm = med((m) => mibps(m.warm!));
  const local = med((m) => mibps(m.local!));
  const warmupRatio = med((m) => m.warmupSeconds / m.handSeconds!);
  const vsCold = med((m) => m.cold!.seconds / m.warm!.seconds);
  const vsLocal = med((m) => m.warmOfLocal!);
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  say('');
  say(`median of ${full.length} run(s):`);
  say(
    `  cold  ${fmt(cold)} MiB/s, ${fmt(
      med((m) => filesps(m.cold!)),
      0,
    )} files/s   warm ${fmt(warm)} MiB/s, ${fmt(
      med((m) => filesps(m.warm!)),
      0,
    )} files/s   local disk ${fmt(local)} MiB/s, ${fmt(
      med((m) => filesps(m.local!)),
      0,
    )} files/s`,
  );
  say(`  warm / cold          ×${fmt(vsCold)}   (target ≥ ×5: ${verdict(vsCold >= 5)})`);
  const link = (MBPS * 1e6) / MiB;
  say(
    `  (the link alone allows ${fmt(link)} MiB/s: cold ran at ${fmt((100 * cold) / link, 0)} % of it; warm is ×${fmt(warm / link)} the link)`,
  );
  say(
    `  warm / local disk    ${fmt(100 * vsLocal, 0)} %  (target ≥ 70 %: ${verdict(vsLocal >= 0.7)}; ${DROP_SAYS[DROP]} before each pass)`,
  );
  const floorOfLocal = med((m) => m.floorOfLocal ?? NaN);
  say(
    `  FUSE floor / local   ${fmt(100 * floorOfLocal, 0)} %  (${fmt(med((m) => (m.floor ? mibps(m.floor) : NaN)))} MiB/s: the local copy through a bare loopback ` +
      `FUSE file system with the mount's entry and attribute cache times, the most a FUSE file system so configured reads here; warm = ${fmt((100 * vsLocal) / floorOfLocal, 0)} % of it)`,
  );
  const paired = full.filter((m) => m.other);
  if (paired.length) {
    const o = (f: (x: NonNullable<Measured['other']>) => number): number => median(paired.map((m) => f(m.other!)));
    say(
      `  paired, with ${DROP_SAYS[OTHER_DROP]} instead: warm ${fmt(o((x) => mibps(x.warm)))} MiB/s, local disk ${fmt(
        o((x) => mibps(x.local)),
      )} MiB/s, warm / local disk ${fmt(100 * o((x) => x.warmOfLocal), 0)} %`,
    );
  }
  const split = full.filter((m) => m.bySize);
  if (split.length) {
    const s = (f: (b: NonNullable<Measured['bySize']>) => number): number => median(split.map((m) => f(m.bySize!)));
    say(
      `  where the gap is: small files warm ${fmt(
        s((b) => filesps(b.small.warm)),
        0,
      )} files/s vs local ${fmt(
        s((b) => filesps(b.small.local)),
        0,
      )} files/s (${fmt(100 * s((b) => b.small.local.seconds / b.small.warm.seconds), 0)} %); ` +
        `files ≥ 1 MiB warm ${fmt(s((b) => mibps(b.large.warm)))} MiB/s vs local ${fmt(s((b) => mibps(b.large.local)))} MiB/s (${fmt(100 * s((b) => b.large.local.seconds / b.large.warm.seconds), 0)} %)`,
    );
    say(
      `  the floor, the same way: small files ${fmt(
        s((b) => filesps(b.small.floor)),
        0,
      )} files/s (${fmt(100 * s((b) => b.small.local.seconds / b.small.floor.seconds), 0)} % of local), ` +
        `files ≥ 1 MiB ${fmt(s((b) => mibps(b.large.floor)))} MiB/s (${fmt(100 * s((b) => b.large.local.seconds / b.large.floor.seconds), 0)} %)`,
    );
  }
  say(
    `  warmup SampleJob / juicefs warmup by hand  ×${fmt(warmupRatio, 2)}  (${fmt(med((m) => m.warmupSeconds))} s vs ${fmt(med((m) => m.handSeconds!))} s; target ≤ ×1.2: ${verdict(warmupRatio <= 1.2)})`,
  );
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const binDir = await toolchainBinDir();
  const juicefs = path.join(binDir, 'juicefs');
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-data-path-'));
  const quiet = (): void => undefined;
  say(`machine before the run: ${loadBefore}`);
  say(`starting a control plane in ${runDir} …`);
  const whole = cpuMeter();
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', log: quiet, nodes: 2 });
  const sim = await startCacheNodeSimulator(cp, { namespaces: [NS], log: quiet });
  const gw = await startS3Gateway({ dir: path.join(runDir, 's3'), juicefsBin: juicefs, log: quiet });
  const proxy = await startThrottledProxy({
    upstream: gw.hostPort,
    latencyMs: { min: LAT_MIN, max: LAT_MAX },
    bytesPerSecond: MBPS * 1e6,
  });
  const api = new KubeApi(cp.kubeConfig());
  const logger = createLogger({ level: 'error' });
  const metrics = new Metrics();
  const informers = new InformerFactory(api, logger, metrics, '');
  const ctx = { api, informers, events: new EventRecorder(api, logger), logger, metrics, concurrency: 4 };
  const engines = installedEngines();
  const runtime = new RuntimeClient();
  const notifier = new CacheStatsNotifier();
  const ssOp = new SampleSetOperator(ctx, engines, runtime, { runtimeImage: 'paddle-operator:bench' }, notifier);
  const sjOp = new SampleJobOperator(ctx, engines, runtime, notifier);
  const jobs = new JobRunner(api, NS);
  const floors = new Map<string, FuseFloorMount>();
  let floorBin: string | undefined;
  try {
    const shape = {
      small: Math.round(DEFAULT_SHAPE.small * SCALE),
      medium: Math.round(DEFAULT_SHAPE.medium * SCALE),
      large: Math.max(1, Math.round(DEFAULT_SHAPE.large * SCALE)),
    };
    const objects = datasetObjects(shape);
    const put = gw.put('data', objects);
    gw.createBucket('volume');
    say(`dataset: ${describeShape(objects)}`);
    say(`object store: the JuiceFS S3 gateway behind a throttling proxy: ${proxy.describe()}`);
    say(
      `reading: ${WORKERS} readers in parallel, every file whole (1 MiB reads), shuffled order; before each warm or local pass ${DROP_SAYS[DROP]}, before a cold pass or a warmup everything`,
    );

    await cp.ensureNamespace(NS);
    await Promise.all([ssOp.start(), sjOp.start(), jobs.start()]);
    const creds = { 'access-key': gw.accessKey, 'secret-key': gw.secretKey };
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'vol', namespace: NS },
      stringData: {
        name: 'bench-data',
        metaurl: `sqlite3://${path.join(runDir, 'volume.db')}`,
        storage: 'minio',
        bucket: `${proxy.endpoint}/volume`,
        ...creds,
      },
    });
    await api.create<V1Secret>(SECRET, { metadata: { name: 'source', namespace: NS }, stringData: creds });

    // the dataset synced from the (throttled) source into the volume, whose blocks live behind the same throttle
    const t0 = performance.now();
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: 'dataset', namespace: NS },
      spec: {
        partitions: 1,
        secretRef: { name: 'vol' },
        source: { uri: `minio://${proxy.hostPort}/data/`, secretRef: { name: 'source' } },
      },
    });
    const ready = await waitFor(
      'the SampleSet Ready with the whole dataset',
      async () => {
        const s = await api.get<SampleSet>(SAMPLESET, 'dataset', NS);
        return s?.status?.phase === 'Ready' && s.status.cacheStatus?.totalBytes === put.bytes ? s : undefined;
      },
      { timeoutMs: 900_000, intervalMs: 250 },
    );
    say(
      `SampleSet Ready from the source in ${fmt((performance.now() - t0) / 1000)} s (${ready.status?.cacheStatus?.totalFiles} files synced)`,
    );
    await api.delete(SAMPLESET, 'dataset', NS);
    await waitFor('the sync SampleSet gone', async () => !(await api.get(SAMPLESET, 'dataset', NS)) && sim.pods().length === 0, {
      timeoutMs: 180_000,
      intervalMs: 250,
    });

    const copies = new Map<string, string>();
    const localCopy = (node: string): string => {
      let dir = copies.get(node);
      if (!dir) {
        dir = sim.hostPath(node, '/var/lib/bench-local-copy');
        fs.cpSync(path.join(gw.mountPoint, 'data'), dir, { recursive: true });
        copies.set(node, dir);
      }
      return dir;
    };
    const world: World = {
      api,
      ns: NS,
      sim,
      juicefs,
      volumeSecret: 'vol',
      files: epochOrder(Object.keys(objects)),
      sizes: objects,
      bytes: put.bytes,
      workers: WORKERS,
      rounds: ROUNDS,
      drop: DROP,
      say,
      localCopy,
      floor: async (node, ttl) => {
        const key = `${node} ${ttl}`;
        let f = floors.get(key);
        if (!f) {
          floorBin ??= await fuseFloorBinary();
          f = await mountFuseFloor(floorBin, localCopy(node), sim.hostPath(node, `/var/lib/bench-fuse-floor-${ttl}`), ttl);
          floors.set(key, f);
          say(
            `floor on ${node}, ${ttl} s entry and attribute caches: the local copy through fuse-floor, kernel FUSE passthrough ${f.passthrough ? 'on (reads bypass the FUSE process)' : 'OFF (reads go through the FUSE process too)'}`,
          );
        }
        return f.mountPoint;
      },
    };
    const plan: Candidate[] = env.DATA_PATH_PLAN
      ? (JSON.parse(env.DATA_PATH_PLAN) as Candidate[])
      : TUNE
        ? CANDIDATES
        : Array.from({ length: RUNS }, () => ({ name: 'engine defaults' }));
    const results: Measured[] = [];
    say('');
    for (const [i, c] of plan.entries()) {
      const m = await measure(world, jobs, c, i);
      results.push(m);
      say(row(m));
    }
    summary(results.filter((m) => m.candidate.name === 'engine defaults'));
    say('');
    say(
      `machine: ${os.cpus().length} CPUs busy ${fmt(100 * whole.stop(), 0)} % on average over the run (everything on the machine); ${loadAverage()} at the end`,
    );
    say(`object store traffic through the proxy: ${JSON.stringify(proxy.counters())}`);
  } finally {
    for (const f of floors.values()) await f.stop();
    await jobs.stop();
    await sjOp.stop(5000);
    await ssOp.stop(5000);
    await informers.stopAll();
    await sim.stop();
    await proxy.stop();
    await gw.stop();
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
