/** The runtime's bearer token, in a Secret the operator creates and owns (`<name>-runtime-token`). */
import type { V1Secret } from '@kubernetes/client-node';
import { CREATED_BY_LABEL, CREATED_BY_VALUE, SAMPLESET_LABEL } from '../../api/constants.js';
import type { SampleSet } from '../../api/sampleset.js';
import { RUNTIME_TOKEN_KEY } from '../../api/runtime-protocol.js';
import { COMPONENT_LABEL, RUNTIME_COMPONENT } from './constants.js';
import { namespaceOf, tokenSecretName } from './names.js';

export function buildTokenSecret(s: SampleSet, token: string): V1Secret {
  if (!token) throw new Error('runtime token is empty');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: tokenSecretName(s),
      namespace: namespaceOf(s),
      labels: { [SAMPLESET_LABEL]: s.metadata.name!, [COMPONENT_LABEL]: RUNTIME_COMPONENT, [CREATED_BY_LABEL]: CREATED_BY_VALUE },
    },
    data: { [RUNTIME_TOKEN_KEY]: Buffer.from(token, 'utf8').toString('base64') },
  };
}
