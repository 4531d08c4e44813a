// One configuration of the data path, measured through the real operators: a SampleSet on the
// already-synced volume (noSync) with the configuration's mount options goes Ready, its runtime
// pod's JuiceFS mount (the one every training pod on that node shares) is read cold, the cache is
// cleared, a warmup SampleJob fills it, the mount is read warm, a plain local copy on the same disk
// is read the same way, so is that copy through a bare loopback FUSE file system (the floor: what
// FUSE alone costs), and `juicefs warmup` is timed by hand on the same mount from a cleared cache.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SAMPLEJOB, SAMPLESET } from '../../../src/api/constants.js';
import type { SampleJob, SampleJobSpec } from '../../../src/api/samplejob.js';
import type { SampleSet } from '../../../src/api/sampleset.js';
import { parsePrometheusText } from '../../../src/engines/juicefs/commands.js';
import { readStatsOf } from '../../../src/engines/juicefs/juicefs-stats.js';
import { canonicalOrder, selectShard, type ShardStrategy } from '../../../src/engines/juicefs/sharding.js';
import { walkFiles } from '../../../src/engines/toolkit/fs-walk.js';
import { Informer } from '../../../src/kube/informer.js';
import type { KubeApi } from '../../../src/kube/kube-api.js';
import type { CacheNodeSimulator, SimulatedPod } from '../../harness/cache-nodes.js';
import { dropPageCache, readFilesInChild, type CacheDrop, type ReadResult } from '../../harness/read-files.js';
import { sleep, waitFor } from '../../harness/util.js';
import { cpuMeter, median, medianBy } from './dataset.js';

const run = promisify(execFile);

export interface Candidate {
  name: string;
  /** spec.csi.juiceFSMountOptions of the SampleSet (on top of the engine's defaults). */
  mountOptions?: Record<string, string | number | boolean>;
  /** warmupOptions.threads of the warmup SampleJob (unset: the runtime's default). */
  warmupThreads?: number;
  /** Cache partitions (default 1). With more, only the warmup is measured (each node warms its shard). */
  partitions?: number;
  strategy?: ShardStrategy;
}

export interface Pass extends ReadResult {
  /** Bytes the mount served from its cache / fetched from the object store during the pass. */
  fromCache: number;
  fromStore: number;
  /** Share of the machine's CPUs busy during the pass (everything on it, not only us). */
  cpu: number;
}

export interface Measured {
  candidate: Candidate;
  cold?: Pass;
  warm?: Pass;
  local?: Pass;
  /** The local copy read through a bare loopback FUSE file system (World.floor): what FUSE alone costs. */
  floor?: Pass;
  /** Local-disk seconds over warm seconds, median of the rounds (each round reads warm, local, floor). */
  warmOfLocal?: number;
  /** Local-disk seconds over floor seconds, median of the same rounds: the most a FUSE file system with those kernel caches reaches here. */
  floorOfLocal?: number;
  /** The same rounds, paired, with the other way of emptying the caches before each pass (World.drop). */
  other?: { warm: Pass; local: Pass; warmOfLocal: number };
  /** The small files (< 1 MiB) and the others read apart, warm, local and through the floor (where the gap is). */
  bySize?: { small: SizeClass; large: SizeClass };
  /** Warmup SampleJob: created → Succeeded seen. */
  warmupSeconds: number;
  /** `juicefs warmup` by hand on the same mount, from a cleared cache. */
  handSeconds?: number;
  /** Bytes each shard warmed (partitions > 1). */
  shardBytes?: number[];
}

export interface SizeClass {
  warm: Pass;
  local: Pass;
  floor: Pass;
}

export interface World {
  api: KubeApi;
  ns: string;
  sim: CacheNodeSimulator;
  juicefs: string;
  /** Volume Secret of the synced dataset. */
  volumeSecret: string;
  /** The dataset: relative paths in epoch order, their sizes, and the total. */
  files: string[];
  sizes: Record<string, number>;
  bytes: number;
  /** Readers in parallel (a data loader's workers). */
  workers: number;
  /** Warm and local passes per configuration (alternating). */
  rounds: number;
  /** What is emptied before a warm or local pass (the figures); each round also reads with the other. */
  drop: CacheDrop;
  /** A plain copy of the dataset on `node`'s disk (made on first use). */
  localCopy(node: string): string;
  /**
   * That copy mounted through a bare loopback FUSE file system whose kernel entries and attributes
   * last `ttl` seconds (mounted on first use): its mount point.
   */
  floor(node: string, ttl: number): Promise<string>;
  say(s: string): void;
}

