// Admission latency of the pod cache-affinity webhook: N pod creations (default 1,000, 32 in
// flight) through the real kube-apiserver, which calls the webhook over TLS for each, in a
// namespace that enables it. The webhook runs in a child process (the production
// PodCacheAffinityWebhook: informer, directory certificate source, HTTPS server), which times each
// review from its arrival to its answer — the figure the target (p99 < 10 ms) is about.
// Baseline measured in the same run: the same creations in a namespace without the label (the
// apiserver does not call the webhook); the ratio of the client-side latencies is the webhook's
// cost to whoever creates pods. Every pod mounts a SampleSet's claim (a Ready SampleSet whose
// status is written here, no runtime) and carries a scheduling gate, so only admission is measured.
// A second pass repeats the creations with the webhook's process ahead of the control plane for the
// CPU (nice -10), as a CPU request gives the operator's container on a busy node: on a small
// machine the tail of the first pass is the process waiting for a CPU the apiserver holds.
//   npm run bench -- admission          (or: npm run build && node dist/test/bench/admission.js [pods] [in-flight])
// Not a test; the toolchain must be built (test/toolchain/build.sh).
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { POD, SAMPLESET } from '../../src/api/constants.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import { InformerFactory } from '../../src/kube/informer-factory.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { mapSettled } from '../../src/operators/paddlejob/concurrency.js';
import { CACHE_AFFINITY_KEY, CACHE_AFFINITY_REASON_ANNOTATION } from '../../src/webhook/constants.js';
import { DirectoryCertificateSource } from '../../src/webhook/directory-certificate-source.js';
import { reviewPod } from '../../src/webhook/pod-review.js';
import { PodCacheAffinityWebhook } from '../../src/webhook/pod-webhook.js';
import { claimedSampleSets } from '../../src/webhook/sampleset-lookup.js';
import { registerPodWebhook } from '../harness/admission-webhook.js';
import { ControlPlane } from '../harness/control-plane.js';
import { issueServingCertificate } from '../harness/pki.js';
import { toolchainBinDir } from '../harness/toolchain.js';
import { freePorts, runMain, waitFor } from '../harness/util.js';

const WITH = 'bench-admission';
const WITHOUT = 'bench-admission-baseline';
const WARMUP = 50;
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

// ---- child: the webhook ------------------------------------------------------------------------

async function webhookChild(kubeconfig: string, certDir: string, port: number): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const logger = createLogger({ level: 'error' });
  const metrics = new Metrics();
  const informers = new InformerFactory(new KubeApi(kc), logger, metrics, '');
  const certificates = new DirectoryCertificateSource(certDir, { logger });
  let durations: Array<[number, string]> = [];
  const webhook = new PodCacheAffinityWebhook({
    informers,
    engines: installedEngines(),
    certificates,
    logger,
    metrics,
    observe: (seconds, outcome) => durations.push([seconds * 1000, outcome]),
  });
  await webhook.start({ host: '127.0.0.1', port });
  // how late the process's event loop ran: time a review waited for the CPU, not spent in it
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const figures = (): { durations: Array<[number, string]>; loop: number[] } => ({
    durations,
    loop: [50, 99, 100].map((p) => loopDelay.percentile(p) / 1e6),
  });
  process.on('message', (msg) => {
    if (msg === 'reset') {
      durations = [];
      loopDelay.reset();
      process.send!('reset-done');
    } else if (msg === 'report') {
      process.send!(figures());
      durations = [];
      loopDelay.reset();
    } else if (msg === 'stop') {
      void (async () => {
        await webhook.stop();
        await informers.stopAll();
        process.exit(0);
      })();
    }
  });
  process.send!('ready');
}

// ---- parent ------------------------------------------------------------------------------------

function pod(ns: string): V1Pod {
  return {
    metadata: { generateName: 'bench-', namespace: ns },
    spec: {
      schedulingGates: [{ name: 'paddle.bench/admission-only' }],
      containers: [{ name: 'main', image: 'registry.invalid/paddle-bench/none:0', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'imagenet' } }],
    },
  };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const ms = (v: number): string => `${v.toFixed(2)} ms`;

