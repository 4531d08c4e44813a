// Pods and SampleSets as the webhook sees them: a pod in an AdmissionReview (no status, maybe no
// name), SampleSets from the informer cache with the status the SampleSet operator writes.
import type { V1Affinity, V1Pod } from '@kubernetes/client-node';
import type { SampleSet, SampleSetSpec, SampleSetStatus } from '../../../src/api/sampleset.js';
import { JuiceFsEngine } from '../../../src/engines/juicefs/juicefs-engine.js';
import { cacheNodesOf } from '../../../src/operators/shared/cache-placement.js';
import type { ClaimedSampleSet } from '../../../src/webhook/affinity-decision.js';

export const NS = 'team-a';
export const juicefs = new JuiceFsEngine();

/** A SampleSet with `ready` telling, per partition, whether status.nodes says it is ready. */
export function sampleSet(
  name: string,
  phase: SampleSetStatus['phase'],
  ready: boolean[],
  spec: Partial<SampleSetSpec> = {},
  extra: Partial<SampleSet['metadata']> = {},
): SampleSet {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name, namespace: NS, uid: `uid-${name}`, ...extra },
    spec: { partitions: ready.length, secretRef: { name: 'jfs' }, ...spec },
    status: {
      phase,
      nodes: ready.map((r, i) => ({ partition: i, pod: `${name}-runtime-${i}`, node: `node-${i}`, ready: r })),
    },
  };
}

export const claimed = (ss: SampleSet): ClaimedSampleSet => ({ sampleSet: ss, cache: cacheNodesOf(ss, juicefs) });

/** A pod mounting `claims` (and an emptyDir), as a Deployment's ReplicaSet would create it. */
export function pod(claims: string[], opts: { annotations?: Record<string, string>; affinity?: V1Affinity } = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'train-7d9f-',
      namespace: NS,
      labels: { app: 'train' },
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'train-7d9f', uid: 'rs', controller: true }],
    },
    spec: {
      containers: [
        { name: 'main', image: 'trainer:1', volumeMounts: claims.map((c, i) => ({ name: `data-${i}`, mountPath: `/data/${i}` })) },
      ],
      volumes: [
        { name: 'scratch', emptyDir: {} },
        ...claims.map((c, i) => ({ name: `data-${i}`, persistentVolumeClaim: { claimName: c } })),
      ],
      ...(opts.affinity ? { affinity: opts.affinity } : {}),
    },
  };
}
