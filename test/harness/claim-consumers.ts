// Workload pods that mount a SampleSet's claim, on simulated nodes. A training pod on a real node
// reads the dataset through the node's JuiceFS mount, whose cache is the node's cache directory; under
// KWOK nothing runs, so this does what the kubelet and the CSI driver would for such a pod: for every
// Running pod the filter accepts that is not a runtime pod, each PersistentVolumeClaim volume bound to
// a JuiceFS CSI volume is mounted at `<node>/pods/<ns>_<name>/<volume>` with the PV's mount options —
// the cache dirs map to the same per-node directories the runtime pod on that node uses, so blocks a
// warmup put there are served from cache. Unmounted when the pod goes away.
import fs from 'node:fs';
import path from 'node:path';
import type { V1PersistentVolume, V1Pod } from '@kubernetes/client-node';
import { POD, SAMPLESET_LABEL } from '../../src/api/constants.js';
import { Informer } from '../../src/kube/informer.js';
import type { KubeApi } from '../../src/kube/kube-api.js';
import { errorMessage, waitFor, type LogFn } from './util.js';

/** A workload pod whose claims are mounted. */
export interface ConsumerPod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  /** The mount point of each JuiceFS claim volume, by volume name. */
  mounts: Record<string, string>;
}

/** What the cache-node simulator lends: its volume lookup, mount and unmount. */
export interface ClaimMountDeps {
  api: KubeApi;
  log: LogFn;
  nodeDir(node: string): string;
  boundVolume(ns: string, claimName: string): Promise<V1PersistentVolume>;
  mountClaim(pv: V1PersistentVolume, ns: string, node: string, mountPoint: string, logFile: string): Promise<string[]>;
  unmount(mountPoint: string): Promise<void>;
  noteError(msg: string): void;
}

export interface ClaimConsumers {
  list(): ConsumerPod[];
  /** Resolves once `namespace/name` has all its JuiceFS claims mounted. */
  waitFor(namespace: string, name: string, timeoutMs?: number): Promise<ConsumerPod>;
  stop(): Promise<void>;
}

export async function startClaimConsumers(deps: ClaimMountDeps, accept: (pod: V1Pod) => boolean): Promise<ClaimConsumers> {
  const informer = new Informer<V1Pod>(deps.api, POD, { watchTimeoutSeconds: 60 });
  const mounted = new Map<string, ConsumerPod>();
  const busy = new Map<string, Promise<void>>();
  let stopped = false;

  const wanted = (pod: V1Pod | undefined): pod is V1Pod =>
    !!pod &&
    !pod.metadata?.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    !!pod.spec?.nodeName &&
    !pod.metadata?.labels?.[SAMPLESET_LABEL] &&
    (pod.spec.volumes ?? []).some((v) => v.persistentVolumeClaim) &&
    accept(pod);

  async function setup(pod: V1Pod): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const node = pod.spec!.nodeName!;
    const podDir = path.join(deps.nodeDir(node), 'pods', `${ns}_${name}`);
    fs.mkdirSync(podDir, { recursive: true });
    const entry: ConsumerPod = { namespace: ns, name, uid: pod.metadata!.uid!, node, mounts: {} };
    for (const v of pod.spec!.volumes ?? []) {
      if (!v.persistentVolumeClaim) continue;
      const pv = await deps.boundVolume(ns, v.persistentVolumeClaim.claimName);
      if (!pv.spec?.csi) continue;
      const mp = path.join(podDir, v.name);
      await deps.mountClaim(pv, ns, node, mp, path.join(podDir, `juicefs-${v.name}.log`));
      entry.mounts[v.name] = mp;
    }
    mounted.set(`${ns}/${name}`, entry);
    deps.log(`cache-nodes: ${ns}/${name} has its claims mounted on ${node}`);
  }

  async function teardown(key: string): Promise<void> {
    const entry = mounted.get(key);
    if (!entry) return;
    mounted.delete(key);
    for (const mp of Object.values(entry.mounts)) await deps.unmount(mp);
  }

  function reconcile(key: string): void {
    const prev = busy.get(key) ?? Promise.resolve();
    const next = prev.then(async () => {
      if (stopped) return;
      const [ns, name] = key.split('/', 2);
      const pod = informer.get(name, ns);
      const cur = mounted.get(key);
      if (cur && (!wanted(pod) || cur.uid !== pod.metadata?.uid)) await teardown(key);
      if (wanted(pod) && !mounted.has(key)) {
        await setup(pod).catch(async (e: unknown) => {
          deps.noteError(`could not mount the claims of ${key}: ${errorMessage(e)}`);
          await teardown(key);
          if (!stopped) setTimeout(() => reconcile(key), 1000).unref();
        });
      }
    });
    busy.set(key, next);
    void next.finally(() => {
      if (busy.get(key) === next) busy.delete(key);
    });
  }

  informer.addHandler((_t, pod) => reconcile(`${pod.metadata!.namespace}/${pod.metadata!.name}`));
  informer.start();
  await informer.waitForSync();

  return {
    list: () => [...mounted.values()].map((c) => ({ ...c, mounts: { ...c.mounts } })),
    waitFor: (namespace, name, timeoutMs = 60_000) =>
      waitFor(`the claims of ${namespace}/${name} mounted`, () => mounted.get(`${namespace}/${name}`), { timeoutMs, intervalMs: 100 }),
    async stop(): Promise<void> {
      stopped = true;
      await informer.stop();
      while (busy.size > 0) await Promise.allSettled([...busy.values()]);
      for (const key of [...mounted.keys()]) await teardown(key);
    },
  };
}