/** Creates `count` pods in `ns`, `inFlight` at a time; returns each creation's latency (sorted) and the wall time. */
async function createPods(
  api: KubeApi,
  ns: string,
  count: number,
  inFlight: number,
): Promise<{ sorted: number[]; wallMs: number; pods: V1Pod[] }> {
  const t0 = performance.now();
  const results = await mapSettled(
    Array.from({ length: count }, () => ns),
    inFlight,
    async (n) => {
      const t = performance.now();
      const created = await api.create<V1Pod>(POD, pod(n));
      return { ms: performance.now() - t, created };
    },
  );
  const wallMs = performance.now() - t0;
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const ok = results.map((r) => (r as PromiseFulfilledResult<{ ms: number; created: V1Pod }>).value);
  return { sorted: ok.map((r) => r.ms).sort((a, b) => a - b), wallMs, pods: ok.map((r) => r.created) };
}

/** Milliseconds of CPU one review takes alone (parse, decide, patch, serialise; no I/O, no queue) for a pod as the apiserver stored it. */
function reviewCost(stored: V1Pod, sampleSet: SampleSet, runs = 5000): number {
  const engines = installedEngines();
  const lookup = {
    synced: () => true,
    claimed: (_ns: string, claims: readonly string[]) => claimedSampleSets(claims, [sampleSet], engines),
  };
  const request = { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: WITH, object: stored };
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
  const once = (): string => JSON.stringify(reviewPod(JSON.parse(body), lookup).review);
  for (let i = 0; i < runs / 10; i++) once();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) once();
  return (performance.now() - t0) / runs;
}

async function readySampleSet(api: KubeApi, ns: string): Promise<void> {
  await api.create<SampleSet>(SAMPLESET, {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name: 'imagenet', namespace: ns },
    spec: { partitions: 2, secretRef: { name: 'jfs' }, noSync: true },
  });
  const nodes = [0, 1].map((i) => ({ partition: i, pod: `imagenet-runtime-${i}`, node: `kwok-node-${i}`, ready: true }));
  await api.patch(SAMPLESET, 'imagenet', ns, { status: { phase: 'Ready', nodes } }, 'merge', { subresource: 'status' });
}

interface ChildFigures {
  durations: Array<[number, string]>;
  loop: number[];
}

/** The webhook's timings since the last report (the child starts afresh after each). */
async function childFigures(child: { proc?: ReturnType<typeof fork>; messages: unknown[] }): Promise<ChildFigures> {
  child.messages.length = 0;
  child.proc!.send('report');
  return waitFor(
    'the webhook figures',
    () => child.messages.find((m): m is ChildFigures => typeof m === 'object' && m !== null && 'durations' in m),
    { timeoutMs: 60_000, intervalMs: 20 },
  );
}

/** Prints one pass's review timings and event-loop lateness; returns how many reviews it timed. */
function reportInside(name: string, f: ChildFigures): number {
  const inside = f.durations.map(([d]) => d).sort((a, b) => a - b);
  const outcomes = f.durations.reduce<Record<string, number>>((acc, [, o]) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});
  const q = (p: number): string => ms(quantile(inside, p));
  say(`  ${name} (${inside.length} reviews, ${JSON.stringify(outcomes)}):`);
  say(`    p50 ${q(0.5)}   p90 ${q(0.9)}   p95 ${q(0.95)}   p99 ${q(0.99)}   max ${ms(inside[inside.length - 1])}`);
  say(`    target p99 < 10 ms: ${quantile(inside, 0.99) < 10 ? 'met' : 'MISSED'}`);
  const [loop50, loop99, loopMax] = f.loop;
  say(
    `    its event loop ran late by p50 ${ms(loop50)}, p99 ${ms(loop99)}, max ${ms(loopMax)} (waiting for a CPU, or for the reviews ahead)`,
  );
  return inside.length;
}

