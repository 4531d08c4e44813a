// Latency from creating a small SampleJob (`rmr` of one file) to its status saying Succeeded, on a
// real control plane with a simulated cache node (real paddle-runtime, real JuiceFS mount), both
// operators in this process. Baseline measured in the same run: the same rmr submitted straight to
// the runtime (POST /jobs, then long-poll GET until it ends) — the operator's overhead is the ratio.
//   npm run bench -- samplejob        (or: npm run build && node dist/test/bench/samplejob.js [jobs])
// Not a test; the toolchain must be built (test/toolchain/build.sh).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { SAMPLEJOB, SAMPLESET, SECRET } from '../../src/api/constants.js';
import type { SampleJob } from '../../src/api/samplejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import { EventRecorder } from '../../src/kube/event-recorder.js';
import { Informer } from '../../src/kube/informer.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { SampleJobOperator } from '../../src/operators/samplejob/samplejob-operator.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { readRuntimeToken } from '../../src/operators/shared/runtime-pods.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import { startCacheNodeSimulator } from '../harness/cache-nodes.js';
import { ControlPlane } from '../harness/control-plane.js';
import { toolchainBinDir } from '../harness/toolchain.js';
import { waitFor } from '../harness/util.js';

const NS = 'bench-samplejob';
const SS = 'bench';
const JOBS = Math.max(30, Number(process.argv[2] ?? 40));
const WARMUP_JOBS = 3;

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function summary(label: string, ms: number[]): { median: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  const r = { median: quantile(s, 0.5), p95: quantile(s, 0.95) };
  say(
    `${label.padEnd(34)} n=${String(ms.length).padStart(3)}  median ${r.median.toFixed(0).padStart(5)} ms  p95 ${r.p95.toFixed(0).padStart(5)} ms  min ${s[0].toFixed(0)} ms  max ${s[s.length - 1].toFixed(0)} ms`,
  );
  return r;
}

async function main(): Promise<void> {
  const binDir = await toolchainBinDir();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-samplejob-'));
  const quiet = (): void => undefined;
  say(`starting a control plane in ${runDir} …`);
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', log: quiet, nodes: 1 });
  const sim = await startCacheNodeSimulator(cp, { namespaces: [NS], log: quiet });
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
  let watcher: Informer<SampleJob> | undefined;
  try {
    await cp.ensureNamespace(NS);
    await Promise.all([ssOp.start(), sjOp.start()]);
    const volDir = path.join(runDir, 'volume');
    fs.mkdirSync(volDir, { recursive: true });
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'vol', namespace: NS },
      stringData: {
        name: 'bench-vol',
        metaurl: `sqlite3://${path.join(volDir, 'meta.db')}`,
        storage: 'file',
        bucket: path.join(volDir, 'objects') + '/',
      },
    });
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: SS, namespace: NS },
      spec: {
        partitions: 1,
        noSync: true,
        secretRef: { name: 'vol' },
        cache: { levels: [{ mediumType: 'SSD', path: '/var/lib/paddle-operator/cache/bench', cacheSize: 256 }] },
      },
    });
    await waitFor('SampleSet Ready', async () => (await api.get<SampleSet>(SAMPLESET, SS, NS))?.status?.phase === 'Ready', {
      timeoutMs: 180_000,
      intervalMs: 250,
    });
    const pod = await sim.waitForRuntime(NS, `${SS}-runtime-0`, 60_000);
    const root = Object.values(pod.mounts)[0];
    const total = JOBS + 30 + WARMUP_JOBS * 2;
    fs.mkdirSync(path.join(root, 'files'), { recursive: true });
    for (let i = 0; i < total; i++) fs.writeFileSync(path.join(root, 'files', `f${i}`), `file ${i}\n`);
    let next = 0;
    const nextFile = (): string => `/files/f${next++}`;

    // ---- baseline: the same rmr straight to the runtime
    const token = readRuntimeToken(await api.get<V1Secret>(SECRET, `${SS}-runtime-token`, NS));
    if (!token) throw new Error('no runtime token');
    const baseUrl = `http://${pod.podIP}:7716`;
    const direct: number[] = [];
    for (let i = 0; i < 30 + WARMUP_JOBS; i++) {
      const id = `bench-direct-${i}-${Date.now()}`;
      const t0 = performance.now();
      await runtime.submit(baseUrl, token, { id, type: 'rmr', options: { paths: [nextFile()] } });
      for (;;) {
        const st = await runtime.get(baseUrl, token, id, 20);
        if (!st) throw new Error(`runtime lost ${id}`);
        if (st.status === 'succeeded') break;
        if (st.status === 'failed' || st.status === 'cancelled') throw new Error(`direct rmr ${st.status}: ${st.message}`);
      }
      if (i >= WARMUP_JOBS) direct.push(performance.now() - t0);
    }

    // ---- the operator: create the SampleJob, observe status.phase = Succeeded through a watch
    watcher = new Informer<SampleJob>(api, SAMPLEJOB, { namespace: NS });
    const waiters = new Map<string, () => void>();
    watcher.addHandler((_t, o) => {
      if (o.status?.phase === 'Succeeded' || o.status?.phase === 'Failed') {
        const w = waiters.get(o.metadata.name!);
        if (w) {
          waiters.delete(o.metadata.name!);
          if (o.status.phase === 'Failed') process.stderr.write(`job ${o.metadata.name} failed: ${JSON.stringify(o.status.conditions)}\n`);
          w();
        }
      }
    });
    watcher.start();
    await watcher.waitForSync();
    const viaOperator: number[] = [];
    for (let i = 0; i < JOBS + WARMUP_JOBS; i++) {
      const name = `rm-${i}`;
      const done = new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${name} did not finish within 60 s`)), 60_000);
        waiters.set(name, () => {
          clearTimeout(t);
          resolve();
        });
      });
      const t0 = performance.now();
      await api.create<SampleJob>(SAMPLEJOB, {
        apiVersion: 'batch.paddlepaddle.org/v1alpha1',
        kind: 'SampleJob',
        metadata: { name, namespace: NS },
        spec: { type: 'rmr', sampleSetRef: { name: SS }, rmrOptions: { paths: [nextFile()] } },
      });
      await done;
      if (i >= WARMUP_JOBS) viaOperator.push(performance.now() - t0);
    }

    say('');
    say(`SampleJob latency, rmr of one file, created one after another (${os.cpus().length} CPUs)`);
    const base = summary('baseline: runtime POST + long-poll', direct);
    const op = summary('SampleJob create → Succeeded', viaOperator);
    say(`ratio to baseline: median ×${(op.median / base.median).toFixed(1)}, p95 ×${(op.p95 / base.p95).toFixed(1)}`);
    say(`target: median < 1000 ms — ${op.median < 1000 ? 'met' : 'NOT met'}`);
  } finally {
    await watcher?.stop();
    await sjOp.stop(5000);
    await ssOp.stop(5000);
    await informers.stopAll();
    await sim.stop();
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
