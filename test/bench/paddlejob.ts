// Time for N PaddleJobs (default 100) of 2 PS + 4 workers to reach phase Running on the local
// control plane (real kube-scheduler placing the pods on KWOK nodes), and the operator's cost.
// Baseline measured in the same run: the same number of bare pods created straight through the API
// (same shape, 32 creations in flight) until all are Running — the floor set by apiserver,
// scheduler and KWOK; the operator's overhead is the ratio. The operator is the real
// `paddle-operator` process (all three operators, the entry point's Node flags), so its memory,
// CPU time and API requests are its own.
//   npm run bench -- paddlejob          (or: npm run build && node dist/test/bench/paddlejob.js [jobs] [concurrency])
// Not a test; the toolchain must be built (test/toolchain/build.sh).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeApi } from '../../src/kube/kube-api.js';
import { ControlPlane } from '../harness/control-plane.js';
import { toolchainBinDir } from '../harness/toolchain.js';
import { runMain } from '../harness/util.js';
import { describeStart, mib, startOperatorProcess, type OperatorProcessHandle } from './support/operator-process.js';
import { PODS_PER_JOB, PS, WORKERS, bareBaseline, nodesFor, podWatch, quantile, runPaddleJobs } from './support/paddlejobs.js';

const NS = 'bench-paddlejob';
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const jobs = Math.max(1, Number(process.argv[2] ?? 100));
  const concurrency = Math.max(1, Number(process.argv[3] ?? 4));
  const pods = jobs * PODS_PER_JOB;
  const nodes = nodesFor(pods);
  const binDir = await toolchainBinDir();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-paddlejob-'));
  say(`starting a control plane with ${nodes} KWOK nodes in ${runDir} …`);
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', nodes, log: () => undefined });
  let op: OperatorProcessHandle | undefined;
  try {
    await cp.ensureNamespace(NS);
    const api = new KubeApi(cp.kubeConfig());
    const podInformer = await podWatch(api, NS);

    const baselineMs = await bareBaseline(cp, api, podInformer, NS, jobs);
    say(`baseline: ${pods} bare pods created and Running in ${secs(baselineMs)}`);

    op = await startOperatorProcess(cp.kubeconfigPath, [`--concurrency=${concurrency}`]);
    const r = await runPaddleJobs(api, podInformer, NS, jobs, op);
    await podInformer.stop();

    say(
      `operator: ${jobs} PaddleJobs (${PS} PS + ${WORKERS} workers, ${pods} pods), reconcile concurrency ${concurrency}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`,
    );
    say(`  all ${pods} pods created after       ${secs(r.podsCreatedMs)}`);
    say(`  all ${pods} pods Running after       ${secs(r.podsRunningMs)}`);
    say(
      `  all ${jobs} jobs phase Running after  ${secs(r.allRunningMs)}  (${(r.allRunningMs / baselineMs).toFixed(2)}× the bare-pod baseline of ${secs(baselineMs)})`,
    );
    const l = r.latencies;
    say(
      `  per job, create → Running:         median ${secs(quantile(l, 0.5))}, p95 ${secs(quantile(l, 0.95))}, max ${secs(l[l.length - 1])}`,
    );
    say(
      `  API load from the operator:        ${r.requests} requests (${(r.requests / jobs).toFixed(1)} per job), ${r.reconciles} reconciles, ${r.jobUpdates} writes to PaddleJobs`,
    );
    say(`  operator CPU:                      ${r.cpuSeconds.toFixed(1)} s (${((r.cpuSeconds / jobs) * 1000).toFixed(0)} ms per job)`);
    say(`  operator memory (${describeStart(op)}): idle RSS ${mib(r.idleRss)}, peak RSS ${mib(r.peakRss)}`);
  } finally {
    await op?.stop();
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

runMain(main);
