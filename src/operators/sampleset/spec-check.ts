/**
 * Phase 1 of a SampleSet pass: the spec and the Secrets it names are usable. Pure: Secrets are read
 * through `secretOf` (the operator's cache). A problem throws a SpecError (Ready=False, a Warning
 * Event, wait for an edit); no Secret of another namespace is ever looked at.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { engineNameOf, type SampleSet } from '../../api/sampleset.js';
import { SpecError, type CacheEngine } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { checkSecretNamespaces, ownSecretKey } from '../shared/secret-refs.js';

export type SecretKey = { namespace: string; name: string };

/** What the later phases build on. */
export interface CheckedSpec {
  engine: CacheEngine;
  /** The volume's Secret (spec.secretRef). */
  volumeSecret: V1Secret;
  /** The initial sync is wanted (a source, and spec.noSync unset). */
  wantsSync: boolean;
  /** The source credentials of the sync: spec.source.secretRef, else the volume Secret. */
  sourceSecret?: V1Secret;
}

/** The Secret a reference names: always in the SampleSet's own namespace (see secret-refs.ts). */
export function secretKeyOf(ss: SampleSet, ref: { name: string; namespace?: string } | undefined): SecretKey | undefined {
  return ownSecretKey(ss.metadata.namespace || 'default', ref);
}

export function checkSpec(ss: SampleSet, engines: EngineRegistry, secretOf: (key: SecretKey) => V1Secret | undefined): CheckedSpec {
  const ns = ss.metadata.namespace!;
  checkSecretNamespaces(ns, [
    ['spec.secretRef', ss.spec.secretRef],
    ['spec.source.secretRef', ss.spec.source?.secretRef],
  ]);
  const engine = engines.get(engineNameOf(ss));
  engine.validateSpec(ss);
  const volRef = secretKeyOf(ss, ss.spec.secretRef);
  if (!volRef) throw new SpecError('SecretRefMissing', "spec.secretRef must name the volume Secret of the SampleSet's cache engine");
  const volumeSecret = secretOf(volRef);
  if (!volumeSecret)
    throw new SpecError(
      'SecretNotFound',
      `Secret ${volRef.namespace}/${volRef.name} (spec.secretRef) does not exist; create it and the SampleSet proceeds`,
    );
  engine.validateVolumeSecret(volumeSecret, ss);
  const wantsSync = !ss.spec.noSync && !!ss.spec.source?.uri;
  if (!wantsSync) return { engine, volumeSecret, wantsSync };
  let sourceSecret = volumeSecret;
  const srcRef = secretKeyOf(ss, ss.spec.source?.secretRef);
  if (srcRef) {
    const found = secretOf(srcRef);
    if (!found)
      throw new SpecError(
        'SourceSecretNotFound',
        `Secret ${srcRef.namespace}/${srcRef.name} (spec.source.secretRef) does not exist; create it and the SampleSet proceeds`,
      );
    sourceSecret = found;
  }
  // the sync request is pure: building it now reports problems of the source with its credentials
  // (e.g. CredentialsInArguments) before any object is created
  engine.initialSyncRequest(ss, 'validate', sourceSecret);
  return { engine, volumeSecret, wantsSync, sourceSecret };
}
