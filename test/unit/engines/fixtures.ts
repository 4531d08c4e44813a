// SampleSet / SampleJob / Secret fixtures for the engine unit tests.
import type { V1Secret } from '@kubernetes/client-node';
import type { SampleJob, SampleJobSpec } from '../../../src/api/samplejob.js';
import type { SampleSet, SampleSetSpec } from '../../../src/api/sampleset.js';

export function sampleSet(spec: Partial<SampleSetSpec> = {}, name = 'imagenet', namespace = 'ml'): SampleSet {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name, namespace, uid: 'uid-1', generation: 1 },
    spec: {
      partitions: 2,
      secretRef: { name: 'imagenet-juicefs' },
      source: { uri: 's3://bucket.s3.us-east-1.amazonaws.com/imagenet/' },
      ...spec,
    },
  };
}

export function sampleJob(spec: Partial<SampleJobSpec> & Pick<SampleJobSpec, 'type'>, name = 'job'): SampleJob {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleJob',
    metadata: { name, namespace: 'ml', uid: 'job-uid' },
    spec: { sampleSetRef: { name: 'imagenet' }, ...spec },
  };
}

export function secret(data: Record<string, string>, name = 'imagenet-juicefs', namespace = 'ml'): V1Secret {
  const enc: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) enc[k] = Buffer.from(v).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data: enc };
}
