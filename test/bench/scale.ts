// How the operator's cost grows with the number of objects: the real `paddle-operator` process
// (all three operators, the entry point's Node flags) on a fresh local control plane per size.
//  - PaddleJobs of 2 PS + 4 workers, 100 / 300 / 1,000 at once (KWOK nodes added to fit the pods):
//    time until every job is Running;
//  - rmr SampleJobs against one one-partition SampleSet, 100 / 1,000 at once (its runtime pod served
//    cheaply in this process, its queue and history wide enough for them all): time until every
//    job has Succeeded.
// At each size: API requests the operator made, its CPU seconds and peak RSS, per object; the
// smallest size is the baseline measured in the same run, and each larger one is shown as a ratio
// of its per-object figures to the baseline's (1.00 = linear growth).
//   npm run bench -- scale              (or: node dist/test/bench/scale.js [paddlejob sizes] [samplejob sizes])
//   e.g. node dist/test/bench/scale.js 100,300 100
// Not a test; the toolchain must be built (test/toolchain/build.sh).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeApi } from '../../src/kube/kube-api.js';
import { ControlPlane } from '../harness/control-plane.js';
import { toolchainBinDir } from '../harness/toolchain.js';
import { startCheapRuntimes } from './support/cheap-runtimes.js';
import { PhaseClock, SAMPLEJOB, SAMPLESET, createAll, createVolumeSecret, rmrJob, sampleSet } from './support/fleet.js';
import { mib, startOperatorProcess, type OperatorProcessHandle } from './support/operator-process.js';
import { PODS_PER_JOB, nodesFor, podWatch, runPaddleJobs } from './support/paddlejobs.js';

const NS = 'bench-scale';
const sizes = (arg: string | undefined, dflt: number[]): number[] =>
  arg
    ? arg
        .split(',')
        .map(Number)
        .filter((n) => n > 0)
    : dflt;
const PADDLEJOB_SIZES = sizes(process.argv[2], [100, 300, 1000]);
const SAMPLEJOB_SIZES = sizes(process.argv[3], [100, 1000]);
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

interface Point {
  n: number;
  ms: number;
  requests: number;
  cpuSeconds: number;
  peakRss: number;
  idleRss: number;
}

/** A fresh control plane and operator for one size; both are gone when `run` returns. */
async function withCluster<T>(nodes: number, run: (cp: ControlPlane, api: KubeApi, op: OperatorProcessHandle) => Promise<T>): Promise<T> {
  const binDir = await toolchainBinDir();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-scale-'));
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', nodes, log: () => undefined });
  let op: OperatorProcessHandle | undefined;
  try {
    await cp.ensureNamespace(NS);
    op = await startOperatorProcess(cp.kubeconfigPath);
    return await run(cp, new KubeApi(cp.kubeConfig()), op);
  } finally {
    await op?.stop();
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

async function paddleJobs(n: number): Promise<Point> {
  return withCluster(nodesFor(n * PODS_PER_JOB), async (_cp, api, op) => {
    const pods = await podWatch(api, NS);
    try {
      const r = await runPaddleJobs(api, pods, NS, n, op);
      return { n, ms: r.allRunningMs, requests: r.requests, cpuSeconds: r.cpuSeconds, peakRss: r.peakRss, idleRss: r.idleRss };
    } finally {
      await pods.stop();
    }
  });
}

async function sampleJobs(n: number): Promise<Point> {
  return withCluster(3, async (_cp, api, op) => {
    const runtimes = await startCheapRuntimes(api, NS, { maxPendingJobs: 2 * n, historyLimit: 2 * n });
    const sets = new PhaseClock(api, SAMPLESET, NS, ['Ready']);
    const jobs = new PhaseClock(api, SAMPLEJOB, NS, ['Succeeded', 'Failed']);
    try {
      await sets.start();
      await jobs.start();
      await createVolumeSecret(api, NS);
      await createAll(api, SAMPLESET, [sampleSet(NS, 'data')]);
      await sets.waitForCount(1, 300_000);
      const idleRss = op.rssBytes();
      op.resetPeak();
      const requests0 = await op.kubeRequests();
      const cpu0 = op.cpuSeconds();
      const t0 = performance.now();
      await createAll(
        api,
        SAMPLEJOB,
        Array.from({ length: n }, (_, i) => rmrJob(NS, `rm-${i}`, 'data')),
      );
      const done = await jobs.waitForCount(n, 1_800_000);
      const failed = jobs.objects().filter((j) => (j as { status?: { phase?: string } }).status?.phase === 'Failed').length;
      if (failed) say(`  (${failed} of ${n} SampleJobs Failed)`);
      return {
        n,
        ms: done - t0,
        requests: (await op.kubeRequests()) - requests0,
        cpuSeconds: op.cpuSeconds() - cpu0,
        peakRss: op.peakRssBytes,
        idleRss,
      };
    } finally {
      await jobs.stop();
      await sets.stop();
      await runtimes.stop();
    }
  });
}

function report(what: string, unit: string, points: Point[]): void {
  const base = points[0];
  const per = (p: Point) => ({ ms: p.ms / p.n, req: p.requests / p.n, cpu: (p.cpuSeconds * 1000) / p.n });
  say(`\n${what}`);
  say(
    `  ${'size'.padStart(6)}  ${'time'.padStart(8)}  ${'ms/obj'.padStart(7)}  ${'req/obj'.padStart(7)}  ${'CPU ms/obj'.padStart(10)}  ${'RSS idle → peak'.padStart(17)}  growth per object vs ${base.n} (time, requests, CPU)`,
  );
  for (const p of points) {
    const a = per(p);
    const b = per(base);
    const growth = [a.ms / b.ms, a.req / b.req, a.cpu / b.cpu];
    const linear = growth.every((g) => g <= 1.3) ? 'linear' : 'FASTER than linear';
    say(
      `  ${String(p.n).padStart(6)}  ${`${(p.ms / 1000).toFixed(1)} s`.padStart(8)}  ${a.ms.toFixed(1).padStart(7)}  ${a.req.toFixed(1).padStart(7)}  ${a.cpu.toFixed(1).padStart(10)}  ${`${mib(p.idleRss)} → ${mib(p.peakRss)}`.padStart(17)}  ${growth.map((g) => `${g.toFixed(2)}×`).join(' ')}${p === base ? ' (baseline)' : `  ${linear}`}`,
    );
  }
  say(`  (${unit}; "linear" = every per-object figure within 1.3× of the baseline's)`);
}

async function main(): Promise<void> {
  say(
    `scale: ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const pj: Point[] = [];
  for (const n of PADDLEJOB_SIZES) {
    say(`PaddleJobs: ${n} × ${PODS_PER_JOB} pods …`);
    pj.push(await paddleJobs(n));
  }
  const sj: Point[] = [];
  for (const n of SAMPLEJOB_SIZES) {
    say(`SampleJobs: ${n} against one SampleSet …`);
    sj.push(await sampleJobs(n));
  }
  if (pj.length) report(`PaddleJobs (${PODS_PER_JOB} pods each) → all Running`, 'per object = per PaddleJob', pj);
  if (sj.length) report('rmr SampleJobs on one SampleSet → all Succeeded', 'per object = per SampleJob', sj);
  say(
    `load average at the end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
