/**
 * The JuiceFS volume Secret (read by the CSI driver through nodePublishSecretRef): `name` and
 * `metaurl` are required; `storage`, `bucket`, `access-key`, `secret-key` (and the CSI driver's
 * other keys) are optional — they are needed only when the CSI driver has to format the volume.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { SampleSet } from '../../api/sampleset.js';
import { SpecError } from '../cache-engine.js';

export const REQUIRED_VOLUME_KEYS = ['name', 'metaurl'] as const;
export const OPTIONAL_VOLUME_KEYS = ['storage', 'bucket', 'access-key', 'secret-key'] as const;

/** JuiceFS's own rule for volume names (cmd/format.go). */
const VOLUME_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** The Secret's values as plain strings (`data` is base64; `stringData` wins when both are set). */
export function decodeSecretData(secret: V1Secret | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret?.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret?.stringData ?? {})) out[k] = v;
  return out;
}

function secretRefText(secret: V1Secret | undefined, sampleSet: SampleSet): string {
  const ns = sampleSet.metadata.namespace || 'default';
  const name = secret?.metadata?.name ?? sampleSet.spec.secretRef?.name ?? '?';
  return `${ns}/${name}`;
}

/** Throws SpecError SecretNotFound / SecretKeyMissing / SecretKeyInvalid (never echoing values). */
export function validateVolumeSecret(secret: V1Secret | undefined, sampleSet: SampleSet): void {
  if (!secret)
    throw new SpecError('SecretNotFound', `JuiceFS volume Secret ${secretRefText(secret, sampleSet)} (spec.secretRef) does not exist`);
  const data = decodeSecretData(secret);
  for (const key of REQUIRED_VOLUME_KEYS) {
    if (!data[key]?.trim())
      throw new SpecError('SecretKeyMissing', `JuiceFS volume Secret ${secretRefText(secret, sampleSet)} lacks the required key "${key}"`);
  }
  if (!VOLUME_NAME.test(data.name.trim())) {
    throw new SpecError(
      'SecretKeyInvalid',
      `key "name" of Secret ${secretRefText(secret, sampleSet)} is not a valid JuiceFS volume name (3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit)`,
    );
  }
  if (/[\s\0]/.test(data.metaurl.trim()))
    throw new SpecError('SecretKeyInvalid', `key "metaurl" of Secret ${secretRefText(secret, sampleSet)} contains whitespace`);
}
