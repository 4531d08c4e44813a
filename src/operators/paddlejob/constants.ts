/**
 * PaddleJob-specific names and numbers: the Paddle port layout, annotation keys, condition types and
 * reasons. Kept here (not in src/api) because only the PaddleJob operator uses them.
 */

/** First port of a Paddle process in PodIP and Service intranet (the original's fixed port). */
export const PADDLE_PORT = 2379;
/** Ports a Paddle process may use from PADDLE_PORT on (the original's TRAINER_PORTS_NUM). */
export const TRAINER_PORTS_NUM = 20;
/** Gloo's HTTP rendezvous listens this far above the first port of ps-0 (or worker-0). */
export const GLOO_HTTP_PORT_OFFSET = TRAINER_PORTS_NUM - 2;
/** PADDLE_GLOO_RENDEZVOUS value selecting the HTTP store. */
export const GLOO_RENDEZVOUS_HTTP = '3';
/** Seconds an elastic job waits for peers (the original's PADDLE_ELASTIC_TIMEOUT). */
export const ELASTIC_TIMEOUT_SECONDS = 60;

/** Annotation on every pod naming its role (kept from the original). */
export const PADDLE_RESOURCE_ANNOTATION = 'paddle-resource';
/**
 * Annotation on the PaddleJob holding its Host-intranet port blocks as JSON
 * `{"ps-0": 35000, "worker-0": 35020}`: the allocation survives an operator restart.
 */
export const HOST_PORTS_ANNOTATION = 'paddlepaddle.org/host-ports';

/** Name of the pod volume carrying the SampleSet's claim. */
export const SAMPLESET_VOLUME_NAME = 'paddle-sampleset';

/** Volcano gang scheduling. */
export const VOLCANO_SCHEDULER_NAME = 'volcano';
export const PODGROUP_CRD_NAME = 'podgroups.scheduling.volcano.sh';
export const VOLCANO_GROUP_ANNOTATION = 'scheduling.k8s.io/group-name';
export const VOLCANO_TASK_ANNOTATION = 'volcano.sh/task-spec';
export const VOLCANO_JOB_NAME_ANNOTATION = 'volcano.sh/job-name';
export const VOLCANO_QUEUE_ANNOTATION = 'volcano.sh/queue-name';

/** Condition types on a PaddleJob. */
export const CONDITION = {
  /** The referenced SampleSet exists, is usable from the job's namespace, its cache engine is installed, and it is Ready. */
  SampleSetReady: 'SampleSetReady',
  /** Gang scheduling requested by spec.schedulingPolicy is in effect (a PodGroup exists). */
  GangScheduling: 'GangScheduling',
  /** Host intranet: every pod has a port block. */
  HostPortsAllocated: 'HostPortsAllocated',
  /** The spec can be realised (names fit, roles present). */
  SpecValid: 'SpecValid',
  /** Terminal outcomes, like batch/v1 Job's. */
  Completed: 'Completed',
  Failed: 'Failed',
} as const;

/** Condition reasons. */
export const REASON = {
  SampleSetReady: 'SampleSetReady',
  SampleSetNotFound: 'SampleSetNotFound',
  SampleSetNotReady: 'SampleSetNotReady',
  /** The SampleSet is not Ready because a partition's node is lost (its CacheNodesAvailable condition is False). */
  SampleSetNodeLost: 'SampleSetNodeLost',
  /** The job waited spec.sampleSetRef.waitSeconds for its SampleSet to be Ready and failed. */
  SampleSetWaitExpired: 'SampleSetWaitExpired',
  SampleSetNamespaceMismatch: 'SampleSetNamespaceMismatch',
  /** The SampleSet's spec.csi.driver names a cache engine this operator does not have installed. */
  CacheEngineNotInstalled: 'CacheEngineNotInstalled',
  PodGroupCreated: 'PodGroupCreated',
  GangSchedulingUnavailable: 'GangSchedulingUnavailable',
  CustomScheduler: 'CustomScheduler',
  PortsAllocated: 'PortsAllocated',
  HostPortsExhausted: 'HostPortsExhausted',
  Valid: 'Valid',
  NameTooLong: 'NameTooLong',
  NoReplicas: 'NoReplicas',
  WorkersSucceeded: 'WorkersSucceeded',
  AllPodsSucceeded: 'AllPodsSucceeded',
  PodFailed: 'PodFailed',
} as const;

/** Event reasons (the original's `Created`/`Deleted` for children, plus failures and phases). */
export const EVENT_REASON = {
  Created: 'Created',
  Deleted: 'Deleted',
  FailedCreate: 'FailedCreate',
  FailedDelete: 'FailedDelete',
} as const;
