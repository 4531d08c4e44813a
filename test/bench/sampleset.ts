// Time from `kubectl apply` of a SampleSet to `Ready` for a fixed dataset on the real control plane
// with simulated cache nodes (real paddle-runtime, real JuiceFS mounts) and the JuiceFS S3 gateway as
// the source — split into the sync itself (the runtime's job, start to end) and everything else
// (the operator's overhead: objects, scheduling, mount and runtime start, submit, statistics,
// status). Baseline measured in the same run: `juicefs sync` of the same data from the same gateway
// into a fresh volume of the same kind, run directly.
//   npm run bench -- sampleset       (or: npm run build && node dist/test/bench/sampleset.js [runs] [files] [MiB])
// Not a test; the toolchain must be built (test/toolchain/build.sh).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { V1Secret } from '@kubernetes/client-node';
import { SAMPLESET, SECRET } from '../../src/api/constants.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import { EventRecorder } from '../../src/kube/event-recorder.js';
import { Informer } from '../../src/kube/informer.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { readRuntimeToken } from '../../src/operators/shared/runtime-pods.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import { startCacheNodeSimulator, startS3Gateway } from '../harness/cache-nodes.js';
import { ControlPlane } from '../harness/control-plane.js';
import { toolchainBinDir } from '../harness/toolchain.js';

const run = promisify(execFile);
const RUNS = Math.max(1, Number(process.argv[2] ?? 3));
const FILES = Math.max(10, Number(process.argv[3] ?? 1000));
const MIB = Math.max(1, Number(process.argv[4] ?? 200));
const PARTITIONS = 2;
const BUCKET = 'bench';

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** The fixed dataset: FILES files in nested directories, a tenth of them holding 80 % of the bytes. */
function dataset(): Record<string, number> {
  const total = MIB * 1024 * 1024;
  const large = Math.max(1, Math.floor(FILES / 10));
  const small = FILES - large;
  const largeSize = Math.floor((total * 0.8) / large);
  const smallSize = Math.max(1, Math.floor((total * 0.2) / Math.max(1, small)));
  const out: Record<string, number> = {};
  for (let i = 0; i < small; i++) out[`train/${i % 16}/${i % 7}/s${i}.bin`] = smallSize;
  for (let i = 0; i < large; i++) out[`large/l${i}.bin`] = largeSize;
  return out;
}

interface Timeline {
  apply: number;
  bound?: number;
  podsReady?: number;
  /** Every runtime pod's (simulated) server answers: the stand-in for container start. */
  serving?: number;
  syncing?: number;
  synced?: number;
  ready?: number;
}

