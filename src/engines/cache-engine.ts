/**
 * The extension point for cache engines. An engine is registered by name in the
 * container (`spec.csi.driver` picks it; default `juicefs`) and has two halves:
 *  - the controller half (`CacheEngine`): pure builders that turn a SampleSet into the Kubernetes
 *    objects that realise it, and SampleJob specs into runtime job requests;
 *  - the runtime half (`CacheRuntime`): executes those jobs inside a cache pod.
 * No operator knows anything engine-specific beyond this interface.
 */
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Secret, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { SampleSet } from '../api/sampleset.js';
import type { SampleJob } from '../api/samplejob.js';
import type { JobProgressReport, NodeCacheStats, RuntimeJobOptions, RuntimeJobRequest } from '../api/runtime-protocol.js';

/** A problem in the user's spec or Secrets: becomes a condition reason and message, never a crash. */
export class SpecError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** Inputs the controller has gathered (read from the API) for building a SampleSet's objects. */
export interface SampleSetContext {
  sampleSet: SampleSet;
  /** The engine's volume Secret named by spec.secretRef (data values base64 as in the API). */
  volumeSecret: V1Secret;
  /** The per-SampleSet runtime bearer token (plain text). */
  runtimeToken: string;
  /** Container image for the runtime pods (the operator's own image). */
  runtimeImage: string;
}

/** The objects that realise a SampleSet. Namespaced ones get the SampleSet as controller owner. */
export interface SampleSetObjects {
  persistentVolume: V1PersistentVolume;
  persistentVolumeClaim: V1PersistentVolumeClaim;
  tokenSecret: V1Secret;
  service: V1Service;
  statefulSet: V1StatefulSet;
}

export interface CacheEngine {
  /** Registry name, e.g. "juicefs". */
  readonly name: string;

  /** Checks the volume Secret; throws SpecError naming the missing/invalid key. */
  validateVolumeSecret(secret: V1Secret | undefined, sampleSet: SampleSet): void;
  /** Checks the spec beyond what the CRD can (e.g. source scheme); throws SpecError. */
  validateSpec(sampleSet: SampleSet): void;

  /** Builds every object of a SampleSet (pure). */
  buildObjects(ctx: SampleSetContext): SampleSetObjects;
  /** Names, so operators can find objects without building them. */
  persistentVolumeName(sampleSet: SampleSet): string;
  persistentVolumeClaimName(sampleSet: SampleSet): string;
  statefulSetName(sampleSet: SampleSet): string;
  serviceName(sampleSet: SampleSet): string;
  tokenSecretName(sampleSet: SampleSet): string;
  /** Node label key marking this SampleSet's cache nodes. */
  nodeLabelKey(sampleSet: SampleSet): string;

  /** The initial sync a SampleSet runs unless noSync (source credentials from the source Secret). */
  initialSyncRequest(sampleSet: SampleSet, id: string, sourceSecret: V1Secret | undefined): RuntimeJobRequest;
  /**
   * Translates a SampleJob into the request for runtime pod `shard` of `shards`; throws SpecError.
   * `credentials` come from the job's Secret (sync only).
   */
  jobRequest(job: SampleJob, sampleSet: SampleSet, id: string, shard: number, shards: number, credentialsSecret: V1Secret | undefined): RuntimeJobRequest;
  /** Which runtime pods run a job of this type: one (sync, rmr) or all (warmup, clear). */
  fanOut(type: SampleJob['spec']['type']): 'one' | 'all';
}

/** The runtime half, used by paddle-runtime inside a cache pod. */
export interface RuntimeEnvironment {
  /** Where the SampleSet's volume is mounted in this pod (the dataset root). */
  dataDir: string;
  /** This pod's cache tier directories, as seen inside the pod. */
  cacheDirs: string[];
  /** Host paths of the same tiers (as written in cache.levels), parallel to cacheDirs. */
  hostCacheDirs?: string[];
  /** Path to the engine binary (e.g. juicefs). */
  binary?: string;
  /**
   * Optional: local directories a `file://` sync source may read from. Without any, `file://`
   * sources are refused (they would read the runtime pod's own file system).
   */
  fileSourceRoots?: string[];
}

export interface JobExecution {
  signal: AbortSignal;
  onProgress: (p: JobProgressReport) => void;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** Optional: a human-readable summary shown as the job's message (e.g. "copied 120 files"). */
  setMessage?: (msg: string) => void;
}

export interface CacheRuntime {
  readonly name: string;
  /** Runs one job to completion; throws with a human-readable message on failure; honours `signal`. */
  run(type: SampleJob['spec']['type'], options: RuntimeJobOptions, credentials: Record<string, string> | undefined, exec: JobExecution): Promise<void>;
  /** This node's cache statistics. */
  stats(): Promise<NodeCacheStats>;
  /**
   * Optional: the engine's own checks of a job at submission, after the generic validation of
   * paddle-runtime's own request validation, so a job that `run` would refuse is refused at once (the server
   * answers 400 with the thrown message). Pure: no file system or child process; messages must
   * not quote credentials.
   */
  validate?(type: SampleJob['spec']['type'], options: RuntimeJobOptions): void;
}

export type CacheRuntimeFactory = (env: RuntimeEnvironment) => CacheRuntime;

/** What the operator's configuration hands every engine's controller half. */
export interface EngineSettings {
  /** Host directories cache tiers may live under (`--cache-roots`); undefined = the engine's default. */
  cacheRoots?: string[];
}

/**
 * An engine as it is installed: its name, how to build its controller half from the operator's
 * settings, and its runtime half. `src/engines/installed.ts` lists the installed ones.
 */
export interface EnginePackage {
  readonly name: string;
  controller(settings: EngineSettings): CacheEngine;
  readonly runtime: CacheRuntimeFactory;
}