async function main(): Promise<void> {
  const count = Math.max(1, Number(process.argv[2] ?? 1000));
  const inFlight = Math.max(1, Number(process.argv[3] ?? 32));
  const binDir = await toolchainBinDir();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'paddle-bench-admission-'));
  say(`starting a control plane in ${runDir} …`);
  const cp = await ControlPlane.start({ runDir, binDir, crdsDir: 'crds', nodes: 1, log: () => undefined });
  const child = { proc: undefined as ReturnType<typeof fork> | undefined, messages: [] as unknown[] };
  try {
    const api = new KubeApi(cp.kubeConfig());
    await cp.ensureNamespace(WITH, { [CACHE_AFFINITY_KEY]: 'enabled' });
    await cp.ensureNamespace(WITHOUT);
    for (const ns of [WITH, WITHOUT]) await readySampleSet(api, ns);
    const certDir = path.join(runDir, 'webhook-certs');
    const { caCert } = await issueServingCertificate(certDir, ['IP:127.0.0.1']);
    const [port] = await freePorts(1);
    child.proc = fork(fileURLToPath(import.meta.url), ['--webhook', cp.kubeconfigPath, certDir, String(port)], { stdio: 'inherit' });
    child.proc.on('message', (m) => child.messages.push(m));
    await waitFor('the webhook to start', () => child.messages.includes('ready'), { timeoutMs: 60_000, intervalMs: 20 });
    await registerPodWebhook(cp, { name: 'pod-cache-affinity-bench', url: `https://127.0.0.1:${port}/mutate-pods`, caCert });
    await waitFor(
      'the apiserver to call the webhook',
      async () => {
        const { pods } = await createPods(api, WITH, 1, 1);
        return pods[0].metadata?.annotations?.[CACHE_AFFINITY_REASON_ANNOTATION] !== undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    for (const ns of [WITHOUT, WITH]) await createPods(api, ns, WARMUP, inFlight);
    child.proc.send('reset');
    await waitFor('the webhook to reset its figures', () => child.messages.includes('reset-done'), { timeoutMs: 10_000, intervalMs: 20 });

    const baseline = await createPods(api, WITHOUT, count, inFlight);
    const withWebhook = await createPods(api, WITH, count, inFlight);
    const shared = await childFigures(child);
    // the same creations again with the webhook's process ahead of the control plane for the CPU,
    // as a CPU request gives a container on a busy node (here: nice -10 against the apiserver's 0)
    os.setPriority(child.proc.pid!, -10);
    const prioritised = await createPods(api, WITH, count, inFlight);
    const ahead = await childFigures(child);
    const patched = [...withWebhook.pods, ...prioritised.pods].filter(
      (p) => p.metadata?.annotations?.[CACHE_AFFINITY_REASON_ANNOTATION],
    ).length;

    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    say(
      `${count} pod creations per pass, ${inFlight} in flight, ${os.cpus().length} CPUs (load average ${load}); every pod mounts a Ready SampleSet's claim`,
    );
    say(`inside the webhook (pods patched ${patched}/${2 * count}):`);
    const inside = [
      reportInside('same CPU priority as the control plane', shared),
      reportInside('ahead of the control plane (nice -10)', ahead),
    ];
    const row = (name: string, r: { sorted: number[]; wallMs: number }): string =>
      `  ${name.padEnd(18)} p50 ${ms(quantile(r.sorted, 0.5)).padStart(10)}   p99 ${ms(quantile(r.sorted, 0.99)).padStart(10)}   all ${(r.wallMs / 1000).toFixed(2)} s`;
    const sampleSet = (await api.get<SampleSet>(SAMPLESET, 'imagenet', WITH))!;
    say(
      `  one review alone (parse, decide, patch, serialise; no I/O): ${(reviewCost(baseline.pods[0], sampleSet) * 1000).toFixed(0)} µs of CPU`,
    );
    say('pod creation as the client sees it:');
    say(row('without webhook', baseline));
    say(row('with webhook', withWebhook));
    say(
      `ratio with/without: p50 ${(quantile(withWebhook.sorted, 0.5) / quantile(baseline.sorted, 0.5)).toFixed(2)}x, ` +
        `p99 ${(quantile(withWebhook.sorted, 0.99) / quantile(baseline.sorted, 0.99)).toFixed(2)}x, ` +
        `throughput ${(withWebhook.wallMs / baseline.wallMs).toFixed(2)}x the time`,
    );
    child.proc.send('stop');
    const reviews = inside[0] + inside[1];
    if (patched !== 2 * count || reviews !== 2 * count)
      throw new Error(`expected ${2 * count} patched pods and reviews, got ${patched} and ${reviews}`);
  } finally {
    if (child.proc && child.proc.exitCode === null) child.proc.kill();
    await cp.stop();
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--webhook') runMain(() => webhookChild(process.argv[3], process.argv[4], Number(process.argv[5])));
else runMain(main);
