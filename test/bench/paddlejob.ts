// Time for N PaddleJobs (default 100) of 2 PS + 4 workers to reach phase Running on the local
// control plane (real kube-scheduler placing the pods on KWOK nodes), and the operator's memory.
// Baseline measured in the same run: the same number of bare pods created straight through the API
// (same shape, 32 creations in flight) until all are Running — the floor set by apiserver,
// scheduler and KWOK; the operator's overhead is the ratio. The operator runs in a child process
// (the production informers, work queue and API client) so its peak RSS is its own.
//   npm run bench -- paddlejob          (or: npm run build && node dist/test/bench/paddlejob.js [jobs] [concurrency])
// Not a test; the toolchain must be built (test/toolchain/build.sh).
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { PADDLEJOB, POD } from '../../src/api/constants.js';
import type { PaddleJob } from '../../src/api/paddlejob.js';
import { installedEngines } from '../../src/engines/installed.js';
import { EventRecorder } from '../../src/kube/event-recorder.js';
import { Informer } from '../../src/kube/informer.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { mapSettled } from '../../src/operators/paddlejob/concurrency.js';
import { PaddleJobOperator } from '../../src/operators/paddlejob/index.js';
import { ControlPlane } from '../harness/control-plane.js';
import { toolchainBinDir } from '../harness/toolchain.js';
import { runMain, waitFor } from '../harness/util.js';

const NS = 'bench-paddlejob';
const PS = 2;
const WORKERS = 4;
const IMAGE = 'registry.invalid/paddle-bench/none:0';
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

interface MemoryReport {
  idleRss: number;
  peakRss: number;
  peakHeapUsed: number;
  maxRss: number;
  reconciles: number;
}

// ---- child: the operator ----------------------------------------------------------------------

async function operatorChild(kubeconfig: string, concurrency: number): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = new KubeApi(kc);
  const logger = createLogger({ level: 'error' });
  const metrics = new Metrics();
  const informers = new InformerFactory(api, logger, metrics, '');
  const op = new PaddleJobOperator(
    { api, informers, events: new EventRecorder(api, logger), logger, metrics, concurrency },
    { engines: installedEngines() },
  );
  await op.start();
  const mem = { idleRss: process.memoryUsage().rss, peakRss: 0, peakHeapUsed: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    mem.peakRss = Math.max(mem.peakRss, m.rss);
    mem.peakHeapUsed = Math.max(mem.peakHeapUsed, m.heapUsed);
  };
  const timer = setInterval(sample, 100);
  process.on('message', (msg) => {
    if (msg !== 'stop') return;
    void (async () => {
      clearInterval(timer);
      sample();
      const reconciles = (await metrics.reconcileTotal.get()).values.reduce((n, v) => n + v.value, 0);
      const report: MemoryReport = { ...mem, maxRss: process.resourceUsage().maxRSS * 1024, reconciles };
      await op.stop();
      await informers.stopAll();
      process.send!(report, () => process.exit(0));
    })();
  });
  process.send!('ready');
}

// ---- parent: cluster, baseline, operator run --------------------------------------------------

function barePod(name: string): V1Pod {
  return {
    metadata: { name, namespace: NS, labels: { bench: 'baseline' } },
    spec: { containers: [{ name: 'main', image: IMAGE }], terminationGracePeriodSeconds: 0, restartPolicy: 'Never' },
  };
}

