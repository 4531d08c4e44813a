// Runtime pods simulated cheaply, for benchmarks with hundreds of SampleSets: for every runtime pod
// KWOK marks Running, this process serves the real paddle-runtime HTTP server (src/runtime/server.ts)
// on the pod's IP with the SampleSet's token, over an engine stand-in whose jobs succeed at once and
// whose cache holds a fixed figure. No JuiceFS mount, no child process: a thousand pods cost one
// process. (test/harness/cache-nodes.ts is the faithful simulation: real juicefs, real paddle-runtime.)
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { POD, SAMPLESET_LABEL, SECRET } from '../../../src/api/constants.js';
import { RUNTIME_TOKEN_ENV, type NodeCacheStats } from '../../../src/api/runtime-protocol.js';
import type { CacheRuntime } from '../../../src/engines/cache-engine.js';
import { Informer } from '../../../src/kube/informer.js';
import type { KubeApi } from '../../../src/kube/kube-api.js';
import { isPodReady, readRuntimeToken } from '../../../src/operators/shared/runtime-pods.js';
import { RuntimeServer } from '../../../src/runtime/server.js';

const STATS: NodeCacheStats = {
  totalBytes: 1 << 20,
  totalFiles: 10,
  cachedBytes: 1 << 20,
  tiers: [{ path: '/var/lib/paddle-operator/cache', sizeBytes: 1 << 30, usedBytes: 1 << 20, availBytes: (1 << 30) - (1 << 20) }],
  reads: { hits: 0, misses: 0, hitBytes: 0, missBytes: 0 },
};

const instantRuntime: CacheRuntime = {
  name: 'bench',
  run: () => Promise.resolve(),
  stats: () => Promise.resolve(STATS),
};

export interface CheapRuntimes {
  /** Runtime pods served now. */
  readonly serving: number;
  stop(): Promise<void>;
}

/**
 * Serves every Ready runtime pod (SampleSet label, pod IP) of `namespace` until stopped. `queue`
 * widens the runtime's pending-job limit and finished-job history (100 and 200 by default) for
 * runs that send one pod more jobs at once than that.
 */
export async function startCheapRuntimes(
  api: KubeApi,
  namespace: string,
  queue = { maxPendingJobs: 100, historyLimit: 200 },
): Promise<CheapRuntimes> {
  const servers = new Map<string, { ip: string; server?: RuntimeServer; starting?: Promise<void> }>();
  const pods = new Informer<V1Pod>(api, POD, { namespace, labelSelector: SAMPLESET_LABEL });
  const tokenOf = async (pod: V1Pod): Promise<string | undefined> => {
    const secret = pod.spec?.containers.flatMap((c) => c.env ?? []).find((e) => e.name === RUNTIME_TOKEN_ENV)?.valueFrom
      ?.secretKeyRef?.name;
    return secret ? readRuntimeToken(await api.get<V1Secret>(SECRET, secret, namespace)) : undefined;
  };
  const serve = (pod: V1Pod): void => {
    const key = pod.metadata!.name!;
    const ip = pod.status!.podIP!;
    const had = servers.get(key);
    if (had?.ip === ip) return;
    const entry: { ip: string; server?: RuntimeServer; starting?: Promise<void> } = { ip };
    servers.set(key, entry);
    entry.starting = (async () => {
      await had?.starting;
      await had?.server?.close();
      const token = await tokenOf(pod);
      if (!token || servers.get(key) !== entry) return;
      const server = new RuntimeServer({ runtime: instantRuntime, token, host: ip, port: 7716, statsCacheMs: 0, ...queue });
      await server.listen();
      entry.server = server;
    })().catch((e: unknown) => void process.stderr.write(`cheap runtime ${key}: ${(e as Error).message}\n`));
  };
  const drop = (name: string): void => {
    const had = servers.get(name);
    servers.delete(name);
    void had?.starting?.then(() => had.server?.close());
  };
  pods.addHandler((type, pod) => {
    if (type === 'delete' || !isPodReady(pod)) drop(pod.metadata!.name!);
    else serve(pod);
  });
  pods.start();
  await pods.waitForSync();
  return {
    get serving() {
      return [...servers.values()].filter((s) => s.server).length;
    },
    async stop() {
      await pods.stop();
      const all = [...servers.values()];
      servers.clear();
      await Promise.all(all.map(async (s) => (await s.starting, await s.server?.close())));
    },
  };
}