/** Runs SampleJobs and reports when each ends, from a watch (no polling delay in the timings). */
export class JobRunner {
  private readonly informer: Informer<SampleJob>;
  private readonly waiters = new Map<string, (j: SampleJob) => void>();
  private seq = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly ns: string,
  ) {
    this.informer = new Informer<SampleJob>(api, SAMPLEJOB, { namespace: ns });
    this.informer.addHandler((_t, j) => {
      const phase = j.status?.phase;
      if (phase !== 'Succeeded' && phase !== 'Failed') return;
      const w = this.waiters.get(j.metadata.name!);
      if (!w) return;
      this.waiters.delete(j.metadata.name!);
      w(j);
    });
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  /** Creates the SampleJob and waits for it to succeed; the seconds from create to Succeeded. */
  async run(spec: SampleJobSpec, timeoutMs = 600_000): Promise<{ seconds: number; job: SampleJob }> {
    const name = `${spec.type}-${++this.seq}`;
    const done = new Promise<SampleJob>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`SampleJob ${name} did not end within ${timeoutMs / 1000} s`)), timeoutMs);
      this.waiters.set(name, (j) => {
        clearTimeout(t);
        resolve(j);
      });
    });
    const t0 = performance.now();
    await this.api.create<SampleJob>(SAMPLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name, namespace: this.ns },
      spec,
    });
    const job = await done;
    const seconds = (performance.now() - t0) / 1000;
    if (job.status?.phase !== 'Succeeded') throw new Error(`SampleJob ${name} failed: ${JSON.stringify(job.status?.conditions)}`);
    await this.api.delete(SAMPLEJOB, name, this.ns);
    return { seconds, job };
  }
}

function mountReads(mount: string): { hitBytes: number; missBytes: number } {
  const r = readStatsOf(parsePrometheusText(fs.readFileSync(path.join(mount, '.stats'), 'utf8')));
  return { hitBytes: r?.hitBytes ?? 0, missBytes: r?.missBytes ?? 0 };
}

/** Bytes of cached blocks under the tier (the mount writes them in the background). */
async function cachedBytes(dir: string): Promise<number> {
  return (await walkFiles(dir, '', { collect: false, onFile: () => undefined })).bytes;
}

/** Waits until the mount stopped writing blocks into `dir` (unchanged for a second, at most 60 s). */
async function settled(dir: string): Promise<number> {
  let last = -1;
  for (let i = 0; i < 120; i++) {
    const now = await cachedBytes(dir);
    if (now === last) return now;
    last = now;
    await sleep(i === 0 ? 200 : 500);
  }
  return last;
}

/** Reads the whole dataset under `root` with the world's readers, from an empty page cache (and with `all`, no dentries or inodes). */
async function pass(w: World, root: string, mount?: string, files = w.files, drop: CacheDrop = w.drop): Promise<Pass> {
  dropPageCache(drop);
  const before = mount ? mountReads(mount) : { hitBytes: 0, missBytes: 0 };
  const cpu = cpuMeter();
  const r = await readFilesInChild(root, files, w.workers);
  const busy = cpu.stop();
  const after = mount ? mountReads(mount) : before;
  const expected = files === w.files ? w.bytes : files.reduce((sum, f) => sum + w.sizes[f], 0);
  if (r.bytes !== expected) throw new Error(`read ${r.bytes} bytes under ${root}, expected ${expected}`);
  return { ...r, fromCache: after.hitBytes - before.hitBytes, fromStore: after.missBytes - before.missBytes, cpu: busy };
}

async function sampleSetReady(w: World, name: string): Promise<SampleSet> {
  return waitFor(
    `SampleSet ${w.ns}/${name} Ready`,
    async () => {
      const s = await w.api.get<SampleSet>(SAMPLESET, name, w.ns);
      return s?.status?.phase === 'Ready' ? s : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 200 },
  );
}

async function clearCache(w: World, jobs: JobRunner, name: string, tier: string): Promise<void> {
  await settled(tier);
  await jobs.run({ type: 'clear', sampleSetRef: { name } });
  const left = await cachedBytes(tier);
  if (left > 0.01 * w.bytes) throw new Error(`the clear left ${left} bytes of blocks in ${tier}`);
}

/**
 * `files` under `root` read twice in a row: with everything emptied, then with the page cache only.
 * The second pass so finds the dentries and inodes the first left, as an epoch finds those of the
 * epoch before it (a pass of another tree in between would have dropped them with its `echo 3`).
 */
async function epochs(w: World, root: string, mount: string | undefined, files = w.files): Promise<Record<CacheDrop, Pass>> {
  const all = await pass(w, root, mount, files, 'all');
  return { all, pages: await pass(w, root, mount, files, 'pages') };
}

/** The small files and the large ones read apart, each way with the world's way of emptying the caches. */
async function bySize(w: World, mount: string, local: string, floor: string): Promise<Measured['bySize']> {
  const split = async (files: string[]): Promise<SizeClass> => ({
    warm: (await epochs(w, mount, mount, files))[w.drop],
    local: (await epochs(w, local, undefined, files))[w.drop],
    floor: (await epochs(w, floor, undefined, files))[w.drop],
  });
  return {
    small: await split(w.files.filter((f) => w.sizes[f] < 1024 * 1024)),
    large: await split(w.files.filter((f) => w.sizes[f] >= 1024 * 1024)),
  };
}

