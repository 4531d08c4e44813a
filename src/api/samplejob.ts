import type { CommonStatus, CustomResource, ObjectRef, SecretRef } from './common.js';

export type SampleJobType = 'sync' | 'warmup' | 'rmr' | 'clear';
export const SAMPLEJOB_TYPES: readonly SampleJobType[] = ['sync', 'warmup', 'rmr', 'clear'];

/** JuiceFS sync flags keyed by CLI name, plus source and destination. */
export interface SyncJobOptions {
  source?: string;
  destination?: string;
  [flag: string]: string | number | boolean | string[] | undefined;
}

export interface WarmupJobOptions {
  paths?: string[];
  file?: string;
  threads?: number;
  strategyName?: 'sequence' | 'random';
  partitions?: number;
}

export interface RmrJobOptions {
  paths: string[];
}
export interface ClearJobOptions {
  paths?: string[];
}

export type ConcurrencyPolicy = 'Allow' | 'Forbid' | 'Replace';

export interface SampleJobSpec {
  type: SampleJobType;
  sampleSetRef: { name: string };
  secretRef?: SecretRef;
  terminate?: boolean;
  syncOptions?: SyncJobOptions;
  warmupOptions?: WarmupJobOptions;
  rmrOptions?: RmrJobOptions;
  clearOptions?: ClearJobOptions;
  schedule?: string;
  timeZone?: string;
  suspend?: boolean;
  concurrencyPolicy?: ConcurrencyPolicy;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  startingDeadlineSeconds?: number;
  /**
   * A run not finished this many seconds after the SampleJob was created fails with
   * DeadlineExceeded (time spent Pending counts); what it runs is cancelled. Children of a schedule
   * inherit it; with concurrencyPolicy Allow and none set, each gets the time until the next run.
   */
  activeDeadlineSeconds?: number;
}

export type SampleJobPhase = '' | 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface JobProgress {
  filesDone?: number;
  filesTotal?: number;
  bytesDone?: number;
  bytesTotal?: number;
  percent?: string;
}

export interface SampleJobNodeStatus {
  pod: string;
  node?: string;
  phase?: string;
  message?: string;
  attempts?: number;
}

export interface SampleJobStatus extends CommonStatus {
  phase?: SampleJobPhase;
  jobName?: string;
  startTime?: string;
  completionTime?: string;
  attempts?: number;
  progress?: JobProgress;
  nodes?: SampleJobNodeStatus[];
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
  active?: ObjectRef[];
  specHash?: string;
  /** UID of the SampleSet this run started against: a SampleSet created again under the same name never receives the run. */
  sampleSetUID?: string;
}

export type SampleJob = CustomResource<SampleJobSpec, SampleJobStatus>;
