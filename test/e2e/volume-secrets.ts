// The two Secrets a SampleSet synced from the S3 gateway needs: a fresh JuiceFS volume (SQLite
// metadata, local object storage under `dir`) and the gateway's credentials for its source.
import type { V1Secret } from '@kubernetes/client-node';
import { SECRET } from '../../src/api/constants.js';
import type { KubeApi } from '../../src/kube/kube-api.js';
import type { S3Gateway } from '../harness/cache-nodes.js';
import { createVolumeSecret } from './sampleset-helpers.js';

export async function createVolumeSecrets(
  api: KubeApi,
  ns: string,
  dir: string,
  gw: S3Gateway,
  names: { volume: string; source: string } = { volume: 'jfs', source: 's3' },
): Promise<void> {
  await createVolumeSecret(api, dir, ns, names.volume);
  await api.create<V1Secret>(SECRET, {
    metadata: { name: names.source, namespace: ns },
    stringData: { 'access-key': gw.accessKey, 'secret-key': gw.secretKey },
  });
}
