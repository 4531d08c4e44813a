/**
 * The pods and Services of a PaddleJob's members: the missing ones created in one pass, the
 * surplus ones (scaled down, or all of them at the end under cleanPodPolicy) deleted in one pass,
 * `concurrency` at a time. Expectations keep a pass from acting again on a change its own cache
 * does not show yet.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { CachedPod, CachedService } from '../../kube/cached-objects.js';
import { POD, SERVICE, type ResourceType } from '../../api/constants.js';
import type { PaddleJob, RoleName } from '../../api/paddlejob.js';
import { isNotFound } from '../../kube/api-error.js';
import { createIfAbsent } from '../../kube/create-if-absent.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { isControlledBy } from '../../kube/owner-reference.js';
import { mapSettled } from './concurrency.js';
import { EVENT_REASON } from './constants.js';
import type { Expectations } from './expectations.js';
import type { HostPortTable } from './host-ports.js';
import { replicasOf, rolesOf } from './mode.js';
import { memberKey, podIdentity, podName } from './names.js';
import { buildPod, type PodBuildOptions } from './pod-builder.js';
import { buildPodService } from './service-builder.js';

export interface Member {
  role: RoleName;
  index: number;
  name: string;
}

/** The members the spec wants, by role and index. */
export function desiredMembers(job: PaddleJob): Member[] {
  const out: Member[] = [];
  for (const role of rolesOf(job.spec)) {
    for (let i = 0; i < replicasOf(job.spec, role); i++) out.push({ role, index: i, name: podName(job.metadata.name!, role, i) });
  }
  return out;
}

function summarize(names: string[], max = 8): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

function firstError(results: PromiseSettledResult<unknown>[]): unknown {
  return results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
}

export interface MemberChildrenDeps {
  api: Pick<KubeApi, 'create' | 'delete'>;
  /** The pods and Services whose controller has this uid. */
  podsControlledBy(uid: string): CachedPod[];
  pod(name: string, namespace: string | undefined): CachedPod | undefined;
  servicesControlledBy(uid: string): CachedService[];
  service(name: string, namespace: string | undefined): CachedService | undefined;
  creations: Expectations;
  deletions: Expectations;
  concurrency: number;
  event(job: PaddleJob, type: EventType, reason: string, message: string): void;
}

export class MemberChildren {
  constructor(private readonly deps: MemberChildrenDeps) {}

  /** The job's own pods in the cache. */
  podsOf(job: PaddleJob): CachedPod[] {
    return this.deps.podsControlledBy(job.metadata.uid!).filter((p) => isControlledBy(p, job));
  }

  private servicesOf(job: PaddleJob): CachedService[] {
    return this.deps.servicesControlledBy(job.metadata.uid!).filter((s) => isControlledBy(s, job));
  }

  private isSurplus(job: PaddleJob, o: KubernetesObject): boolean {
    const id = podIdentity(o);
    return !id || !job.spec[id.role] || id.index >= replicasOf(job.spec, id.role);
  }

  /** Deletes the pods (and their Services) beyond the replicas of their role. */
  async scaleDown(job: PaddleJob, jobKey: string): Promise<void> {
    const pods = this.podsOf(job).filter((p) => !p.metadata?.deletionTimestamp && this.isSurplus(job, p));
    const services = this.servicesOf(job).filter((s) => this.isSurplus(job, s));
    await this.deleteChildren(job, jobKey, pods, services, 'scaled down');
  }

  /** Deletes every pod and Service of an ended job (`why`: the outcome and policy, for the Event). */
  async deleteAll(job: PaddleJob, jobKey: string, why: string): Promise<void> {
    const pods = this.podsOf(job).filter((p) => !p.metadata?.deletionTimestamp);
    const services = this.servicesOf(job);
    await this.deleteChildren(job, jobKey, pods, services, why);
  }

