import type { V1NodeAffinity, V1Toleration } from '@kubernetes/client-node';
import type { CommonStatus, CustomResource, SecretRef } from './common.js';

/**
 * JuiceFS mount flags keyed by their CLI names (the original's JSON names; `sub-dir` is `--subdir`).
 * The SampleSet CRD lists every option the JuiceFS engine supports (engines/juicefs/mount-flags.ts)
 * with its range: durations are integer seconds or a string such as `90s`, sizes integer MiB or a
 * string such as `2G`. Only the original's options are spelt out here.
 */
export interface JuiceFSMountOptions {
  metrics?: string;
  'attr-cache'?: number | string;
  'entry-cache'?: number | string;
  'dir-entry-cache'?: number | string;
  'enable-xattr'?: boolean;
  'get-timeout'?: number | string;
  'put-timeout'?: number | string;
  'io-retries'?: number;
  'max-uploads'?: number;
  'buffer-size'?: number | string;
  prefetch?: number;
  writeback?: boolean;
  'cache-dir'?: string;
  'cache-size'?: number | string;
  'free-space-ratio'?: string;
  'cache-partial-only'?: boolean;
  'open-cache'?: number | string;
  'sub-dir'?: string;
  [flag: string]: string | number | boolean | undefined;
}

export type MediumType = 'MEM' | 'SSD' | 'HDD';

export interface CacheLevel {
  mediumType: MediumType;
  /** One or more host directories joined by `:`. */
  path: string;
  /** MiB. */
  cacheSize?: number;
}

export interface SampleSetSpec {
  partitions: number;
  /**
   * allowCredentialsInArguments: the source is a storage that reads credentials only from the URI
   * and the owner accepts that juicefs gets them as a command-line argument (see the README).
   */
  source?: { uri: string; secretRef?: SecretRef; allowCredentialsInArguments?: boolean };
  secretRef: SecretRef;
  noSync?: boolean;
  csi?: { driver?: string; juiceFSMountOptions?: JuiceFSMountOptions };
  cache?: { levels?: CacheLevel[] };
  nodeAffinity?: V1NodeAffinity;
  tolerations?: V1Toleration[];
  /** What to do with a partition whose node is lost (default: report it, replace nothing). */
  nodeLossPolicy?: NodeLossPolicy;
  /**
   * How the pod admission webhook places pods that mount this SampleSet's claim (in namespaces that
   * enable it): near the cache nodes if possible (`Preferred`, the default) or only there
   * (`Required`, applied while the SampleSet is Ready). A pod's own annotation wins.
   */
  podAffinity?: CacheAffinityPolicy;
}

export type CacheAffinityPolicy = 'Preferred' | 'Required';

/**
 * replaceAfterSeconds: force-delete the runtime pod of a partition whose node has been lost (not
 * ready, unreachable) this long, so the StatefulSet recreates it on another node; a deleted Node
 * counts at once. Unset: never (the node may still run the pod; see the README).
 */
export interface NodeLossPolicy {
  replaceAfterSeconds?: number;
}

export type SampleSetPhase = '' | 'Bound' | 'Mount' | 'Syncing' | 'SyncFailed' | 'PartialReady' | 'Ready';

export interface CacheStatus {
  totalSize?: string;
  totalFiles?: string;
  cachedSize?: string;
  diskSize?: string;
  diskUsed?: string;
  diskAvail?: string;
  diskUsageRate?: string;
  cachedPercentage?: string;
  totalBytes?: number;
  cachedBytes?: number;
  diskSizeBytes?: number;
  diskUsedBytes?: number;
  diskAvailBytes?: number;
  fileCount?: number;
  /** Block reads served from the cache nodes' caches, as a percentage of all block reads (since the mounts started). */
  cacheHitRatio?: string;
  cacheHits?: number;
  cacheMisses?: number;
  /** Bytes the mounts read from their node's cache, and from the object store (since the mounts started). */
  bytesFromCache?: number;
  bytesFromStore?: number;
  /** Kept with the original's spelling for compatibility. */
  errorMassage?: string;
}

/** The read figures of one cache node (or summed over a SampleSet's nodes). */
export type CacheReadFigures = Pick<CacheStatus, 'cacheHitRatio' | 'cacheHits' | 'cacheMisses' | 'bytesFromCache' | 'bytesFromStore'>;

export interface RuntimeStatus {
  specReplicas?: number;
  readyReplicas?: number;
  runtimeReady?: string;
}

export interface CacheNodeStatus extends CacheReadFigures {
  partition: number;
  pod: string;
  node?: string;
  ready?: boolean;
  message?: string;
  /** When the operator first saw this partition's node lost (RFC 3339); absent while the node is fine. */
  nodeLostSince?: string;
  /** The latest automatic re-warm of this partition's shard (see CacheNodeRewarm). */
  rewarm?: CacheNodeRewarm;
}

/**
 * A partition's shard warmed again by the SampleSet operator: the last warmup SampleJob that
 * succeeded against this SampleSet, re-run on one runtime pod for that pod's shard only, because the
 * pod came after the warmup (a replaced or added partition, a restarted pod) or the partitions changed.
 */
export interface CacheNodeRewarm {
  /** Name of the warmup SampleJob re-run. */
  warmup: string;
  /** Runtime job id of the re-run. */
  id: string;
  /** The shard warmed, of `shards`. */
  shard: number;
  shards: number;
  /** UID of the runtime pod that ran it. */
  podUID: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  message?: string;
  startTime?: string;
  completionTime?: string;
}

export interface SyncJobStatus {
  id?: string;
  phase?: string;
  message?: string;
  startTime?: string;
  completionTime?: string;
}

export interface SampleSetStatus extends CommonStatus {
  phase?: SampleSetPhase;
  runtimeStatus?: RuntimeStatus;
  cacheStatus?: CacheStatus;
  nodes?: CacheNodeStatus[];
  syncJob?: SyncJobStatus;
  lastCacheUpdateTime?: string;
}

export type SampleSet = CustomResource<SampleSetSpec, SampleSetStatus>;

export const DEFAULT_ENGINE = 'juicefs';

export function engineNameOf(s: SampleSet): string {
  return s.spec.csi?.driver || DEFAULT_ENGINE;
}
