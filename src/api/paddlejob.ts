import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { CommonStatus, CustomResource, ObjectRef } from './common.js';

export interface ResourceSpec {
  replicas: number;
  requests?: number;
  limits?: number;
  template?: V1PodTemplateSpec;
}

export type CleanPodPolicy = 'Always' | 'Never' | 'OnFailure' | 'OnCompletion';
export type Intranet = 'PodIP' | 'Service' | 'Host';

export interface SchedulingPolicy {
  minAvailable?: number;
  queue?: string;
  priorityClass?: string;
  minResources?: Record<string, string | number>;
}

export interface PaddleJobSpec {
  ps?: ResourceSpec;
  worker?: ResourceSpec;
  heter?: ResourceSpec;
  cleanPodPolicy?: CleanPodPolicy;
  intranet?: Intranet;
  withGloo?: number;
  elastic?: number;
  schedulingPolicy?: SchedulingPolicy;
  /**
   * waitSeconds: how long a job that has not started waits for the SampleSet to be Ready before it
   * fails (reason SampleSetWaitExpired); unset, it waits as long as it takes.
   */
  sampleSetRef?: { name: string; namespace?: string; mountPath: string; waitSeconds?: number };
}

export type PaddleJobMode = 'PS' | 'Collective' | 'Single';
export type PaddleJobPhase = 'Pending' | 'Starting' | 'Running' | 'Completed' | 'Failed' | 'Succeed' | 'Unknown' | '';
export type RoleName = 'ps' | 'worker' | 'heter';
export const ROLES: readonly RoleName[] = ['ps', 'worker', 'heter'];

export interface ResourceStatus {
  pending?: number;
  starting?: number;
  running?: number;
  failed?: number;
  succeeded?: number;
  unknown?: number;
  refs?: ObjectRef[];
}

export interface PaddleJobStatus extends CommonStatus {
  phase?: PaddleJobPhase;
  mode?: PaddleJobMode;
  ps?: ResourceStatus;
  worker?: ResourceStatus;
  heter?: ResourceStatus;
  startTime?: string;
  completionTime?: string;
  elastic?: string;
}

export type PaddleJob = CustomResource<PaddleJobSpec, PaddleJobStatus>;