  private async deleteChildren(job: PaddleJob, jobKey: string, pods: CachedPod[], services: CachedService[], why: string): Promise<void> {
    const { deletions } = this.deps;
    const todo: { type: ResourceType; obj: KubernetesObject }[] = [
      ...pods.filter((p) => !deletions.pending(jobKey, p.metadata!.uid!)).map((obj) => ({ type: POD, obj })),
      ...services.filter((s) => !deletions.pending(jobKey, s.metadata!.uid!)).map((obj) => ({ type: SERVICE, obj })),
    ];
    if (!todo.length) return;
    const results = await mapSettled(todo, this.deps.concurrency, async ({ type, obj }) => {
      await this.deps.api.delete(type, obj.metadata!.name!, obj.metadata!.namespace, { uid: obj.metadata!.uid });
      deletions.expect(jobKey, [obj.metadata!.uid!]);
    });
    const done = todo.filter((_, i) => results[i].status === 'fulfilled');
    const podNames = done.filter((t) => t.type === POD).map((t) => t.obj.metadata!.name!);
    const svcNames = done.filter((t) => t.type === SERVICE).map((t) => t.obj.metadata!.name!);
    if (podNames.length) this.deps.event(job, 'Normal', EVENT_REASON.Deleted, `Deleted pods (${why}): ${summarize(podNames)}`);
    if (svcNames.length) this.deps.event(job, 'Normal', EVENT_REASON.Deleted, `Deleted Services (${why}): ${summarize(svcNames)}`);
    const err = firstError(results);
    if (err && !isNotFound(err)) {
      this.deps.event(job, 'Warning', EVENT_REASON.FailedDelete, `Could not delete some children: ${(err as Error).message}`);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the first rejection reason unchanged
      throw err;
    }
  }

  /** Service intranet: a Service per member. */
  async ensureServices(job: PaddleJob, jobKey: string): Promise<void> {
    const ns = job.metadata.namespace;
    const { creations } = this.deps;
    const missing = desiredMembers(job).filter((m) => !this.deps.service(m.name, ns) && !creations.pending(jobKey, `service/${m.name}`));
    if (!missing.length) return;
    await this.createAll(job, 'Services', missing, async (m) => {
      await createIfAbsent(this.deps.api, SERVICE, buildPodService(job, m.role, m.index));
      creations.expect(jobKey, [`service/${m.name}`]);
    });
  }

  /** Creates every missing member pod; whether any was created. */
  async createMissingPods(job: PaddleJob, jobKey: string, build: PodBuildOptions, ports: HostPortTable): Promise<boolean> {
    const ns = job.metadata.namespace;
    const { creations } = this.deps;
    const missing = desiredMembers(job).filter((m) => {
      if (this.deps.pod(m.name, ns)) {
        creations.observed(jobKey, `pod/${m.name}`);
        return false;
      }
      return !creations.pending(jobKey, `pod/${m.name}`);
    });
    if (!missing.length) return false;
    const created = await this.createAll(job, 'pods', missing, async (m) => {
      await createIfAbsent(this.deps.api, POD, buildPod(job, m.role, m.index, { ...build, hostPort: ports[memberKey(m.role, m.index)] }));
      creations.expect(jobKey, [`pod/${m.name}`]);
    });
    return created > 0;
  }

  /** Runs `create` for every member, `concurrency` at a time; one Event for what was created, one for a failure (rethrown). Returns how many were created. */
  private async createAll(job: PaddleJob, what: string, members: Member[], create: (m: Member) => Promise<void>): Promise<number> {
    const results = await mapSettled(members, this.deps.concurrency, create);
    const created = members.filter((_, i) => results[i].status === 'fulfilled').map((m) => m.name);
    if (created.length) this.deps.event(job, 'Normal', EVENT_REASON.Created, `Created ${what}: ${summarize(created)}`);
    const err = firstError(results);
    if (err) {
      this.deps.event(job, 'Warning', EVENT_REASON.FailedCreate, `Could not create ${what}: ${(err as Error).message}`);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the first rejection reason unchanged
      throw err;
    }
    return created.length;
  }
}