async function main(): Promise<void> {
  const binDir = await toolchainBinDir();
  const juicefs = path.join(binDir, 'juicefs');
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-sampleset-'));
  const quiet = (): void => undefined;
  say(`starting a control plane in ${runDir} …`);
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', log: quiet, nodes: 3 });
  const sim = await startCacheNodeSimulator(cp, { log: quiet });
  const gw = await startS3Gateway({ dir: path.join(runDir, 's3'), juicefsBin: juicefs, log: quiet });
  const api = new KubeApi(cp.kubeConfig());
  const logger = createLogger({ level: 'error' });
  const metrics = new Metrics();
  const informers = new InformerFactory(api, logger, metrics, '');
  const engines = installedEngines();
  const runtime = new RuntimeClient();
  const op = new SampleSetOperator(
    { api, informers, events: new EventRecorder(api, logger), logger, metrics, concurrency: 4 },
    engines,
    runtime,
    { runtimeImage: 'paddle-operator:bench' },
    new CacheStatsNotifier(),
  );
  let watcher: Informer<SampleSet> | undefined;
  try {
    const put = gw.put(BUCKET, dataset());
    say(
      `dataset: ${put.files} files, ${(put.bytes / 1024 / 1024).toFixed(0)} MiB in the S3 gateway; ${PARTITIONS} partitions; ${RUNS} run(s); ${os.cpus().length} CPUs`,
    );
    const volumesDir = path.join(runDir, 'volumes');
    fs.mkdirSync(volumesDir, { recursive: true });
    const syncEnv = { ...process.env, MINIO_ACCESS_KEY: gw.accessKey, MINIO_SECRET_KEY: gw.secretKey };

    // ---- baseline: juicefs sync straight from the gateway into a fresh mounted volume
    const direct: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const meta = `sqlite3://${path.join(volumesDir, `direct-${i}.db`)}`;
      const mp = path.join(volumesDir, `direct-${i}`);
      fs.mkdirSync(mp, { recursive: true });
      await run(juicefs, [
        'format',
        '--trash-days',
        '0',
        '--storage',
        'file',
        '--bucket',
        path.join(volumesDir, `direct-${i}-objects`) + '/',
        meta,
        `direct-${i}`,
      ]);
      await run(juicefs, [
        'mount',
        '-d',
        '--no-usage-report',
        '--backup-meta',
        '0',
        '--cache-dir',
        path.join(volumesDir, `direct-${i}-cache`),
        '--log',
        `${mp}.log`,
        meta,
        mp,
      ]);
      const t0 = performance.now();
      await run(juicefs, ['sync', gw.uri(BUCKET), `${mp}/`], { env: syncEnv, maxBuffer: 64 * 1024 * 1024 });
      direct.push(performance.now() - t0);
      await run(juicefs, ['umount', mp]);
    }

    // ---- through the operator
    await op.start();
    watcher = new Informer<SampleSet>(api, SAMPLESET, {});
    const timelines = new Map<string, Timeline>();
    watcher.addHandler((_t, o) => {
      const tl = timelines.get(`${o.metadata.namespace}/${o.metadata.name}`);
      if (!tl) return;
      const now = performance.now();
      const st = o.status ?? {};
      if (!tl.bound && st.phase) tl.bound = now;
      if (!tl.podsReady && (st.runtimeStatus?.readyReplicas ?? 0) >= PARTITIONS) tl.podsReady = now;
      if (!tl.syncing && st.syncJob?.id) tl.syncing = now;
      if (!tl.synced && st.syncJob?.phase === 'Succeeded') tl.synced = now;
      if (!tl.ready && st.phase === 'Ready') tl.ready = now;
    });
    watcher.start();
    await watcher.waitForSync();

    const rows: Array<{ total: number; sync: number; overhead: number; tl: Timeline }> = [];
    const startup: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const ns = `bench-ss-${i}`;
      await cp.ensureNamespace(ns);
      await api.create<V1Secret>(SECRET, {
        metadata: { name: 'jfs', namespace: ns },
        stringData: {
          name: `bench-${i}`,
          metaurl: `sqlite3://${path.join(volumesDir, `op-${i}.db`)}`,
          storage: 'file',
          bucket: path.join(volumesDir, `op-${i}-objects`) + '/',
        },
      });
      await api.create<V1Secret>(SECRET, {
        metadata: { name: 'source', namespace: ns },
        stringData: { 'access-key': gw.accessKey, 'secret-key': gw.secretKey },
      });
      const manifest = {
        apiVersion: 'batch.paddlepaddle.org/v1alpha1',
        kind: 'SampleSet',
        metadata: { name: 'bench', namespace: ns },
        spec: { partitions: PARTITIONS, secretRef: { name: 'jfs' }, source: { uri: gw.uri(BUCKET), secretRef: { name: 'source' } } },
      };
      const tl: Timeline = { apply: performance.now() };
      timelines.set(`${ns}/bench`, tl);
      await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
      const deadline = Date.now() + 600_000;
      while (!tl.ready) {
        if (Date.now() > deadline) throw new Error(`SampleSet ${ns}/bench not Ready within 10 min`);
        if (!tl.serving && sim.pods().filter((p) => p.namespace === ns && p.serving).length >= PARTITIONS) tl.serving = performance.now();
        await new Promise((r) => setTimeout(r, 20));
      }
      // the runtime's own account of the sync (start to end of the juicefs sync child)
      const ss = (await api.get<SampleSet>(SAMPLESET, 'bench', ns))!;
      const token = readRuntimeToken(await api.get<V1Secret>(SECRET, 'bench-runtime-token', ns))!;
      const holder = sim.pods().find((p) => p.namespace === ns && p.name === 'bench-runtime-0')!;
      const job = await runtime.get(`http://${holder.podIP}:7716`, token, ss.status!.syncJob!.id!);
      const sync = job?.startTime && job.completionTime ? Date.parse(job.completionTime) - Date.parse(job.startTime) : NaN;
      const total = tl.ready - tl.apply;
      rows.push({ total, sync, overhead: total - sync, tl });
      // the simulated container start (mount + process start) is not the operator's doing
      startup.push((tl.serving ?? tl.podsReady ?? tl.apply) - (tl.podsReady ?? tl.apply));
      say(
        `run ${i + 1}: apply → Ready ${secs(total)} = sync ${secs(sync)} + overhead ${secs(total - sync)} ` +
          `(apply → volume bound ${secs((tl.bound ?? NaN) - tl.apply)}, → ${PARTITIONS} pods ready ${secs((tl.podsReady ?? NaN) - tl.apply)}, ` +
          `→ runtimes serving ${secs((tl.serving ?? NaN) - tl.apply)}, → sync submitted ${secs((tl.syncing ?? NaN) - tl.apply)}, sync done seen → Ready ${secs(tl.ready - (tl.synced ?? NaN))})`,
      );
      await api.delete(SAMPLESET, 'bench', ns);
    }

    say('');
    say(`SampleSet apply → Ready, ${FILES} files / ${MIB} MiB from the S3 gateway, ${PARTITIONS} partitions (median of ${RUNS})`);
    const base = median(direct);
    const total = median(rows.map((r) => r.total));
    const sync = median(rows.map((r) => r.sync));
    const overhead = median(rows.map((r) => r.overhead));
    say(`baseline: juicefs sync run directly           ${secs(base)}`);
    say(`sync inside the runtime (job start → end)     ${secs(sync)}   ×${(sync / base).toFixed(2)} of the baseline`);
    say(`overhead (everything but the sync)            ${secs(overhead)}`);
    say(
      `  of which simulated runtime start (pods Ready → all runtimes answer) ${secs(median(startup))}; the operator's own share ${secs(overhead - median(startup))}`,
    );
    say(`apply → Ready                                 ${secs(total)}   ×${(total / base).toFixed(2)} of the baseline`);
  } finally {
    await watcher?.stop();
    await op.stop(5000);
    await informers.stopAll();
    await sim.stop();
    await gw.stop();
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