function job(name: string): PaddleJob {
  const role = (replicas: number) => ({
    replicas,
    template: { spec: { containers: [{ name: 'main', image: IMAGE }], terminationGracePeriodSeconds: 0 } },
  });
  return {
    apiVersion: 'batch.paddlepaddle.org/v1',
    kind: 'PaddleJob',
    metadata: { name, namespace: NS },
    spec: { ps: role(PS), worker: role(WORKERS) },
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function runningPods(informer: Informer<V1Pod>, want: number, selector: (p: V1Pod) => boolean): Promise<void> {
  await waitFor(`${want} pods Running`, () => informer.list(NS, (p) => selector(p) && p.status?.phase === 'Running').length >= want, {
    timeoutMs: 600_000,
    intervalMs: 50,
  });
}

async function main(): Promise<void> {
  const jobs = Math.max(1, Number(process.argv[2] ?? 100));
  const concurrency = Math.max(1, Number(process.argv[3] ?? 4));
  const pods = jobs * (PS + WORKERS);
  const nodes = Math.max(3, Math.ceil((pods * 1.25) / 110)); // KWOK nodes take 110 pods each
  const binDir = await toolchainBinDir();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-paddlejob-'));
  say(`starting a control plane with ${nodes} KWOK nodes in ${runDir} …`);
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', nodes, log: () => undefined });
  let child: ChildProcess | undefined;
  try {
    await cp.ensureNamespace(NS);
    const api = new KubeApi(cp.kubeConfig());
    const podInformer = new Informer<V1Pod>(api, POD, { namespace: NS });
    podInformer.start();
    await podInformer.waitForSync();

    // baseline: the same pods, no operator
    let t0 = performance.now();
    const created = await mapSettled(
      Array.from({ length: pods }, (_, i) => `base-${Math.floor(i / (PS + WORKERS))}-${i % (PS + WORKERS)}`),
      32,
      (name) => api.create(POD, barePod(name)),
    );
    const failures = created.filter((r) => r.status === 'rejected');
    if (failures.length) throw failures[0].reason;
    await runningPods(podInformer, pods, (p) => p.metadata?.labels?.bench === 'baseline');
    const baselineMs = performance.now() - t0;
    say(`baseline: ${pods} bare pods created and Running in ${(baselineMs / 1000).toFixed(2)} s`);
    await cp.kubectl(['delete', 'pods', '-n', NS, '-l', 'bench=baseline', '--wait=false']);
    await waitFor('baseline pods gone', () => podInformer.list(NS).length === 0, { timeoutMs: 300_000, intervalMs: 200 });

    // the operator, in a child process
    child = fork(fileURLToPath(import.meta.url), ['--operator', cp.kubeconfigPath, String(concurrency)], { stdio: 'inherit' });
    const childMessages: unknown[] = [];
    child.on('message', (m) => childMessages.push(m));
    await waitFor('operator started', () => childMessages.includes('ready'), { timeoutMs: 60_000, intervalMs: 50 });

    const jobInformer = new Informer<PaddleJob>(api, PADDLEJOB, { namespace: NS });
    const createdAt = new Map<string, number>();
    const runningAt = new Map<string, number>();
    let jobUpdates = 0;
    jobInformer.addHandler((t, j) => {
      if (t === 'update') jobUpdates++;
      const name = j.metadata.name!;
      if (j.status?.phase === 'Running' && !runningAt.has(name)) runningAt.set(name, performance.now());
    });
    jobInformer.start();
    await jobInformer.waitForSync();

    t0 = performance.now();
    const results = await mapSettled(
      Array.from({ length: jobs }, (_, i) => `job-${i}`),
      16,
      async (name) => {
        createdAt.set(name, performance.now());
        await api.create(PADDLEJOB, job(name));
      },
    );
    const jobFailures = results.filter((r) => r.status === 'rejected');
    if (jobFailures.length) throw jobFailures[0].reason;
    const createMs = performance.now() - t0;
    await waitFor(`${pods} pods created`, () => podInformer.list(NS).length >= pods, { timeoutMs: 600_000, intervalMs: 50 });
    const podsCreatedMs = performance.now() - t0;
    await runningPods(podInformer, pods, (p) => !!p.metadata?.labels?.['paddle-job-name']);
    const podsRunningMs = performance.now() - t0;
    await waitFor(`${jobs} PaddleJobs Running`, () => runningAt.size >= jobs, { timeoutMs: 600_000, intervalMs: 50 });
    const allRunningMs = performance.now() - t0;
    const latencies = [...runningAt.entries()].map(([n, t]) => t - createdAt.get(n)!).sort((a, b) => a - b);

    child.send('stop');
    const mem = await waitFor(
      'operator memory report',
      () => childMessages.find((m): m is MemoryReport => typeof m === 'object' && m !== null && 'maxRss' in m),
      {
        timeoutMs: 60_000,
        intervalMs: 50,
      },
    );
    await jobInformer.stop();
    await podInformer.stop();

    say(
      `operator: ${jobs} PaddleJobs (${PS} PS + ${WORKERS} workers, ${pods} pods), reconcile concurrency ${concurrency}, ${os.cpus().length} CPUs`,
    );
    say(`  jobs created by the client in      ${(createMs / 1000).toFixed(2)} s`);
    say(`  all ${pods} pods created after       ${(podsCreatedMs / 1000).toFixed(2)} s`);
    say(`  all ${pods} pods Running after       ${(podsRunningMs / 1000).toFixed(2)} s`);
    say(
      `  all ${jobs} jobs phase Running after  ${(allRunningMs / 1000).toFixed(2)} s  (${(allRunningMs / baselineMs).toFixed(2)}× the bare-pod baseline of ${(baselineMs / 1000).toFixed(2)} s)`,
    );
    say(
      `  per job, create → Running:         median ${(quantile(latencies, 0.5) / 1000).toFixed(2)} s, p95 ${(quantile(latencies, 0.95) / 1000).toFixed(2)} s, max ${(latencies[latencies.length - 1] / 1000).toFixed(2)} s`,
    );
    say(`  API load from the operator:        ${mem.reconciles} reconciles, ${jobUpdates} writes to PaddleJobs (status, annotations)`);
    say(
      `  operator memory: idle RSS ${mib(mem.idleRss)}, peak RSS ${mib(mem.peakRss)} (maxRSS ${mib(mem.maxRss)}), peak heap used ${mib(mem.peakHeapUsed)}`,
    );
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--operator') runMain(() => operatorChild(process.argv[3], Number(process.argv[4] ?? 4)));
else runMain(main);
