// What the SampleSet e2e files share: the operator in this process (on the ServiceAccount's
// credentials, JuiceFS engine), a JuiceFS volume Secret, creating a SampleSet, waiting on its
// status, and checking that a deleted SampleSet left nothing behind.
import type http from 'node:http';
import path from 'node:path';
import type {
  V1Node,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import {
  NODE,
  POD,
  PV,
  PVC,
  SAMPLESET,
  SAMPLESET_LABEL,
  SECRET,
  SERVICE,
  STATEFULSET,
  cacheNodeLabelKey,
} from '../../src/api/constants.js';
import type { Condition } from '../../src/api/conditions.js';
import type { SampleSet, SampleSetSpec } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import type { EngineRegistry } from '../../src/engines/registry.js';
import type { InformerFactory } from '../../src/kube/informer-factory.js';
import type { KubeApi } from '../../src/kube/kube-api.js';
import { SampleSetOperator, type SampleSetOperatorOptions } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { waitFor } from '../harness/util.js';
import { operatorContext } from './operator-context.js';

export const WAIT = { timeoutMs: 90_000, intervalMs: 250 };
export const ENGINE = 'juicefs';

export interface Operator {
  op: SampleSetOperator;
  notifier: CacheStatsNotifier;
  informers: InformerFactory;
  stop(): Promise<void>;
}

/** The SampleSet operator in this process, on the credentials of its ServiceAccount (RBAC from kustomize/default). */
export async function startSampleSetOperator(
  agent: http.Agent,
  options: Partial<SampleSetOperatorOptions> = {},
  engines: EngineRegistry = installedEngines(),
): Promise<Operator> {
  const { ctx, informers, stop } = await operatorContext({ logLevel: process.env.E2E_LOG_LEVEL ?? 'warn' });
  const notifier = new CacheStatsNotifier();
  const runtime = new RuntimeClient({ timeoutMs: 5000, retries: 1, agent });
  const op = new SampleSetOperator(
    ctx,
    engines,
    runtime,
    {
      runtimeImage: 'paddle-operator:e2e',
      statsIntervalMs: 3000,
      statsRetryMs: 1000,
      syncWaitSeconds: 5,
      syncProgressIntervalMs: 500,
      conflictRetryMs: 2000,
      ...options,
    },
    notifier,
  );
  await op.start();
  return {
    op,
    notifier,
    informers,
    stop: async () => {
      await op.stop();
      await stop();
    },
  };
}

/** Adds KWOK nodes `names` labelled `labels` (a pool a suite keeps its SampleSet on) and waits until they are Ready. */
export async function addReadyNodes(cp: ControlPlane, api: KubeApi, names: string[], labels: Record<string, string>): Promise<void> {
  for (const n of names) await cp.addNode(n, labels);
  await waitFor(
    'the suite nodes Ready',
    async () => {
      const ready = (await api.list<V1Node>(NODE)).items.filter(
        (n) => names.includes(n.metadata!.name!) && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length === names.length ? true : undefined;
    },
    WAIT,
  );
}

/** A JuiceFS volume Secret for a fresh volume (SQLite metadata, local object storage under `volumesDir`). */
export async function createVolumeSecret(
  api: KubeApi,
  volumesDir: string,
  ns: string,
  name: string,
  volume = `${ns}-${name}`,
): Promise<{ metaurl: string; bucket: string; volume: string }> {
  const metaurl = `sqlite3://${path.join(volumesDir, `${volume}.db`)}`;
  const bucket = path.join(volumesDir, `${volume}-objects`) + '/';
  const vol = volume.replace(/[^a-z0-9-]/g, '-').slice(0, 60);
  await api.create<V1Secret>(SECRET, {
    metadata: { name, namespace: ns },
    stringData: { name: vol, metaurl, storage: 'file', bucket },
  });
  return { metaurl, bucket, volume: vol };
}

/** A SampleSet with 2 partitions on the volume Secret `jfs` unless `spec` says otherwise. */
export function createSampleSet(api: KubeApi, ns: string, name: string, spec: Partial<SampleSetSpec>): Promise<SampleSet> {
  return api.create<SampleSet>(SAMPLESET, {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name, namespace: ns },
    spec: { partitions: 2, secretRef: { name: 'jfs' }, ...spec },
  });
}

export const conditionOf = (ss: SampleSet | undefined, type: string): Condition | undefined =>
  ss?.status?.conditions?.find((c) => c.type === type);

/** Waits until the SampleSet satisfies `ok`; the error carries its last status and `diagnostics()`. */
export async function sampleSetWhere(
  api: KubeApi,
  ns: string,
  name: string,
  what: string,
  ok: (s: SampleSet) => boolean,
  opts: { timeoutMs?: number; diagnostics?: () => string } = {},
): Promise<SampleSet> {
  let last: SampleSet | undefined;
  try {
    return await waitFor(
      `SampleSet ${ns}/${name} ${what}`,
      async () => {
        last = await api.get<SampleSet>(SAMPLESET, name, ns);
        return last && ok(last) ? last : undefined;
      },
      { ...WAIT, timeoutMs: opts.timeoutMs ?? WAIT.timeoutMs },
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\nlast status: ${JSON.stringify(last?.status, null, 1)}${opts.diagnostics?.() ?? ''}`);
  }
}

/** The SampleSet's runtime pods (by label), sorted by name. */
export async function runtimePodsOf(api: KubeApi, ns: string, name: string): Promise<V1Pod[]> {
  return (await api.list<V1Pod>(POD, ns, { labelSelector: `${SAMPLESET_LABEL}=${name}` })).items.sort((a, b) =>
    a.metadata!.name!.localeCompare(b.metadata!.name!),
  );
}

/** node → label value for the SampleSet's cache-node label. */
export async function cacheNodeLabels(api: KubeApi, name: string): Promise<Record<string, string>> {
  const key = cacheNodeLabelKey(ENGINE, name);
  const out: Record<string, string> = {};
  for (const n of (await api.list<V1Node>(NODE)).items) {
    const v = n.metadata?.labels?.[key];
    if (v !== undefined) out[n.metadata!.name!] = v;
  }
  return out;
}

/** What of the SampleSet and the objects it created still exists (empty: nothing). */
export async function leftOf(api: KubeApi, ns: string, name: string): Promise<string[]> {
  const left: string[] = [];
  if (await api.get<SampleSet>(SAMPLESET, name, ns)) left.push('SampleSet');
  if (await api.get<V1PersistentVolume>(PV, `${ns}.${name}`)) left.push('PV');
  if (await api.get<V1PersistentVolumeClaim>(PVC, name, ns)) left.push('PVC');
  if (await api.get<V1StatefulSet>(STATEFULSET, `${name}-runtime`, ns)) left.push('StatefulSet');
  if (await api.get<V1Service>(SERVICE, `${name}-runtime`, ns)) left.push('Service');
  if (await api.get<V1Secret>(SECRET, `${name}-runtime-token`, ns)) left.push('token Secret');
  if (Object.keys(await cacheNodeLabels(api, name)).length > 0) left.push('node labels');
  if ((await runtimePodsOf(api, ns, name)).length > 0) left.push('pods');
  return left;
}

/** Everything the SampleSet created is gone: PV, PVC, StatefulSet, Service, token Secret, node labels. */
export async function waitNothingLeft(api: KubeApi, ns: string, name: string): Promise<void> {
  await waitFor(`everything of ${ns}/${name} to be deleted`, async () => ((await leftOf(api, ns, name)).length === 0 ? true : undefined), {
    timeoutMs: 90_000,
    intervalMs: 300,
  }).catch(async (e: unknown) => {
    const left = [
      (await api.get<V1PersistentVolume>(PV, `${ns}.${name}`))?.status?.phase,
      (await api.get<V1PersistentVolumeClaim>(PVC, name, ns))?.metadata?.finalizers,
    ];
    throw new Error(
      `${(e as Error).message}; left: ${(await leftOf(api, ns, name)).join(', ')}; PV phase / PVC finalizers: ${JSON.stringify(left)}`,
    );
  });
}
