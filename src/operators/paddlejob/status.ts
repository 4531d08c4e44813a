/**
 * PaddleJob status from the observed pods: per-role counts and refs, the phase, the mode, times,
 * the terminal conditions. Pure; the operator writes the result only when it differs.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CachedPod } from '../../kube/cached-objects.js';
import type { ObjectRef } from '../../api/common.js';
import { setCondition, type Condition } from '../../api/conditions.js';
import type { PaddleJob, PaddleJobPhase, PaddleJobSpec, PaddleJobStatus, ResourceStatus, RoleName } from '../../api/paddlejob.js';
import { CONDITION, REASON } from './constants.js';
import { jobMode, replicasOf, rolesOf } from './mode.js';
import { podIdentity } from './names.js';
import { kubeTime } from '../../api/time.js';

export type PodState = 'pending' | 'starting' | 'running' | 'succeeded' | 'failed' | 'unknown';

/** Running counts as `running` only when every container is ready; before that it is `starting`. */
export function podState(pod: CachedPod): PodState {
  switch (pod.status?.phase) {
    case 'Succeeded':
      return 'succeeded';
    case 'Failed':
      return 'failed';
    case 'Running': {
      const cs = pod.status.containerStatuses ?? [];
      const ready = cs.length > 0 && cs.every((c) => c.ready);
      return ready ? 'running' : 'starting';
    }
    case 'Unknown':
      return 'unknown';
    default:
      return 'pending';
  }
}

export function isTerminal(phase: PaddleJobPhase | undefined): phase is 'Completed' | 'Failed' {
  return phase === 'Completed' || phase === 'Failed';
}

/**
 * The member pods that count for the job: controlled by this job (uid), labelled with a role the
 * spec has and an index below its replicas, and not being deleted. Sorted by role and index.
 */
export function memberPods(job: PaddleJob, pods: CachedPod[]): CachedPod[] {
  const uid = job.metadata.uid;
  const out: { pod: CachedPod; role: RoleName; index: number }[] = [];
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    if (!pod.metadata?.ownerReferences?.some((r) => r.controller && r.uid === uid)) continue;
    const id = podIdentity(pod);
    if (!id || !job.spec[id.role] || id.index >= replicasOf(job.spec, id.role)) continue;
    out.push({ pod, ...id });
  }
  const order = { ps: 0, worker: 1, heter: 2 };
  return out.sort((a, b) => order[a.role] - order[b.role] || a.index - b.index).map((x) => x.pod);
}

function emptyRoleStatus(): Required<ResourceStatus> {
  return { pending: 0, starting: 0, running: 0, failed: 0, succeeded: 0, unknown: 0, refs: [] };
}

/** Counts and refs of each role the spec sets (zeros included). `pods` should be memberPods(). */
export function roleStatuses(spec: PaddleJobSpec, pods: CachedPod[]): Partial<Record<RoleName, Required<ResourceStatus>>> {
  const out: Partial<Record<RoleName, Required<ResourceStatus>>> = {};
  for (const role of rolesOf(spec)) out[role] = emptyRoleStatus();
  for (const pod of pods) {
    const id = podIdentity(pod);
    const rs = id && out[id.role];
    if (!rs) continue;
    rs[podState(pod)]++;
    const ref: ObjectRef = {
      apiVersion: 'v1',
      kind: 'Pod',
      name: pod.metadata!.name!,
      namespace: pod.metadata!.namespace,
      uid: pod.metadata!.uid,
    };
    rs.refs.push(ref);
  }
  return out;
}

export interface PhaseDecision {
  phase: Exclude<PaddleJobPhase, '' | 'Succeed' | 'Unknown'>;
  reason?: string;
  message?: string;
}

/**
 * - Failed: some member pod failed;
 * - Completed: every worker succeeded (parameter servers and heter servers do not exit on their
 *   own), or, for a job without workers, every pod succeeded;
 * - Running: every member exists and is running or succeeded, and at least one runs;
 * - Pending: some member is missing or pending (not scheduled, or waiting for its ConfigMap);
 * - Starting: otherwise (members exist, some not ready yet).
 */
