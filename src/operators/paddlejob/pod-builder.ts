/**
 * Builds the pod of one PaddleJob member from its role template: names, labels, owner, restart
 * policy, the Paddle environment contract on every container, intranet wiring, the SampleSet and
 * gang-scheduling additions. Pure: same inputs, same pod.
 */
import type { V1Container, V1ContainerPort, V1EnvFromSource, V1EnvVar, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { PADDLE_JOB_NAME, PADDLE_RES_INDEX, PADDLE_RES_NAME, PADDLE_RES_TYPE } from '../../api/constants.js';
import type { Intranet, PaddleJob, RoleName } from '../../api/paddlejob.js';
import { ownerReference } from '../../kube/owner-reference.js';
import { applySampleSet, type SampleSetBinding } from './cache-affinity.js';
import {
  ELASTIC_TIMEOUT_SECONDS,
  PADDLE_PORT,
  PADDLE_RESOURCE_ANNOTATION,
  TRAINER_PORTS_NUM,
  VOLCANO_GROUP_ANNOTATION,
  VOLCANO_JOB_NAME_ANNOTATION,
  VOLCANO_QUEUE_ANNOTATION,
  VOLCANO_TASK_ANNOTATION,
} from './constants.js';
import { isElastic, replicasOf, trainingRole } from './mode.js';
import { configMapName, podGroupName, podName } from './names.js';

export interface PodBuildOptions {
  /** Host intranet: the first of this pod's TRAINER_PORTS_NUM host ports. */
  hostPort?: number;
  /** The job's SampleSet, when it has a sampleSetRef. */
  sampleSet?: SampleSetBinding;
  /** Volcano gang scheduling: scheduler name and queue; the PodGroup is named like the job. */
  gang?: { schedulerName: string; queue?: string };
  /** Elastic jobs: the etcd endpoints Paddle's elastic launcher talks to. */
  elasticServer?: string;
}

export function intranetOf(job: PaddleJob): Intranet {
  return job.spec.intranet ?? 'PodIP';
}

/** The labels that identify a member pod (and select it from its per-pod Service). */
export function podLabels(job: string, role: RoleName, index: number): Record<string, string> {
  return {
    [PADDLE_JOB_NAME]: job,
    [PADDLE_RES_TYPE]: role,
    [PADDLE_RES_INDEX]: String(index),
    [PADDLE_RES_NAME]: podName(job, role, index),
  };
}

/** The original's default: OnFailure for elastic jobs and for Service-intranet workers, else Never. */
export function defaultRestartPolicy(job: PaddleJob, role: RoleName): 'OnFailure' | 'Never' {
  if (isElastic(job)) return 'OnFailure';
  if (intranetOf(job) === 'Service' && role === 'worker') return 'OnFailure';
  return 'Never';
}

/** The Paddle environment contract of one member (values that differ per pod). */
export function paddleEnv(job: PaddleJob, role: RoleName, index: number, opts: PodBuildOptions = {}): V1EnvVar[] {
  const name = job.metadata.name!;
  const env: V1EnvVar[] = [
    intranetOf(job) === 'Service'
      ? { name: 'POD_IP', value: podName(name, role, index) }
      : { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
    { name: 'PADDLE_TRAINER_ID', value: String(index) },
    { name: 'TRAINING_ROLE', value: trainingRole(role) },
    { name: 'PADDLE_TRAINING_ROLE', value: trainingRole(role) },
  ];
  // With host networking each pod has its own port block; `env` wins over the ConfigMap's value.
  if (intranetOf(job) === 'Host' && opts.hostPort !== undefined) env.push({ name: 'PADDLE_PORT', value: String(opts.hostPort) });
  if (isElastic(job)) {
    env.push(
      { name: 'PADDLE_ELASTIC_JOB_ID', value: `${job.metadata.namespace}-${name}` },
      { name: 'PADDLE_ELASTIC_NP', value: String(replicasOf(job.spec, 'worker')) },
      { name: 'PADDLE_ELASTIC_TIMEOUT', value: String(ELASTIC_TIMEOUT_SECONDS) },
    );
    if (opts.elasticServer) env.push({ name: 'PADDLE_ELASTIC_SERVER', value: opts.elasticServer });
  }
  return env;
}

/** Our variables replace user variables of the same name; the ConfigMap is added to envFrom. */
function withContract(c: V1Container, env: V1EnvVar[], envFrom: V1EnvFromSource | undefined): V1Container {
  const ours = new Set(env.map((e) => e.name));
  const from = (c.envFrom ?? []).filter((f) => !(envFrom && f.configMapRef?.name === envFrom.configMapRef?.name));
  return {
    ...c,
    env: [...(c.env ?? []).filter((e) => !ours.has(e.name)), ...env],
    ...(envFrom ? { envFrom: [...from, envFrom] } : {}),
  };
}

/** Adds `ports` to the first container, skipping any port some container of the pod already declares. */
function withPorts(spec: V1PodSpec, ports: V1ContainerPort[]): V1PodSpec {
  const declared = new Set(spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)));
  const names = new Set(spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name).filter(Boolean)));
  const add = ports.filter((p) => !declared.has(p.containerPort)).map((p) => (p.name && names.has(p.name) ? { ...p, name: undefined } : p));
  if (!add.length) return spec;
  const [first, ...rest] = spec.containers;
  return { ...spec, containers: [{ ...first, ports: [...(first.ports ?? []), ...add] }, ...rest] };
}

