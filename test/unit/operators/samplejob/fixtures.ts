import type { V1Pod } from '@kubernetes/client-node';
import { POD, SAMPLEJOB, SAMPLESET, SAMPLESET_LABEL, SECRET } from '../../../../src/api/constants.js';
import type { SampleJob, SampleJobSpec } from '../../../../src/api/samplejob.js';
import type { SampleSet, SampleSetPhase } from '../../../../src/api/sampleset.js';
import { SpecError, type CacheEngine } from '../../../../src/engines/cache-engine.js';
import { EngineRegistry } from '../../../../src/engines/registry.js';
import type { RuntimeJobRequest } from '../../../../src/api/runtime-protocol.js';
import type { FakeCluster } from '../../support/fake-cluster.js';
import { SampleJobOperator, type SampleJobOperatorOptions } from '../../../../src/operators/samplejob/samplejob-operator.js';
import { CacheStatsNotifier } from '../../../../src/operators/shared/cache-stats-notifier.js';
import type { RuntimeJobCalls } from '../../../../src/operators/shared/runtime-calls.js';

export const NS = 'ns';

/** Just enough of an engine: names, fan-out, and request building with a path check. */
export function fakeEngine(): CacheEngine {
  const bad = (p: string): boolean => p.split('/').includes('..') || p.includes('escape');
  const engine: Partial<CacheEngine> = {
    name: 'juicefs',
    statefulSetName: (s) => `${s.metadata.name}-runtime`,
    tokenSecretName: (s) => `${s.metadata.name}-runtime-token`,
    fanOut: (type) => (type === 'sync' || type === 'rmr' ? 'one' : 'all'),
    jobRequest: (job, sampleSet, id, shard, shards, secret): RuntimeJobRequest => {
      const t = job.spec.type;
      if (t === 'rmr') {
        const paths = job.spec.rmrOptions?.paths ?? [];
        if (paths.length === 0) throw new SpecError('InvalidOptions', 'rmrOptions.paths is required');
        for (const p of paths) if (bad(p)) throw new SpecError('UnsafePath', `path ${p} escapes the dataset root`);
        return { id, type: t, options: { paths } };
      }
      if (t === 'warmup') return { id, type: t, options: { paths: job.spec.warmupOptions?.paths, shard, shards } };
      if (t === 'clear') return { id, type: t, options: { paths: job.spec.clearOptions?.paths } };
      const source = job.spec.syncOptions?.source ?? sampleSet.spec.source?.uri ?? '';
      const creds = secret?.data
        ? Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
        : undefined;
      return { id, type: 'sync', options: { source, destination: job.spec.syncOptions?.destination }, credentials: creds };
    },
  };
  return engine as CacheEngine;
}

export function registry(): EngineRegistry {
  return new EngineRegistry([fakeEngine()]);
}

export function sampleSet(kube: FakeCluster, name = 'ds', partitions = 2, phase: SampleSetPhase = 'Ready'): SampleSet {
  kube.put(SECRET, { metadata: { name: `${name}-runtime-token`, namespace: NS }, data: { token: Buffer.from('tok').toString('base64') } });
  return kube.put(SAMPLESET, {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name, namespace: NS },
    spec: { partitions, secretRef: { name: 'jfs' }, source: { uri: 's3://bucket/prefix', secretRef: { name: 'src' } } },
    status: { phase },
  });
}

export function setSampleSetPhase(kube: FakeCluster, name: string, phase: SampleSetPhase): void {
  const s = kube.get<SampleSet>(SAMPLESET, name, NS)!;
  kube.put(SAMPLESET, { ...s, status: { ...s.status, phase } });
}

/** Runtime pod `<ss>-runtime-<i>` at 10.0.0.<i+1>, ready. */
export function runtimePod(kube: FakeCluster, ss: string, i: number, opts: { ready?: boolean; uid?: string; ip?: string } = {}): V1Pod {
  const name = `${ss}-runtime-${i}`;
  const ready = opts.ready ?? true;
  const existing = kube.get<V1Pod>(POD, name, NS);
  return kube.put(POD, {
    metadata: {
      name,
      namespace: NS,
      uid: opts.uid ?? existing?.metadata?.uid ?? `pod-${name}-1`,
      labels: { [SAMPLESET_LABEL]: ss },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: `${ss}-runtime`, uid: 'sts', controller: true }],
    },
    spec: { nodeName: `node-${i}`, containers: [] },
    status: {
      phase: 'Running',
      podIP: opts.ip ?? `10.0.0.${i + 1}`,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  });
}

export const baseUrl = (i: number): string => `http://10.0.0.${i + 1}:7716`;

export function sampleJob(kube: FakeCluster, name: string, spec: Partial<SampleJobSpec>): SampleJob {
  return kube.put(SAMPLEJOB, {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleJob',
    metadata: { name, namespace: NS },
    spec: { type: 'rmr', sampleSetRef: { name: 'ds' }, ...spec },
  });
}

export function getJob(kube: FakeCluster, name: string): SampleJob | undefined {
  return kube.get<SampleJob>(SAMPLEJOB, name, NS);
}

export async function until(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A started SampleJob operator on `kube` and `rt`, with the quick timings the unit tests use. */
export async function startedOperator(
  kube: FakeCluster,
  rt: RuntimeJobCalls,
  opts: SampleJobOperatorOptions = {},
): Promise<SampleJobOperator> {
  const op = new SampleJobOperator(kube.context(4), registry(), rt, new CacheStatsNotifier(), {
    longPollSeconds: 20,
    resyncMs: 500,
    statsSettleMs: 0,
    ...opts,
  });
  await op.start();
  return op;
}
