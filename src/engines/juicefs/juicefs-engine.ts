/**
 * The JuiceFS engine's controller half: pure builders from a SampleSet to the objects that realise
 * it (CSI PV/PVC, runtime StatefulSet, headless Service, token Secret) and from SampleJobs to
 * runtime job requests. No I/O; every problem in the user's spec is a SpecError.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { cacheNodeLabelKey } from '../../api/constants.js';
import type { SampleJob } from '../../api/samplejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { RuntimeJobRequest } from '../../api/runtime-protocol.js';
import { MAX_SHARDS } from './sharding.js';
import { SpecError, type CacheEngine, type SampleSetContext, type SampleSetObjects } from '../cache-engine.js';
import { JUICEFS_ENGINE } from './constants.js';
import { checkCacheRoots, DEFAULT_CACHE_ROOTS } from '../toolkit/cache-roots.js';
import { fanOut, initialSyncRequest, jobRequest } from './job-requests.js';
import { buildMountConfig } from './mount-options.js';
import * as names from './names.js';
import { buildRuntimeService } from './runtime-service.js';
import { buildRuntimeStatefulSet } from './runtime-statefulset.js';
import { validateVolumeSecret } from './secret-validation.js';
import { parseSourceUri } from './source-uri.js';
import { buildTokenSecret } from './token-secret.js';
import { buildPersistentVolume, buildPersistentVolumeClaim } from './volume.js';

export interface JuiceFsEngineOptions {
  /**
   * Host directories cache tiers may live under (the operator's --cache-root; default
   * DEFAULT_CACHE_ROOTS). A SampleSet's tiers must be below one of them.
   */
  cacheRoots?: string[];
}

export class JuiceFsEngine implements CacheEngine {
  readonly name = JUICEFS_ENGINE;
  readonly cacheRoots: string[];

  constructor(opts: JuiceFsEngineOptions = {}) {
    this.cacheRoots = checkCacheRoots(opts.cacheRoots ?? DEFAULT_CACHE_ROOTS);
  }

  validateVolumeSecret(secret: V1Secret | undefined, sampleSet: SampleSet): void {
    validateVolumeSecret(secret, sampleSet);
  }

  validateSpec(sampleSet: SampleSet): void {
    const s = sampleSet.spec;
    if (!sampleSet.metadata.name) throw new SpecError('InvalidSpec', 'the SampleSet has no name');
    if (!Number.isInteger(s.partitions) || s.partitions < 1 || s.partitions > MAX_SHARDS)
      throw new SpecError('InvalidSpec', `spec.partitions must be an integer from 1 to ${MAX_SHARDS}`);
    if (!s.secretRef?.name) throw new SpecError('SecretNotFound', 'spec.secretRef.name is required (the JuiceFS volume Secret)');
    buildMountConfig(sampleSet, this.cacheRoots);
    if (s.source?.uri) parseSourceUri(s.source.uri);
    else if (!s.noSync) throw new SpecError('SourceMissing', 'spec.source.uri is required unless spec.noSync is true');
  }

  buildObjects(ctx: SampleSetContext): SampleSetObjects {
    const s = ctx.sampleSet;
    const mount = buildMountConfig(s, this.cacheRoots);
    return {
      persistentVolume: buildPersistentVolume(s, mount),
      persistentVolumeClaim: buildPersistentVolumeClaim(s),
      tokenSecret: buildTokenSecret(s, ctx.runtimeToken),
      service: buildRuntimeService(s),
      statefulSet: buildRuntimeStatefulSet(s, ctx.runtimeImage, mount),
    };
  }

  persistentVolumeName(s: SampleSet): string {
    return names.persistentVolumeName(s);
  }

  persistentVolumeClaimName(s: SampleSet): string {
    return names.persistentVolumeClaimName(s);
  }

  statefulSetName(s: SampleSet): string {
    return names.runtimeName(s);
  }

  serviceName(s: SampleSet): string {
    return names.runtimeName(s);
  }

  tokenSecretName(s: SampleSet): string {
    return names.tokenSecretName(s);
  }

  nodeLabelKey(s: SampleSet): string {
    return cacheNodeLabelKey(this.name, s.metadata.name!);
  }

  initialSyncRequest(sampleSet: SampleSet, id: string, sourceSecret: V1Secret | undefined): RuntimeJobRequest {
    return initialSyncRequest(sampleSet, id, sourceSecret);
  }

  jobRequest(
    job: SampleJob,
    sampleSet: SampleSet,
    id: string,
    shard: number,
    shards: number,
    credentialsSecret: V1Secret | undefined,
  ): RuntimeJobRequest {
    return jobRequest(job, sampleSet, id, shard, shards, credentialsSecret, this.cacheRoots);
  }

  fanOut(type: SampleJob['spec']['type']): 'one' | 'all' {
    return fanOut(type);
  }
}
