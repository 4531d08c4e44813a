// `npm run local` — the README's main job: a local control plane (in this process, in the
// foreground), the CRDs installed, the simulated cache nodes, the operator running against it,
// and the example SampleSet applied; `kubectl get samplesets` is printed every 10 s. Ctrl-C stops
// everything (operator first, then the simulated nodes, then the cluster).
// The example's Secrets and source are replaced by local ones (see applyExample).
// Run directory: .cluster/local (certificates, etcd data, component logs).
// `npm run local -- --real-node` runs the same job on a real node instead (local-real-node.ts).
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { SampleSet } from '../../src/api/sampleset.js';
import { startCacheNodeSimulator, startS3Gateway, type CacheNodeSimulator, type S3Gateway } from './cache-nodes.js';
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
let gateway: S3Gateway | undefined;
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
    if (gateway) await gateway.stop();
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

/**
 * The example SampleSet (kustomize/samples/sampleset.yaml) made to work on this machine: its
 * "remote" source is a local S3 endpoint (a JuiceFS gateway) holding a small generated dataset,
 * its JuiceFS volume uses SQLite metadata and local object storage in the run directory, and the
 * KWOK nodes carry the label its nodeAffinity asks for. Everything else is the sample as written.
 */
async function applyExample(cp: ControlPlane): Promise<void> {
  const file = path.join(samplesDir, 'sampleset.yaml');
  if (!fs.existsSync(file)) {
    log(`no example SampleSet (${path.relative(root, file)}); skipping`);
    return;
  }
  const sample = YAML.parse(fs.readFileSync(file, 'utf8')) as SampleSet;
  const name = sample.metadata.name!;
  gateway = await startS3Gateway({ dir: path.join(runDir, 's3'), juicefsBin: path.join(cp.binDir, 'juicefs'), log });
  const data = gateway.put('datasets', demoDataset());
  const prefix = 'imagenet/demo/';
  log(`local S3 source ${gateway.uri('datasets', prefix)}: ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(1)} MiB`);

  for (const n of cp.nodeNames) await cp.kubectl(['label', 'node', n, 'paddlepaddle.org/cache-node=true', '--overwrite']);
  const volumeDir = path.join(runDir, 'volumes', name);
  fs.mkdirSync(volumeDir, { recursive: true });
  const secrets = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: sample.spec.secretRef.name, namespace: 'default' },
      stringData: {
        name,
        metaurl: `sqlite3://${path.join(volumeDir, 'meta.db')}`,
        storage: 'file',
        bucket: path.join(volumeDir, 'objects') + '/',
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: sample.spec.source?.secretRef?.name ?? `${name}-source`, namespace: 'default' },
      stringData: { 'access-key': gateway.accessKey, 'secret-key': gateway.secretKey },
    },
  ];
  sample.metadata.namespace = 'default';
  sample.spec.source = { uri: gateway.uri('datasets', prefix), secretRef: { name: secrets[1].metadata.name } };
  const manifest = [...secrets, sample].map((o) => YAML.stringify(o)).join('---\n');
  const res = await cp.kubectl(['apply', '-f', '-'], { input: manifest, allowFail: true });
  if (res.code === 0) log(`applied the example SampleSet (with local Secrets and source):\n${res.stdout.trimEnd()}`);
  else log(`kubectl apply failed:\n${res.stderr.trimEnd()}`);
}

/** A few hundred files, some nested, some large: about 40 MiB. */
function demoDataset(): Record<string, number> {
  const objects: Record<string, number> = {};
  for (let c = 0; c < 4; c++)
    for (let i = 0; i < 60; i++) objects[`imagenet/demo/train/n0${c}/img_${i}.jpg`] = 20_000 + ((i * 7919) % 90_000);
  for (let i = 0; i < 20; i++) objects[`imagenet/demo/val/img_${i}.jpg`] = 50_000;
  objects['imagenet/demo/train_list.txt'] = 12_000;
  objects['imagenet/demo/shards/big-0.bin'] = 8 * 2 ** 20;
  objects['imagenet/demo/shards/big-1.bin'] = 8 * 2 ** 20;
  return objects;
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
  await applyExample(cp);

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

if (process.argv.includes('--real-node')) {
  // the same job on a real node (kubelet, containerd, the JuiceFS CSI driver, the project image)
  void import('./local-real-node.js').then((m) => m.runLocalRealNode());
} else {
  main().catch((err: unknown) => {
    log(`error: ${errorMessage(err)}`);
    void shutdown('error', 1);
  });
}
