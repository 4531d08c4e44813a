/**
 * Whether a SampleSet update concerns the jobs that use it. Its cache figures (status.cacheStatus,
 * lastCacheUpdateTime, the read figures of status.nodes) are refreshed every 30 s while data is
 * being cached and after every SampleJob that ends; no SampleJob or PaddleJob reads them. Waking
 * every unfinished job of a SampleSet on each refresh would cost, with N jobs ending one after
 * another, N reconciles per job: quadratic. Everything else (spec, phase, conditions, partitions,
 * deletion) does concern them. Pure.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { CacheNodeStatus, SampleSet } from '../../api/sampleset.js';
import { jsonEqual } from '../../kube/merge-patch.js';

function withoutCacheFigures(o: KubernetesObject): unknown {
  const ss = o as SampleSet;
  const node = ({ cacheHitRatio: _r, cacheHits: _h, cacheMisses: _m, bytesFromCache: _c, bytesFromStore: _s, ...rest }: CacheNodeStatus) =>
    rest;
  return {
    metadata: { ...ss.metadata, resourceVersion: undefined, managedFields: undefined },
    spec: ss.spec,
    status: ss.status && { ...ss.status, cacheStatus: undefined, lastCacheUpdateTime: undefined, nodes: ss.status.nodes?.map(node) },
  };
}

export function sampleSetChangeConcernsJobs(obj: KubernetesObject, old: KubernetesObject): boolean {
  return !jsonEqual(withoutCacheFigures(obj), withoutCacheFigures(old));
}
