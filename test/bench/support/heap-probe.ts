// TEMPORARY diagnostic (not committed): where the operator's memory goes with N SampleSets + SampleJobs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeApi } from '../../../src/kube/kube-api.js';
import { ControlPlane } from '../../harness/control-plane.js';
import { toolchainBinDir } from '../../harness/toolchain.js';
import { sleep } from '../../harness/util.js';
import { startCheapRuntimes } from './cheap-runtimes.js';
import { PhaseClock, SAMPLEJOB, SAMPLESET, createAll, createVolumeSecret, rmrJob, sampleSet } from './fleet.js';
import { mib, startOperatorProcess } from './operator-process.js';
import { NODE, POD, PV, PVC, SECRET, SERVICE, STATEFULSET, CONFIGMAP } from '../../../src/api/constants.js';

const N = Number(process.argv[2] ?? 200);
const NS = 'probe';
const binDir = await toolchainBinDir();
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-heap-probe-'));
const cp = await ControlPlane.start({
  runDir,
  binDir,
  crdsDir: 'crds',
  nodes: Math.max(3, Math.ceil((N * 1.2) / 110)),
  log: () => undefined,
});
const api = new KubeApi(cp.kubeConfig());
await cp.ensureNamespace(NS);
const op = await startOperatorProcess(cp.kubeconfigPath, [], ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${runDir}`]);
const runtimes = await startCheapRuntimes(api, NS);
try {
  await createVolumeSecret(api, NS);
  const sets = new PhaseClock(api, SAMPLESET, NS, ['Ready']);
  const jobs = new PhaseClock(api, SAMPLEJOB, NS, ['Succeeded', 'Failed']);
  await sets.start();
  await jobs.start();
  await createAll(
    api,
    SAMPLESET,
    Array.from({ length: N }, (_, i) => sampleSet(NS, `ss-${i}`)),
  );
  await sets.waitForCount(N, 1_800_000);
  await createAll(
    api,
    SAMPLEJOB,
    Array.from({ length: N }, (_, i) => rmrJob(NS, `sj-${i}`, `ss-${i}`)),
  );
  await jobs.waitForCount(N, 1_800_000);
  await sleep(5000);
  process.stdout.write(`rss ${mib(op.rssBytes())} peak ${mib(op.peakRssBytes)}\n`);
  for (const t of [POD, SERVICE, STATEFULSET, PVC, PV, SECRET, NODE, SAMPLESET, SAMPLEJOB, CONFIGMAP]) {
    const r = await api.list(t);
    let bytes = 0;
    for (const o of r.items) {
      delete o.metadata?.managedFields;
      bytes += JSON.stringify(o).length;
    }
    process.stdout.write(
      `${t.plural.padEnd(24)} ${String(r.items.length).padStart(6)} objects ${(bytes / 1024).toFixed(0).padStart(8)} KiB json\n`,
    );
  }
  const metrics = await op.metrics();
  for (const l of metrics.split('\n'))
    if (/^paddle_operator_(nodejs_heap|nodejs_external|process_resident|nodejs_active)/.test(l)) process.stdout.write(l + '\n');
  process.stdout.write(`metrics text ${(metrics.length / 1024).toFixed(0)} KiB, ${metrics.split('\n').length} lines\n`);
  op.proc.kill('SIGUSR2');
  await sleep(20000);
  for (const f of fs.readdirSync(runDir).filter((f) => f.endsWith('.heapsnapshot'))) {
    fs.copyFileSync(path.join(runDir, f), `/tmp/probe-${N}.heapsnapshot`);
    process.stdout.write(`snapshot /tmp/probe-${N}.heapsnapshot\n`);
  }
  await sets.stop();
  await jobs.stop();
} finally {
  await op.stop();
  await runtimes.stop();
  await cp.stop();
  fs.rmSync(runDir, { recursive: true, force: true });
}
