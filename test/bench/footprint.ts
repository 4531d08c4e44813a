// The operator's memory: the real `paddle-operator` process (all three operators, started with the
// entry point's Node flags as the image starts it) against a local control plane.
//  1. idle: caches synced on an empty cluster (KWOK nodes only), RSS after it settles;
//  2. N SampleSets (one partition, no initial sync; runtime pods served cheaply in this process by
//     the real runtime HTTP server over an instant engine) until all are Ready, then one rmr
//     SampleJob each until all Succeeded: peak RSS throughout, and RSS once everything is done.
// Baseline measured in the same run: a bare `node` process (the runtime's own floor).
// PADDLE_BENCH_HOLD_SECONDS keeps the operator and its objects alive that long at the end (heap snapshots).
//   npm run bench -- footprint        (or: npm run build && node dist/test/bench/footprint.js [N])
// Not a test; the toolchain must be built (test/toolchain/build.sh).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeApi } from '../../src/kube/kube-api.js';
import { ControlPlane } from '../harness/control-plane.js';
import { toolchainBinDir } from '../harness/toolchain.js';
import { sleep } from '../harness/util.js';
import { startCheapRuntimes } from './support/cheap-runtimes.js';
import { PhaseClock, SAMPLEJOB, SAMPLESET, createAll, createVolumeSecret, rmrJob, sampleSet } from './support/fleet.js';
import { describeStart, metricBreakdown, mib, peakParts, procMemory, startOperatorProcess } from './support/operator-process.js';

const NS = 'bench-footprint';
const N = Math.max(1, Number(process.argv[2] ?? 1000));
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** RSS of `node -e` waiting on a timer: what any Node process costs before our code. */
async function bareNodeRss(flags: string[], env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [...flags, '-e', 'setTimeout(() => {}, 60000)'], {
    stdio: 'ignore',
    env: { ...process.env, ...env },
  });
  await sleep(1500);
  const rss = procMemory(child.pid!).rss;
  child.kill('SIGKILL');
  return rss;
}

/** Median of RSS samples taken every 250 ms for `ms`. */
async function settledRss(rss: () => number, ms: number): Promise<number> {
  const samples: number[] = [];
  for (let t = 0; t < ms; t += 250) {
    samples.push(rss());
    await sleep(250);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function main(): Promise<void> {
  const nodes = Math.max(3, Math.ceil((N * 1.2) / 110));
  const binDir = await toolchainBinDir();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-footprint-'));
  say(`starting a control plane with ${nodes} KWOK nodes in ${runDir} …`);
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', nodes, log: () => undefined });
  const api = new KubeApi(cp.kubeConfig());
  let op: Awaited<ReturnType<typeof startOperatorProcess>> | undefined;
  let runtimes: Awaited<ReturnType<typeof startCheapRuntimes>> | undefined;
  const clocks: PhaseClock<never>[] = [];
  try {
    await cp.ensureNamespace(NS);
    op = await startOperatorProcess(cp.kubeconfigPath);
    const bare = await bareNodeRss(op.nodeFlags, op.env);
    await sleep(5000);
    const idle = await settledRss(() => op!.rssBytes(), 5000);
    const idleCpu = op.cpuSeconds();

    runtimes = await startCheapRuntimes(api, NS);
    await createVolumeSecret(api, NS);
    const sets = new PhaseClock(api, SAMPLESET, NS, ['Ready']);
    const jobs = new PhaseClock(api, SAMPLEJOB, NS, ['Succeeded', 'Failed']);
    clocks.push(sets as never, jobs as never);
    await sets.start();
    await jobs.start();
    op.resetPeak();
    const requests0 = await op.kubeRequests();
    const t0 = performance.now();
    await createAll(
      api,
      SAMPLESET,
      Array.from({ length: N }, (_, i) => sampleSet(NS, `ss-${i}`)),
    );
    const setsReady = await sets.waitForCount(N, 1_800_000);
    const t1 = performance.now();
    await createAll(
      api,
      SAMPLEJOB,
      Array.from({ length: N }, (_, i) => rmrJob(NS, `sj-${i}`, `ss-${i}`)),
    );
    const jobsDone = await jobs.waitForCount(N, 1_800_000);
    const failed = jobs.objects().filter((j) => (j as { status?: { phase?: string } }).status?.phase === 'Failed').length;
    const peak = op.peakRssBytes;
    const requests = (await op.kubeRequests()) - requests0;
    await sleep(5000);
    const after = await settledRss(() => op!.rssBytes(), 5000);

    say(`paddle-operator ${describeStart(op)}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`);
    say(`  bare node process:                      ${mib(bare)}`);
    say(
      `  idle, caches synced, empty cluster:     ${mib(idle)}  (${(idle / bare).toFixed(2)}× bare node; CPU ${idleCpu.toFixed(2)} s to start)`,
    );
    say(`  ${N} SampleSets Ready after              ${((setsReady - t0) / 1000).toFixed(1)} s`);
    say(`  ${N} SampleJobs Succeeded after          ${((jobsDone - t1) / 1000).toFixed(1)} s  (${failed} Failed)`);
    say(`  peak while they ran:                    ${mib(peak)}  (${(peak / bare).toFixed(2)}× bare node)`);
    say(`    made of: ${peakParts(op.peakBreakdown)}`);
    say(`  watching ${N} + ${N}, settled:           ${mib(after)}`);
    say(`  API requests: ${requests} (${(requests / N).toFixed(1)} per SampleSet + SampleJob pair); CPU ${op.cpuSeconds().toFixed(1)} s`);
    const scrape = await op.metrics();
    const kinds = metricBreakdown(scrape, 'paddle_operator_kube_requests_total');
    say(
      `  requests per pair by kind: ${kinds
        .filter(([, n]) => n / N >= 0.05)
        .map(([k, n]) => `${k} ${(n / N).toFixed(1)}`)
        .join(', ')}`,
    );
    // what one more Prometheus scrape with every object's series in it costs (the request counts
    // above were read from /metrics too, so "settled" already follows a scrape)
    const series = scrape.split('\n').filter((l) => l && !l.startsWith('#')).length;
    const scraped = await settledRss(() => op!.rssBytes(), 5000);
    say(`  after another /metrics scrape (${series} series): ${mib(scraped)}`);
    // a look inside while everything is live: e.g. PADDLE_BENCH_HOLD_SECONDS=120 with
    // PADDLE_BENCH_NODE_FLAGS="… --heapsnapshot-signal=SIGUSR2", then kill -USR2 <pid>
    const hold = Number(process.env.PADDLE_BENCH_HOLD_SECONDS ?? 0);
    if (hold > 0) {
      say(`  holding ${hold} s with everything live: operator pid ${op.pid}`);
      await sleep(hold * 1000);
    }
  } finally {
    for (const c of clocks) await c.stop();
    await op?.stop();
    await runtimes?.stop();
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
