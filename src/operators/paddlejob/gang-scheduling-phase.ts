/**
 * The gang-scheduling phase of a PaddleJob pass, for jobs with spec.schedulingPolicy: a Volcano
 * PodGroup when its API is installed (read once per generation of the job), else the default
 * scheduler or, with requireGangScheduling, a wait. A role template naming another scheduler opts
 * out. The GangScheduling condition says which.
 */
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { CRD, PODGROUP } from '../../api/constants.js';
import type { PaddleJob } from '../../api/paddlejob.js';
import { isNotFound } from '../../kube/api-error.js';
import { createIfAbsent } from '../../kube/create-if-absent.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { isControlledBy } from '../../kube/owner-reference.js';
import { ApiAvailability } from './api-availability.js';
import type { ConditionChange } from './condition-change.js';
import { CONDITION, EVENT_REASON, PODGROUP_CRD_NAME, REASON } from './constants.js';
import { rolesOf } from './mode.js';
import { podGroupName } from './names.js';
import type { PodBuildOptions } from './pod-builder.js';
import { buildPodGroup, podGroupNeedsUpdate, type PodGroup } from './podgroup-builder.js';

export interface GangSchedulingOptions {
  /** Honour spec.schedulingPolicy at all. */
  gangScheduling: boolean;
  /** Without the PodGroup API, wait instead of using the default scheduler. */
  requireGangScheduling: boolean;
  volcanoSchedulerName: string;
  /** How long the answer to "is the PodGroup API installed" is reused. */
  apiCheckTtlMs: number;
}

export interface GangSchedulingDeps {
  api: Pick<KubeApi, 'get' | 'create' | 'patch'>;
  event(job: PaddleJob, type: EventType, reason: string, message: string): void;
}

export interface GangSchedulingResult {
  condition: ConditionChange;
  /** The pods' scheduler settings when a PodGroup is in place. */
  gang?: PodBuildOptions['gang'];
  /** No pod may be created yet. */
  wait?: boolean;
  requeueAfterMs?: number;
}

export class GangSchedulingPhase {
  private readonly podGroupApi: ApiAvailability;
  /** jobKey → the job (uid) and generation whose PodGroup is known to be in place. */
  private readonly ensured = new Map<string, { uid?: string; generation?: number }>();

  constructor(
    private readonly deps: GangSchedulingDeps,
    private readonly opts: GangSchedulingOptions,
  ) {
    this.podGroupApi = new ApiAvailability(() => this.podGroupApiInstalled(), opts.apiCheckTtlMs);
  }

  forget(jobKey: string): void {
    this.ensured.delete(jobKey);
  }

  async ensure(job: PaddleJob, jobKey: string): Promise<GangSchedulingResult> {
    const gen = job.metadata.generation;
    const policy = job.spec.schedulingPolicy;
    if (!policy || !this.opts.gangScheduling) return { condition: { remove: CONDITION.GangScheduling } };
    const custom = rolesOf(job.spec)
      .map((r) => job.spec[r]?.template?.spec?.schedulerName)
      .find((s) => s && s !== this.opts.volcanoSchedulerName);
    if (custom) {
      const message = `a role template sets schedulerName ${custom}; no Volcano PodGroup is used`;
      return {
        condition: {
          set: { type: CONDITION.GangScheduling, status: 'False', reason: REASON.CustomScheduler, message, observedGeneration: gen },
        },
      };
    }
    if (!(await this.podGroupApi.available())) {
      const wait = this.opts.requireGangScheduling;
      const message =
        `spec.schedulingPolicy asks for gang scheduling but the Volcano PodGroup API (${PODGROUP_CRD_NAME}) is not installed; ` +
        (wait ? 'the job waits until it is' : 'pods are scheduled one by one by the default scheduler');
      this.deps.event(job, 'Warning', REASON.GangSchedulingUnavailable, message);
      return {
        condition: {
          set: {
            type: CONDITION.GangScheduling,
            status: 'False',
            reason: REASON.GangSchedulingUnavailable,
            message,
            observedGeneration: gen,
          },
        },
        wait,
        requeueAfterMs: wait ? this.opts.apiCheckTtlMs : undefined,
      };
    }
    // the PodGroup is read once per generation of the job (and after a restart), not on every pass
    const ensured = this.ensured.get(jobKey);
    if (ensured?.uid !== job.metadata.uid || ensured?.generation !== gen) {
      await this.ensurePodGroup(job);
      this.ensured.set(jobKey, { uid: job.metadata.uid, generation: gen });
    }
    const want = buildPodGroup(job).spec;
    const message = `PodGroup ${podGroupName(job.metadata.name!)} with minMember ${want.minMember}${want.queue ? ` in queue ${want.queue}` : ''}`;
    return {
      condition: {
        set: { type: CONDITION.GangScheduling, status: 'True', reason: REASON.PodGroupCreated, message, observedGeneration: gen },
      },
      gang: { schedulerName: this.opts.volcanoSchedulerName, queue: policy.queue },
    };
  }

  private async podGroupApiInstalled(): Promise<boolean> {
    const crd = await this.deps.api.get<V1CustomResourceDefinition>(CRD, PODGROUP_CRD_NAME);
    return !!crd?.spec?.versions?.some((v) => v.name === PODGROUP.version && v.served);
  }

  private async ensurePodGroup(job: PaddleJob): Promise<void> {
    const want = buildPodGroup(job);
    const name = want.metadata!.name!;
    const existing = await this.deps.api.get<PodGroup>(PODGROUP, name, job.metadata.namespace);
    if (!existing) {
      try {
        if (await createIfAbsent(this.deps.api, PODGROUP, want))
          this.deps.event(job, 'Normal', EVENT_REASON.Created, `Created PodGroup ${name} (minMember ${want.spec.minMember})`);
      } catch (e) {
        if (isNotFound(e)) this.podGroupApi.invalidate();
        throw e;
      }
      return;
    }
    if (!isControlledBy(existing, job)) {
      this.deps.event(job, 'Warning', EVENT_REASON.FailedCreate, `PodGroup ${name} exists and is not owned by this job; using it as it is`);
      return;
    }
    if (podGroupNeedsUpdate(existing, want.spec)) await this.deps.api.patch(PODGROUP, name, job.metadata.namespace, { spec: want.spec });
  }
}
