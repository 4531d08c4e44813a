import type { V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { PADDLE_JOB_NAME, PADDLE_RES_INDEX, PADDLE_RES_NAME, PADDLE_RES_TYPE } from '../../../../src/api/constants.js';
import type { PaddleJob, PaddleJobSpec, RoleName } from '../../../../src/api/paddlejob.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';

export function template(extra: Partial<V1PodTemplateSpec['spec']> = {}): V1PodTemplateSpec {
  return { spec: { containers: [{ name: 'main', image: 'paddle:2.5' }], ...extra } };
}

export function makeJob(spec: Partial<PaddleJobSpec> = {}, name = 'job', namespace = 'ns'): PaddleJob {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1',
    kind: 'PaddleJob',
    metadata: { name, namespace, uid: `uid-${name}`, generation: 1, resourceVersion: '1' },
    spec: { ...spec },
  };
}

export function psJob(ps = 2, workers = 3, extra: Partial<PaddleJobSpec> = {}): PaddleJob {
  return makeJob({ ps: { replicas: ps, template: template() }, worker: { replicas: workers, template: template() }, ...extra });
}

export function collectiveJob(workers = 2, extra: Partial<PaddleJobSpec> = {}): PaddleJob {
  return makeJob({ worker: { replicas: workers, template: template() }, ...extra });
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

/** A member pod as the API would show it, controlled by `job`. */
export function memberPod(
  job: PaddleJob,
  role: RoleName,
  index: number,
  phase: Phase = 'Running',
  opts: { ready?: boolean; ip?: string; exitCode?: number } = {},
): V1Pod {
  const name = `${job.metadata.name}-${role}-${index}`;
  const ready = opts.ready ?? phase === 'Running';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: job.metadata.namespace,
      uid: `uid-${name}`,
      labels: {
        [PADDLE_JOB_NAME]: job.metadata.name!,
        [PADDLE_RES_TYPE]: role,
        [PADDLE_RES_INDEX]: String(index),
        [PADDLE_RES_NAME]: name,
      },
      ownerReferences: [{ apiVersion: job.apiVersion, kind: job.kind, name: job.metadata.name!, uid: job.metadata.uid!, controller: true }],
    },
    spec: { containers: [{ name: 'main', image: 'x' }] },
    status: {
      phase,
      podIP: phase === 'Pending' ? undefined : (opts.ip ?? `10.0.${role === 'ps' ? 1 : role === 'worker' ? 2 : 3}.${index + 1}`),
      containerStatuses: [
        {
          name: 'main',
          image: 'x',
          imageID: '',
          restartCount: 0,
          ready,
          ...(phase === 'Failed' || phase === 'Succeeded'
            ? {
                state: {
                  terminated: {
                    exitCode: opts.exitCode ?? (phase === 'Failed' ? 1 : 0),
                    reason: phase === 'Failed' ? 'Error' : 'Completed',
                  },
                },
              }
            : {}),
        },
      ],
    },
  };
}

export function makeSampleSet(name = 'imagenet', partitions = 2, phase: string = 'Ready', namespace = 'ns', driver?: string): SampleSet {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleSet',
    metadata: { name, namespace, uid: `uid-ss-${name}` },
    spec: { partitions, secretRef: { name: 'secret' }, ...(driver ? { csi: { driver } } : {}) },
    status: { phase: phase as never },
  };
}