/** Bytes in each shard, split the way the runtime splits a warmup (sharding.ts). */
function shardBytes(w: World, shards: number, strategy: ShardStrategy): number[] {
  const ordered = canonicalOrder(Object.keys(w.sizes));
  return Array.from({ length: shards }, (_, i) =>
    selectShard(ordered, (f) => f, i, shards, strategy).reduce((sum, f) => sum + w.sizes[f], 0),
  );
}

export async function measure(w: World, jobs: JobRunner, c: Candidate, index: number): Promise<Measured> {
  const name = `dp-${index}`;
  const partitions = c.partitions ?? 1;
  await w.api.create<SampleSet>(SAMPLESET, {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name, namespace: w.ns },
    spec: {
      partitions,
      noSync: true,
      secretRef: { name: w.volumeSecret },
      ...(c.mountOptions ? { csi: { driver: 'juicefs', juiceFSMountOptions: c.mountOptions } } : {}),
    },
  });
  try {
    await sampleSetReady(w, name);
    const pods: SimulatedPod[] = [];
    for (let i = 0; i < partitions; i++) pods.push(await w.sim.waitForRuntime(w.ns, `${name}-runtime-${i}`, 120_000));
    const warmupSpec: SampleJobSpec = {
      type: 'warmup',
      sampleSetRef: { name },
      warmupOptions: { strategyName: c.strategy ?? 'sequence', ...(c.warmupThreads ? { threads: c.warmupThreads } : {}) },
    };
    if (partitions > 1) {
      dropPageCache();
      const warm = await jobs.run(warmupSpec);
      return {
        candidate: c,
        warmupSeconds: warm.seconds,
        shardBytes: shardBytes(w, partitions, c.strategy ?? 'sequence'),
      };
    }
    const pod = pods[0];
    const mount = Object.values(pod.mounts)[0];
    const tier = pod.cacheDirs[0];
    const local = w.localCopy(pod.node);
    // the floor keeps kernel entries as long as the mount under test does (JuiceFS's default: 1 s)
    const floor = await w.floor(pod.node, Number(c.mountOptions?.['entry-cache'] ?? 1));

    const cold = await pass(w, mount, mount, w.files, 'all');
    await clearCache(w, jobs, name, tier);
    dropPageCache();
    const warmup = await jobs.run(warmupSpec);
    // warm, local and the floor alternate, so all see the same machine; the median round stands for
    // them. Each is read both ways of emptying the caches (`epochs`): the world's way makes the
    // figures, the other is printed beside them (paired, same machine).
    type Round = { warm: Pass; local: Pass; floor: Pass };
    const otherDrop: CacheDrop = w.drop === 'pages' ? 'all' : 'pages';
    const rounds: Round[] = [];
    const others: Round[] = [];
    for (let i = 0; i < w.rounds; i++) {
      const r = { warm: await epochs(w, mount, mount), local: await epochs(w, local, undefined), floor: await epochs(w, floor, undefined) };
      rounds.push({ warm: r.warm[w.drop], local: r.local[w.drop], floor: r.floor[w.drop] });
      others.push({ warm: r.warm[otherDrop], local: r.local[otherDrop], floor: r.floor[otherDrop] });
    }
    const mid = (rs: Round[], f: (r: Round) => Pass): Pass => medianBy(rs.map(f), (p) => p.seconds);
    const ofLocal = (rs: Round[], f: (r: Round) => Pass = (r) => r.warm): number => median(rs.map((r) => r.local.seconds / f(r).seconds));

    await clearCache(w, jobs, name, tier);
    dropPageCache();
    const t0 = performance.now();
    await run(w.juicefs, ['warmup', mount], { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DISPLAY_PROGRESSBAR: 'false' } });
    const handSeconds = (performance.now() - t0) / 1000;
    return {
      candidate: c,
      cold,
      warm: mid(rounds, (r) => r.warm),
      local: mid(rounds, (r) => r.local),
      floor: mid(rounds, (r) => r.floor),
      warmOfLocal: ofLocal(rounds),
      floorOfLocal: ofLocal(rounds, (r) => r.floor),
      other: { warm: mid(others, (r) => r.warm), local: mid(others, (r) => r.local), warmOfLocal: ofLocal(others) },
      bySize: await bySize(w, mount, local, floor),
      warmupSeconds: warmup.seconds,
      handSeconds,
    };
  } finally {
    await w.api.delete(SAMPLESET, name, w.ns);
    await waitFor(
      `SampleSet ${name} torn down`,
      async () => !(await w.api.get(SAMPLESET, name, w.ns)) && !w.sim.pods().some((p) => p.name.startsWith(`${name}-runtime-`)),
      { timeoutMs: 180_000, intervalMs: 250 },
    );
  }
}
