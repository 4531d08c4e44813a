// `npm run local` — the README's main job: a local control plane (in this process, in the
// foreground), the CRDs installed, the simulated cache nodes, the operator running against it,
// and the example SampleSet applied; `kubectl get samplesets` is printed every 10 s. Ctrl-C stops
// everything (operator first, then the simulated nodes, then the cluster).
// Run directory: .cluster/local (certificates, etcd data, component logs).
import fs from 'node:fs';
import path from 'node:path';
import { startCacheNodeSimulator, type CacheNodeSimulator } from './cache-nodes.js';
import { ControlPlane } from './control-plane.js';
import { ManagedProcess } from './process.js';
import { errorMessage, repoRoot } from './util.js';

const root = repoRoot();
const runDir = path.join(root, '.cluster', 'local');
const operatorEntry = path.join(root, 'dist', 'src', 'bin', 'paddle-operator.js');
const samplesDir = path.join(root, 'kustomize', 'samples');
const STATUS_INTERVAL_MS = 10_000;

const log = (msg: string): void => {
  process.stderr.write(`[local] ${msg}\n`);
};

let cluster: ControlPlane | undefined;
let simulator: CacheNodeSimulator | undefined;
let operator: ManagedProcess | undefined;
let statusTimer: NodeJS.Timeout | undefined;
let shuttingDown = false;

async function shutdown(reason: string, code = 0): Promise<never> {
  if (shuttingDown) {
    log('second signal: exiting now (child processes are killed on exit)');
    process.exit(130);
  }
  shuttingDown = true;
  log(`${reason}: stopping`);
  if (statusTimer) clearInterval(statusTimer);
  try {
    if (operator) {
      log('stopping the operator');
      await operator.stop(10_000);
    }
    if (simulator) await simulator.stop();
    if (cluster) {
      log('stopping the control plane');
      await cluster.stop();
    }
  } catch (err) {
    log(`error while stopping: ${errorMessage(err)}`);
    code = code || 1;
  }
  log('stopped');
  process.exit(code);
}

function startOperator(cp: ControlPlane): void {
  if (!fs.existsSync(operatorEntry)) {
    log(`${path.relative(root, operatorEntry)} does not exist yet (the operator entry point is not built), so no operator runs.`);
    log('The cluster stays up; Ctrl-C to stop.');
    return;
  }
  log(`starting the operator: node ${path.relative(root, operatorEntry)} --log-format=text`);
  operator = ManagedProcess.spawn({
    name: 'paddle-operator',
    bin: process.execPath,
    args: ['--enable-source-maps', operatorEntry, '--log-format=text'],
    env: { ...process.env, KUBECONFIG: cp.kubeconfigPath },
    cwd: root,
  });
  const proc = operator;
  void proc.exited.then(() => {
    if (!shuttingDown) log(`the operator exited (${proc.describeExit()}); the cluster stays up; Ctrl-C to stop.`);
  });
}

async function applySamples(cp: ControlPlane): Promise<void> {
  const kustomization = ['kustomization.yaml', 'kustomization.yml'].some((f) => fs.existsSync(path.join(samplesDir, f)));
  const sampleSet = path.join(samplesDir, 'sampleset.yaml');
  let args: string[];
  if (kustomization) args = ['apply', '-k', samplesDir];
  else if (fs.existsSync(sampleSet)) args = ['apply', '-f', sampleSet];
  else {
    log(`no example SampleSet (${path.relative(root, sampleSet)}) yet; skipping`);
    return;
  }
  const res = await cp.kubectl(args, { allowFail: true });
  if (res.code === 0) log(`applied the samples:\n${res.stdout.trimEnd()}`);
  else log(`kubectl ${args.join(' ')} failed:\n${res.stderr.trimEnd()}`);
}

async function printStatus(cp: ControlPlane): Promise<void> {
  const res = await cp.kubectl(['get', 'samplesets', '--all-namespaces', '-o', 'wide'], { allowFail: true, timeoutMs: 9000 });
  const body = res.code === 0 ? res.stdout.trimEnd() || '(no SampleSets)' : `(kubectl get samplesets: ${res.stderr.trim()})`;
  process.stdout.write(`\n${new Date().toLocaleTimeString()} kubectl get samplesets -A\n${body}\n`);
}

async function main(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));

  fs.mkdirSync(runDir, { recursive: true });
  // A fresh cluster each time; start() also kills whatever a crashed earlier run left in runDir.
  cluster = await ControlPlane.start({ runDir, crdsDir: 'crds', log });
  const cp = cluster;
  if (shuttingDown) return;
  simulator = await startCacheNodeSimulator(cp);
  startOperator(cp);
  await applySamples(cp);

  log('');
  log('The cluster is yours from another shell:');
  log(`  export KUBECONFIG=${cp.kubeconfigPath} PATH=${cp.binDir}:$PATH`);
  log(`  kubectl get samplesets,pods -A      (component logs: ${path.relative(root, cp.logDir)}/)`);
  log('Ctrl-C stops everything.');
  await printStatus(cp);
  statusTimer = setInterval(() => {
    if (!shuttingDown) void printStatus(cp);
  }, STATUS_INTERVAL_MS);
}

main().catch((err: unknown) => {
  log(`error: ${errorMessage(err)}`);
  void shutdown('error', 1);
});