/** The pod `<job>-<role>-<index>`. */
export function buildPod(job: PaddleJob, role: RoleName, index: number, opts: PodBuildOptions = {}): V1Pod {
  const jobName = job.metadata.name!;
  const roleSpec = job.spec[role];
  if (!roleSpec) throw new Error(`PaddleJob ${jobName} has no ${role} role`);
  const template = roleSpec.template ?? {};
  const intranet = intranetOf(job);
  const name = podName(jobName, role, index);

  const env = paddleEnv(job, role, index, opts);
  const envFrom: V1EnvFromSource | undefined = isElastic(job) ? undefined : { configMapRef: { name: configMapName(jobName) } };
  let spec: V1PodSpec = structuredClone(template.spec ?? { containers: [] });
  spec.containers = spec.containers.map((c) => withContract(c, env, envFrom));
  spec.restartPolicy ??= defaultRestartPolicy(job, role);

  if (intranet === 'Service') {
    spec = withPorts(spec, [{ name: 'paddle', containerPort: PADDLE_PORT, protocol: 'TCP' }]);
  } else if (intranet === 'Host') {
    spec.hostNetwork = true;
    spec.dnsPolicy ??= 'ClusterFirstWithHostNet';
    if (opts.hostPort !== undefined) {
      const base = opts.hostPort;
      // declared so that kube-scheduler keeps other host-port users off these ports on the node
      spec = withPorts(
        spec,
        Array.from({ length: TRAINER_PORTS_NUM }, (_, i) => ({
          ...(i === 0 ? { name: 'paddle' } : {}),
          containerPort: base + i,
          hostPort: base + i,
          protocol: 'TCP',
        })),
      );
    }
  }
  if (opts.sampleSet) spec = applySampleSet(spec, opts.sampleSet, index);

  const annotations: Record<string, string> = { ...(template.metadata?.annotations ?? {}), [PADDLE_RESOURCE_ANNOTATION]: role };
  if (opts.gang) {
    spec.schedulerName = opts.gang.schedulerName;
    annotations[VOLCANO_GROUP_ANNOTATION] = podGroupName(jobName);
    annotations[VOLCANO_TASK_ANNOTATION] = role;
    annotations[VOLCANO_JOB_NAME_ANNOTATION] = jobName;
    if (opts.gang.queue) annotations[VOLCANO_QUEUE_ANNOTATION] = opts.gang.queue;
  }

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: job.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...podLabels(jobName, role, index) },
      annotations,
      ownerReferences: [ownerReference(job)],
    },
    spec,
  };
}
