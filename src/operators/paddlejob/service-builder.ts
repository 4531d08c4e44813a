/** Service intranet: one headless Service per member pod, named like the pod, so peers reach it by name. */
import type { V1Service } from '@kubernetes/client-node';
import { PADDLE_JOB_NAME, PADDLE_RES_INDEX, PADDLE_RES_NAME, PADDLE_RES_TYPE } from '../../api/constants.js';
import type { PaddleJob, RoleName } from '../../api/paddlejob.js';
import { ownerReference } from '../../kube/owner-reference.js';
import { PADDLE_PORT, TRAINER_PORTS_NUM } from './constants.js';
import { podName } from './names.js';

export function buildPodService(job: PaddleJob, role: RoleName, index: number): V1Service {
  const jobName = job.metadata.name!;
  const name = podName(jobName, role, index);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: job.metadata.namespace,
      labels: { [PADDLE_JOB_NAME]: jobName, [PADDLE_RES_TYPE]: role, [PADDLE_RES_INDEX]: String(index), [PADDLE_RES_NAME]: name },
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      clusterIP: 'None',
      // peers resolve each other while still starting (Paddle connects before it reports ready)
      publishNotReadyAddresses: true,
      selector: { [PADDLE_JOB_NAME]: jobName, [PADDLE_RES_NAME]: name },
      ports: Array.from({ length: TRAINER_PORTS_NUM }, (_, i) => ({
        name: `p-${i}`,
        port: PADDLE_PORT + i,
        targetPort: PADDLE_PORT + i,
        protocol: 'TCP',
      })),
    },
  };
}