export function decidePhase(spec: PaddleJobSpec, roles: Partial<Record<RoleName, Required<ResourceStatus>>>): PhaseDecision {
  const entries = rolesOf(spec).map((r) => [r, roles[r] ?? emptyRoleStatus(), replicasOf(spec, r)] as const);
  const failedCount = entries.reduce((n, [, rs]) => n + rs.failed, 0);
  if (failedCount > 0) {
    return { phase: 'Failed', reason: REASON.PodFailed, message: `${failedCount} pod(s) failed` };
  }
  const desired = entries.reduce((n, [, , want]) => n + want, 0);
  const worker = entries.find(([r]) => r === 'worker');
  if (worker && worker[2] > 0) {
    if (worker[1].succeeded >= worker[2])
      return { phase: 'Completed', reason: REASON.WorkersSucceeded, message: `all ${worker[2]} workers succeeded` };
  } else if (desired > 0 && entries.every(([, rs, want]) => rs.succeeded >= want)) {
    return { phase: 'Completed', reason: REASON.AllPodsSucceeded, message: `all ${desired} pods succeeded` };
  }
  const existing = entries.reduce((n, [, rs]) => n + rs.refs.length, 0);
  const pending = entries.reduce((n, [, rs]) => n + rs.pending, 0);
  if (existing < desired || pending > 0 || desired === 0) return { phase: 'Pending' };
  const running = entries.reduce((n, [, rs]) => n + rs.running, 0);
  if (running > 0 && entries.every(([, rs, want]) => rs.running + rs.succeeded >= want)) return { phase: 'Running' };
  return { phase: 'Starting' };
}

function isoNow(now: Date): string {
  return kubeTime(now);
}

/**
 * The next status. `conditions` are the job's conditions with the operator's gates already set.
 * Once the job is Completed or Failed its phase, counts, refs and times are frozen (pods deleted by
 * cleanPodPolicy must not rewrite how it ended); only conditions and observedGeneration move.
 * `failure` fails a job that has not ended, whatever its pods show (it waited too long for its SampleSet).
 */
export function nextStatus(
  job: PaddleJob,
  pods: CachedPod[],
  conditions: Condition[] | undefined,
  now: Date = new Date(),
  failure?: { reason: string; message: string },
): PaddleJobStatus {
  const prev = job.status ?? {};
  const generation = job.metadata.generation;
  if (isTerminal(prev.phase)) {
    return { ...prev, mode: prev.mode ?? jobMode(job.spec), conditions, observedGeneration: generation };
  }
  const members = memberPods(job, pods);
  const roles = roleStatuses(job.spec, members);
  const decision: PhaseDecision = failure ? { phase: 'Failed', ...failure } : decidePhase(job.spec, roles);
  const status: PaddleJobStatus = { phase: decision.phase, mode: jobMode(job.spec), ...roles, observedGeneration: generation };
  status.startTime = prev.startTime ?? (decision.phase === 'Running' || isTerminal(decision.phase) ? isoNow(now) : undefined);
  if (isTerminal(decision.phase)) status.completionTime = prev.completionTime ?? isoNow(now);
  let conds = conditions;
  if (decision.phase === 'Completed') {
    conds = setCondition(
      conds,
      { type: CONDITION.Completed, status: 'True', reason: decision.reason!, message: decision.message!, observedGeneration: generation },
      now,
    );
  } else if (decision.phase === 'Failed') {
    conds = setCondition(
      conds,
      {
        type: CONDITION.Failed,
        status: 'True',
        reason: decision.reason!,
        message: failedMessage(members) ?? decision.message!,
        observedGeneration: generation,
      },
      now,
    );
  }
  if (conds?.length) status.conditions = conds;
  return dropUndefined(status);
}

function failedMessage(pods: CachedPod[]): string | undefined {
  const failed = pods
    .filter((p) => podState(p) === 'failed')
    .map((p) => {
      const term = p.status?.containerStatuses?.find((c) => c.state?.terminated && c.state.terminated.exitCode !== 0)?.state?.terminated;
      return term ? `${p.metadata!.name} (exit code ${term.exitCode}${term.reason ? `, ${term.reason}` : ''})` : p.metadata!.name!;
    });
  return failed.length ? `pod(s) failed: ${failed.join(', ')}` : undefined;
}

function dropUndefined<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** True when writing `next` would change the stored status. */
export function statusChanged(prev: PaddleJobStatus | undefined, next: PaddleJobStatus): boolean {
  return !isDeepStrictEqual(dropUndefined(prev ?? {}), dropUndefined(next));
}

/**
 * A merge patch turning `prev` into `next`: top-level keys that disappear are set to null (a role
 * removed from the spec, say). Nested objects are written whole, lists replace.
 */
export function statusPatch(prev: PaddleJobStatus | undefined, next: PaddleJobStatus): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  for (const k of Object.keys(prev ?? {})) if (!(k in next)) patch[k] = null;
  return patch;
}
