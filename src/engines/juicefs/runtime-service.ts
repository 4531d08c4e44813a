/** The headless Service `<name>-runtime` governing the runtime StatefulSet (stable pod DNS names). */
import type { V1Service } from '@kubernetes/client-node';
import { RUNTIME_PORT, RUNTIME_PORT_NAME } from '../../api/constants.js';
import type { SampleSet } from '../../api/sampleset.js';
import { namespaceOf, runtimeName } from './names.js';
import { runtimeLabels, runtimeSelector } from './runtime-statefulset.js';

export function buildRuntimeService(s: SampleSet): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: runtimeName(s), namespace: namespaceOf(s), labels: runtimeLabels(s) },
    spec: {
      clusterIP: 'None',
      selector: runtimeSelector(s),
      // The operator talks to pods by IP; DNS names should exist even while a pod is not ready.
      publishNotReadyAddresses: true,
      ports: [{ name: RUNTIME_PORT_NAME, port: RUNTIME_PORT, targetPort: RUNTIME_PORT_NAME, protocol: 'TCP' }],
    },
  };
}
