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
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'SpecError';
  }
}

/** Inputs the controller has gathered (read from the API) for building a SampleSet's objects. */
export interface SampleSetContext {
  sampleSet: SampleSet;
  /** The engine's volume Secret named by spec.secretRef (data values base64 as in the API). */
  volumeSecret: V1Secret;
  /** The per-SampleSet runtime bearer token (plain text), stored in `tokenSecret` under RUNTIME_TOKEN_KEY. */
  runtimeToken: string;
  /** Container image for the runtime pods (the operator's own image). */
  runtimeImage: string;
}

/** The objects that realise a SampleSet. Namespaced ones get the SampleSet as controller owner (added by the operator). */
export interface SampleSetObjects {
  persistentVolume: V1PersistentVolume;
  persistentVolumeClaim: V1PersistentVolumeClaim;
  tokenSecret: V1Secret;
  service: V1Service;
  statefulSet: V1StatefulSet;
}

/**
 * The controller half of an engine: pure builders (no API calls, clocks or randomness).
 *
 * Besides the signatures, the operators rely on the following; every one that can be checked on
 * built objects is checked for each installed engine and the example by
 * test/unit/engines/engine-contract.test.ts. The constants named live in src/api/constants.ts
 * (SAMPLESET_LABEL, RUNTIME_PORT, RUNTIME_PORT_NAME, cacheNodeLabelKey) and
 * src/api/runtime-protocol.ts (RUNTIME_TOKEN_KEY, RUNTIME_TOKEN_ENV, MAX_WARMUP_SHARDS).
 *
 * Names — the name functions give exactly the names of the objects `buildObjects` returns (the
 * operators find objects by them without building), differ between SampleSets (the PV is
 * cluster-scoped: its name must differ for the same SampleSet name in two namespaces), and fit
 * the API server for the longest SampleSet name the CRD admits (55 characters) and up to
 * MAX_WARMUP_SHARDS partitions: the StatefulSet name at most 52 characters (its pods get the label
 * `controller-revision-hash=<name>-<hash of up to 10>`), the Service name a DNS label.
 *
 * Runtime pods — the operators (SampleSet: status, node labels, sync; SampleJob: dispatch;
 * src/operators/shared/runtime-pods.ts) take as a SampleSet's runtime pods exactly the pods that
 *  - carry the label `paddlepaddle.org/sampleset=<SampleSet name>` (SAMPLESET_LABEL; the pod
 *    watches select on it),
 *  - have as controller the StatefulSet named `statefulSetName(sampleSet)`, and
 *  - are named `<statefulSetName>-<ordinal>`; the ordinal is the partition.
 * So the runtime is a StatefulSet, one pod per partition (the operator scales `spec.replicas` to
 * `spec.partitions`). The operator also stamps SAMPLESET_LABEL and `app.kubernetes.io/managed-by`
 * on every object and on the pod template, but the engine's own selectors — the StatefulSet's,
 * the Service's and the anti-affinity's — must include `SAMPLESET_LABEL: <name>` themselves, so
 * they select this SampleSet's pods only.
 *
 * The runtime container — runs `paddle-runtime` with `formatRuntimeArgs({ engine: <this name>, … })`
 * listening on 0.0.0.0:RUNTIME_PORT (7716) and declares the container port named RUNTIME_PORT_NAME
 * (`runtime`) on it: the operators call `http://<podIP>:7716` directly, never through the
 * Service. Its readiness probe is `GET /healthz` on that port (unauthenticated): the operators
 * only call pods whose Ready condition is True.
 *
 * The token — `tokenSecret` is named `tokenSecretName(sampleSet)` and holds `ctx.runtimeToken`
 * under the key RUNTIME_TOKEN_KEY (`token`, base64 in `data`); the runtime container gets it as
 * env RUNTIME_TOKEN_ENV through a `secretKeyRef` to that Secret and key, never as a literal in
 * the pod template. The operators read the token back from that key (and write it there when the
 * Secret lacks it).
 *
 * Placement — at most one runtime pod per node: a required pod anti-affinity term with
 * `topologyKey: kubernetes.io/hostname` whose selector matches the runtime pods themselves (a
 * SampleSet is Ready only when its partitions run on distinct nodes); the SampleSet's
 * `nodeAffinity` and `tolerations` are copied to the pod template.
 *
 * The node label — `nodeLabelKey(sampleSet)` is written by the SampleSet operator (not the
 * engine) on the node of each partition pod, valued with that pod's name; PaddleJob pins its pod
 * *i* to the node labelled with runtime pod *i*. The key must lie under `paddlepaddle.org/` (node
 * events are mapped back to SampleSets only for that prefix) and be a valid label key: use
 * `cacheNodeLabelKey(engine.name, sampleSet.metadata.name)`, which with 55-character SampleSet
 * names fits only engine names of at most 7 characters.
 *
 * The volume — the PVC `persistentVolumeClaimName(sampleSet)` is bound to exactly the engine's PV
 * (`spec.volumeName`) and is what training pods mount; the PV's reclaim policy is `Retain` (the
 * data outlives the SampleSet). Leave `ownerReferences` out: the operator owns the namespaced
 * objects and marks the PV with a label and an annotation.
 */
export interface CacheEngine {
  /**
   * Registry name, e.g. "juicefs": what users write in `spec.csi.driver`, the `--engine` of
   * paddle-runtime, and part of the node label key (at most 7 characters, see above).
   */
  readonly name: string;

  /** Checks the volume Secret; throws SpecError naming the missing/invalid key. */
  validateVolumeSecret(secret: V1Secret | undefined, sampleSet: SampleSet): void;
  /** Checks the spec beyond what the CRD can (e.g. source scheme); throws SpecError. */
  validateSpec(sampleSet: SampleSet): void;

  /** Builds every object of a SampleSet (pure), keeping the contract above. */
  buildObjects(ctx: SampleSetContext): SampleSetObjects;
  /** Names, so operators can find objects without building them (limits above). */
  persistentVolumeName(sampleSet: SampleSet): string;
  persistentVolumeClaimName(sampleSet: SampleSet): string;
  statefulSetName(sampleSet: SampleSet): string;
  serviceName(sampleSet: SampleSet): string;
  tokenSecretName(sampleSet: SampleSet): string;
  /** Node label key marking this SampleSet's cache nodes (under `paddlepaddle.org/`; value: the runtime pod on the node). */
  nodeLabelKey(sampleSet: SampleSet): string;

  /** The initial sync a SampleSet runs unless noSync (source credentials from the source Secret). */
  initialSyncRequest(sampleSet: SampleSet, id: string, sourceSecret: V1Secret | undefined): RuntimeJobRequest;
  /**
   * Translates a SampleJob into the request for runtime pod `shard` of `shards`; throws SpecError.
   * `credentials` come from the job's Secret (sync only).
   */
  jobRequest(
    job: SampleJob,
    sampleSet: SampleSet,
    id: string,
    shard: number,
    shards: number,
    credentialsSecret: V1Secret | undefined,
  ): RuntimeJobRequest;
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
  run(
    type: SampleJob['spec']['type'],
    options: RuntimeJobOptions,
    credentials: Record<string, string> | undefined,
    exec: JobExecution,
  ): Promise<void>;
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
