// The two Secrets a SampleSet of the e2e suites needs: a fresh JuiceFS volume (SQLite metadata,
// local object storage under `dir`) and the S3 gateway's credentials for its source.
import path from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { SECRET } from '../../src/api/constants.js';
import type { KubeApi } from '../../src/kube/kube-api.js';
import type { S3Gateway } from '../harness/cache-nodes.js';

export async function createVolumeSecrets(
  api: KubeApi,
  ns: string,
  dir: string,
  gw: S3Gateway,
  names: { volume: string; source: string } = { volume: 'jfs', source: 's3' },
): Promise<void> {
  await api.create<V1Secret>(SECRET, {
    metadata: { name: names.volume, namespace: ns },
    stringData: {
      name: `vol-${ns}`.slice(0, 60),
      metaurl: `sqlite3://${path.join(dir, `${ns}.db`)}`,
      storage: 'file',
      bucket: path.join(dir, `${ns}-objects`) + '/',
    },
  });
  await api.create<V1Secret>(SECRET, {
    metadata: { name: names.source, namespace: ns },
    stringData: { 'access-key': gw.accessKey, 'secret-key': gw.secretKey },
  });
}
