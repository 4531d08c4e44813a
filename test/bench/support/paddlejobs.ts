// PaddleJobs of 2 PS + 4 workers on KWOK nodes, for the paddlejob and scale benchmarks: the bare-pod
// baseline (the same pods created straight through the API) and the run through the operator.
import type { V1Pod } from '@kubernetes/client-node';
import { PADDLEJOB, POD } from '../../../src/api/constants.js';
import type { PaddleJob } from '../../../src/api/paddlejob.js';
import { Informer } from '../../../src/kube/informer.js';
import type { KubeApi } from '../../../src/kube/kube-api.js';
import { mapSettled } from '../../../src/operators/paddlejob/concurrency.js';
import type { ControlPlane } from '../../harness/control-plane.js';
import { waitFor } from '../../harness/util.js';
import { createAll } from './fleet.js';
import type { OperatorProcessHandle } from './operator-process.js';

export const PS = 2;
export const WORKERS = 4;
export const PODS_PER_JOB = PS + WORKERS;
const IMAGE = 'registry.invalid/paddle-bench/none:0';

/** KWOK nodes (110 pods each) for `pods` pods with a quarter to spare. */
export const nodesFor = (pods: number): number => Math.max(3, Math.ceil((pods * 1.25) / 110));

function barePod(namespace: string, name: string): V1Pod {
  return {
    metadata: { name, namespace, labels: { bench: 'baseline' } },
    spec: { containers: [{ name: 'main', image: IMAGE }], terminationGracePeriodSeconds: 0, restartPolicy: 'Never' },
  };
}

function job(namespace: string, name: string): PaddleJob {
  const role = (replicas: number) => ({
    replicas,
    template: { spec: { containers: [{ name: 'main', image: IMAGE }], terminationGracePeriodSeconds: 0 } },
  });
  return {
    apiVersion: 'batch.paddlepaddle.org/v1',
    kind: 'PaddleJob',
    metadata: { name, namespace },
    spec: { ps: role(PS), worker: role(WORKERS) },
  };
}

export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Watches the pods of a namespace; counts those Running that `selector` accepts. */
export async function podWatch(api: KubeApi, namespace: string): Promise<Informer<V1Pod>> {
  const pods = new Informer<V1Pod>(api, POD, { namespace });
  pods.start();
  await pods.waitForSync();
  return pods;
}

async function runningPods(pods: Informer<V1Pod>, want: number, selector: (p: V1Pod) => boolean): Promise<void> {
  await waitFor(`${want} pods Running`, () => pods.list(undefined, (p) => selector(p) && p.status?.phase === 'Running').length >= want, {
    timeoutMs: 1_800_000,
    intervalMs: 50,
  });
}

/** Bare pods of `jobs` jobs' shape created (32 in flight) until all Running, then deleted; ms. */
export async function bareBaseline(
  cp: ControlPlane,
  api: KubeApi,
  pods: Informer<V1Pod>,
  namespace: string,
  jobs: number,
): Promise<number> {
  const count = jobs * PODS_PER_JOB;
  const t0 = performance.now();
  await createAll(
    api,
    POD,
    Array.from({ length: count }, (_, i) => barePod(namespace, `base-${Math.floor(i / PODS_PER_JOB)}-${i % PODS_PER_JOB}`)),
    32,
  );
  await runningPods(pods, count, (p) => p.metadata?.labels?.bench === 'baseline');
  const ms = performance.now() - t0;
  await cp.kubectl(['delete', 'pods', '-n', namespace, '-l', 'bench=baseline', '--wait=false']);
  await waitFor('baseline pods gone', () => pods.list().length === 0, { timeoutMs: 600_000, intervalMs: 200 });
  return ms;
}

export interface PaddleJobRun {
  jobs: number;
  /** From the first create to the last job's phase Running. */
  allRunningMs: number;
  podsCreatedMs: number;
  podsRunningMs: number;
  /** Per job, create → phase Running, sorted. */
  latencies: number[];
  /** Updates of PaddleJobs seen by a watch (status and annotation writes). */
  jobUpdates: number;
  requests: number;
  reconciles: number;
  cpuSeconds: number;
  peakRss: number;
  idleRss: number;
}

/** Creates `jobs` PaddleJobs (16 in flight) and waits until every one is Running; `op` serves them. */
export async function runPaddleJobs(
  api: KubeApi,
  pods: Informer<V1Pod>,
  namespace: string,
  jobs: number,
  op: OperatorProcessHandle,
): Promise<PaddleJobRun> {
  const count = jobs * PODS_PER_JOB;
  const jobInformer = new Informer<PaddleJob>(api, PADDLEJOB, { namespace });
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
  const idleRss = op.rssBytes();
  op.resetPeak();
  const requests0 = await op.kubeRequests();
  const reconciles0 = await op.reconciles();
  const cpu0 = op.cpuSeconds();
  try {
    const t0 = performance.now();
    const created = await mapSettled(
      Array.from({ length: jobs }, (_, i) => `job-${i}`),
      16,
      async (name) => {
        createdAt.set(name, performance.now());
        await api.create(PADDLEJOB, job(namespace, name));
      },
    );
    const failed = created.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    await waitFor(`${count} pods created`, () => pods.list().length >= count, { timeoutMs: 1_800_000, intervalMs: 50 });
    const podsCreatedMs = performance.now() - t0;
    await runningPods(pods, count, (p) => !!p.metadata?.labels?.['paddle-job-name']);
    const podsRunningMs = performance.now() - t0;
    await waitFor(`${jobs} PaddleJobs Running`, () => runningAt.size >= jobs, { timeoutMs: 1_800_000, intervalMs: 50 });
    const allRunningMs = performance.now() - t0;
    return {
      jobs,
      allRunningMs,
      podsCreatedMs,
      podsRunningMs,
      latencies: [...runningAt.entries()].map(([n, t]) => t - createdAt.get(n)!).sort((a, b) => a - b),
      jobUpdates,
      requests: (await op.kubeRequests()) - requests0,
      reconciles: (await op.reconciles()) - reconciles0,
      cpuSeconds: op.cpuSeconds() - cpu0,
      peakRss: op.peakRssBytes,
      idleRss,
    };
  } finally {
    await jobInformer.stop();
  }
}
