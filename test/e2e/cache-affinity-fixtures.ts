// What the pod admission webhook e2e files share: pods that mount a claim (or not), what the
// webhook injects into them, and the world they are admitted in — a namespace opted into cache
// affinity holding a SampleSet `imagenet` with 2 partitions, made Ready by the real SampleSet
// operator (in this process) on simulated cache nodes with real JuiceFS, on KWOK nodes of a pool
// of the suite's own.
//
//   const world = await startCacheAffinityWorld(cp, { namespace, nodes, pool });
//   ... start and register the webhook ...
//   const cacheNodes = await world.ready();
//   ... await world.stop();
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { NODE } from '../../src/api/constants.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { CACHE_AFFINITY_KEY } from '../../src/webhook/constants.js';
import { startCacheNodeSimulator, type CacheNodeSimulator } from '../harness/cache-nodes.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { deleteTestNamespaces } from './cluster.js';
import {
  addReadyNodes,
  cacheNodeLabels,
  createSampleSet,
  createVolumeSecret,
  sampleSetWhere,
  startSampleSetOperator,
  type Operator,
} from './sampleset-helpers.js';

/** The SampleSet every webhook suite mounts, and the node label of its cache nodes (spelled out, as users see it). */
export const SAMPLESET_NAME = 'imagenet';
export const CACHE_NODE_KEY = 'paddlepaddle.org/juicefs-imagenet';
const IMAGE = 'registry.invalid/paddle-e2e/none:0'; // never pulled: KWOK runs no containers

/** A pod spec mounting `claim` (or only an emptyDir), with a node requirement of its own every KWOK node meets. */
export function podSpec(claim?: string): V1PodSpec {
  return {
    containers: [{ name: 'main', image: IMAGE, volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
    volumes: [claim ? { name: 'data', persistentVolumeClaim: { claimName: claim } } : { name: 'data', emptyDir: {} }],
    terminationGracePeriodSeconds: 0,
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'type', operator: 'In', values: ['kwok'] }] }],
        },
      },
    },
  };
}

export function barePod(namespace: string, name: string, claim?: string, annotations?: Record<string, string>): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, spec: podSpec(claim) };
}

export const requiredExpressions = (p: V1Pod) =>
  (p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []).map((t) => t.matchExpressions);
export const preferredTerms = (p: V1Pod) => p.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];

export interface CacheAffinityWorld {
  namespace: string;
  /** Waits until the SampleSet is Ready; its 2 cache nodes. */
  ready(): Promise<string[]>;
  /** Deletes the namespace, stops the operator and the simulator, removes the nodes. */
  stop(): Promise<void>;
}

/**
 * KWOK nodes `nodes` (labelled `pool`), the cache-node simulator for `namespace`, the SampleSet
 * operator, the namespace labelled for cache affinity, a JuiceFS volume Secret and the SampleSet
 * on the pool. Returns once the SampleSet is created; `ready()` waits for it.
 */
export async function startCacheAffinityWorld(
  cp: ControlPlane,
  opts: { namespace: string; nodes: string[]; pool: { label: string; value: string } },
): Promise<CacheAffinityWorld> {
  const api = new KubeApi(cp.kubeConfig());
  const agent = new http.Agent({ keepAlive: true });
  const { namespace, nodes, pool } = opts;
  let sim: CacheNodeSimulator | undefined;
  let operator: Operator | undefined;
  const world: CacheAffinityWorld = {
    namespace,
    async ready() {
      await sampleSetWhere(api, namespace, SAMPLESET_NAME, 'Ready', (s) => s.status?.phase === 'Ready');
      return Object.keys(await cacheNodeLabels(api, SAMPLESET_NAME));
    },
    async stop() {
      await deleteTestNamespaces(cp, [namespace], namespace);
      await operator?.stop();
      await sim?.stop();
      agent.destroy();
      for (const n of nodes) await api.delete(NODE, n);
    },
  };
  try {
    await addReadyNodes(cp, api, nodes, { [pool.label]: pool.value });
    sim = await startCacheNodeSimulator(cp, { podFilter: (p) => p.metadata?.namespace === namespace });
    operator = await startSampleSetOperator(agent);
    await cp.ensureNamespace(namespace, { [CACHE_AFFINITY_KEY]: 'enabled' });
    const volumesDir = path.join(cp.runDir, `${namespace}-volumes`);
    fs.mkdirSync(volumesDir, { recursive: true });
    await createVolumeSecret(api, volumesDir, namespace, 'jfs');
    await createSampleSet(api, namespace, SAMPLESET_NAME, {
      partitions: 2,
      noSync: true,
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: pool.label, operator: 'In', values: [pool.value] }] }],
        },
      },
    });
  } catch (e) {
    await world.stop();
    throw e;
  }
  return world;
}
