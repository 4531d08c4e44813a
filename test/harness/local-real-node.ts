// `npm run local -- --real-node`: the main job on a REAL node instead of KWOK and simulated cache
// nodes. A control plane bound to a harness bridge, one real node (kubelet, containerd, kube-proxy,
// the JuiceFS CSI driver) in namespaces of its own, the project image built from the Dockerfile and
// imported into the node, the operator installed with `kubectl apply -k` (an overlay of
// kustomize/default that only sets that image), and the example SampleSet applied with a local S3
// source. Costs on top of `npm run local`: the node toolchain (≈12 min cold, cached after) and the
// image (≈15 min cold, seconds when only src/ changed). Ctrl-C stops everything and leaves nothing
// on the machine.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { SampleSet } from '../../src/api/sampleset.js';
import { writeImageOverlay } from './kustomize-overlay.js';
import { realNodeEnv, type RealNodeEnv } from './real-node-world.js';
import { errorMessage, repoRoot, waitFor } from './util.js';

const STATUS_INTERVAL_MS = 10_000;
const log = (msg: string): void => {
  process.stderr.write(`[local] ${msg}\n`);
};

let env: RealNodeEnv | undefined;
let timer: NodeJS.Timeout | undefined;
let stopping = false;

async function shutdown(reason: string, code = 0): Promise<never> {
  if (stopping) process.exit(130);
  stopping = true;
  log(`${reason}: stopping`);
  if (timer) clearInterval(timer);
  try {
    await env?.stop();
  } catch (err) {
    log(`error while stopping: ${errorMessage(err)}`);
    code = code || 1;
  }
  log('stopped');
  process.exit(code);
}

/** The example SampleSet with a local source and volume; one partition (there is one node), disk cache only. */
async function applyExample(e: RealNodeEnv): Promise<void> {
  const sample = YAML.parse(fs.readFileSync(path.join(repoRoot(), 'kustomize', 'samples', 'sampleset.yaml'), 'utf8')) as SampleSet;
  const name = sample.metadata.name!;
  const data = e.gw.put(
    'datasets',
    Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`demo/train/img_${i}.jpg`, 20_000 + ((i * 7919) % 90_000)])),
  );
  log(`local S3 source ${e.gw.uri('datasets', 'demo/')}: ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(1)} MiB`);
  await e.cp.kubectl(['label', 'node', e.node.name, 'paddlepaddle.org/cache-node=true', '--overwrite']);
  const sourceSecret = sample.spec.source?.secretRef?.name ?? `${name}-source`;
  const secrets = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: sample.spec.secretRef.name, namespace: 'default' },
      stringData: e.volumeSecret(name),
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: sourceSecret, namespace: 'default' },
      stringData: { 'access-key': e.gw.accessKey, 'secret-key': e.gw.secretKey },
    },
  ];
  sample.metadata.namespace = 'default';
  sample.spec.partitions = 1;
  sample.spec.source = { uri: e.gw.uri('datasets', 'demo/'), secretRef: { name: sourceSecret } };
  if (sample.spec.cache?.levels) sample.spec.cache.levels = sample.spec.cache.levels.filter((l) => l.mediumType !== 'MEM');
  const res = await e.cp.kubectl(['apply', '-f', '-'], {
    input: [...secrets, sample].map((o) => YAML.stringify(o)).join('---\n'),
    allowFail: true,
  });
  log(res.code === 0 ? `applied the example SampleSet:\n${res.stdout.trimEnd()}` : `kubectl apply failed:\n${res.stderr.trimEnd()}`);
}

async function printStatus(e: RealNodeEnv): Promise<void> {
  const res = await e.cp.kubectl(['get', 'samplesets,pods', '-A', '-o', 'wide'], { allowFail: true, timeoutMs: 9000 });
  process.stdout.write(
    `\n${new Date().toLocaleTimeString()} kubectl get samplesets,pods -A\n${(res.code === 0 ? res.stdout : res.stderr).trimEnd()}\n`,
  );
}

export async function runLocalRealNode(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));
  try {
    env = await realNodeEnv();
    const e = env;
    const overlay = writeImageOverlay(e.image);
    log(`installing the operator: kubectl apply --server-side -k ${path.relative(repoRoot(), overlay)} (image ${e.image})`);
    await e.cp.kubectl(['apply', '--server-side', '-k', overlay]);
    fs.rmSync(overlay, { recursive: true, force: true });
    await waitFor(
      'the operator Deployment available',
      async () => {
        const r = await e.cp.kubectl(
          ['-n', 'paddle-system', 'get', 'deployment', 'paddle-operator', '-o', 'jsonpath={.status.availableReplicas}'],
          { allowFail: true },
        );
        return Number(r.stdout) > 0;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    await applyExample(e);
    log('');
    log('The cluster is yours from another shell:');
    log(`  export KUBECONFIG=${e.cp.kubeconfigPath} PATH=${e.cp.binDir}:$PATH`);
    log(`  kubectl get samplesets,pods -A      (node logs: ${path.relative(repoRoot(), e.node.logDir)}/)`);
    log('Ctrl-C stops everything.');
    await printStatus(e);
    timer = setInterval(() => {
      if (!stopping) void printStatus(e);
    }, STATUS_INTERVAL_MS);
  } catch (err) {
    log(`error: ${errorMessage(err)}`);
    await shutdown('error', 1);
  }
}
