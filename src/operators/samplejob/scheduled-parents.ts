/**
 * Scheduled SampleJobs (a `schedule` set): like CronJob → Job, the parent runs nothing itself; at
 * each due time it creates a child SampleJob (schedule.ts decides which, honouring the concurrency
 * policy, suspend, the starting deadline and the history limits), deletes replaced and pruned
 * children, and shows the next run in its `Scheduled` condition.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ObjectRef } from '../../api/common.js';
import { setCondition, type Condition } from '../../api/conditions.js';
import { SAMPLEJOB, SAMPLEJOB_FINALIZER } from '../../api/constants.js';
import type { SampleJob } from '../../api/samplejob.js';
import { isNotFound } from '../../kube/api-error.js';
import { createIfAbsent } from '../../kube/create-if-absent.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { Informer } from '../../kube/informer.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { controllerOf } from '../../kube/owner-reference.js';
import type { ReconcileResult } from '../../kube/reconciling-operator.js';
import { kubeTime } from '../../api/time.js';
import type { Clock } from '../../kube/clock.js';
import { buildChild, decideSchedule } from './schedule.js';

export const SCHEDULED_CONDITION = 'Scheduled';
/** setTimeout's limit is ~24.8 days; scheduled parents re-check at least hourly anyway. */
const MAX_REQUEUE_MS = 3_600_000;

/** What the SampleJob operator lends to its scheduled parents. */
export interface ScheduledParentOps {
  api: KubeApi;
  clock: Clock;
  /** The SampleJob cache (children are found by owner). */
  jobs: Informer<SampleJob>;
  event(obj: KubernetesObject, type: EventType, reason: string, message: string): Promise<void>;
  patchStatus(obj: SampleJob, status: Record<string, unknown>): Promise<SampleJob | undefined>;
  removeFinalizer(obj: SampleJob, finalizer: string): Promise<void>;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export class ScheduledParents {
  constructor(private readonly ops: ScheduledParentOps) {}

  async reconcile(parent: SampleJob): Promise<ReconcileResult> {
    // a parent runs nothing itself (a one-shot job turned into a scheduled one keeps no finalizer)
    await this.ops.removeFinalizer(parent, SAMPLEJOB_FINALIZER);
    const ns = parent.metadata?.namespace;
    const now = this.ops.clock.now();
    const children = this.ops.jobs.list(ns, (c) => controllerOf(c)?.uid === parent.metadata?.uid);
    const d = decideSchedule(parent, children, now);
    const prev = parent.status ?? {};

    if (d.error) {
      const conditions = setCondition(
        prev.conditions,
        {
          type: SCHEDULED_CONDITION,
          status: 'False',
          reason: d.error.reason,
          message: d.error.message,
          observedGeneration: parent.metadata?.generation,
        },
        new Date(now),
      );
      if (!sameJson(prev.conditions, conditions) || !sameJson(prev.active ?? [], d.active)) {
        await this.ops.patchStatus(parent, { conditions, active: d.active, observedGeneration: parent.metadata?.generation });
        void this.ops.event(parent, 'Warning', d.error.reason, d.error.message);
      }
      await this.deleteChildren(
        parent,
        d.toDelete.filter((x) => x.reason === 'HistoryLimit'),
      );
      return;
    }

    // Replace: the active runs go first (their finalizers cancel their work)
    await this.deleteChildren(
      parent,
      d.toDelete.filter((x) => x.reason === 'Replace'),
    );
    if (d.toCreate) {
      const child = buildChild(parent, d.toCreate.name, d.toCreate.scheduledTime, d.toCreate.activeDeadlineSeconds);
      if (await createIfAbsent(this.ops.api, SAMPLEJOB, child, ns)) {
        void this.ops.event(
          parent,
          'Normal',
          'SuccessfulCreate',
          `created ${d.toCreate.name} for the run scheduled at ${kubeTime(d.toCreate.scheduledTime)}`,
        );
      }
    }
    if (d.skipped)
      void this.ops.event(
        parent,
        d.skipped.reason === 'ConcurrencyForbid' ? 'Normal' : 'Warning',
        d.skipped.reason === 'ConcurrencyForbid' ? 'RunSkipped' : 'MissedSchedule',
        d.skipped.message,
      );
    if (d.missed > 0)
      void this.ops.event(
        parent,
        'Warning',
        'MissedSchedule',
        `${d.missed} earlier scheduled run(s) were missed (operator down or suspended); only the most recent one is considered`,
      );

    const suspended = !!parent.spec.suspend;
    const cond: Condition = suspended
      ? { type: SCHEDULED_CONDITION, status: 'False', reason: 'Suspended', message: 'spec.suspend is true: no new runs' }
      : {
          type: SCHEDULED_CONDITION,
          status: 'True',
          reason: 'Scheduled',
          message: d.nextRunAt ? `next run at ${kubeTime(d.nextRunAt)}` : 'no future run',
        };
    const conditions = setCondition(prev.conditions, { ...cond, observedGeneration: parent.metadata?.generation }, new Date(now));
    const status: Record<string, unknown> = {
      observedGeneration: parent.metadata?.generation,
      conditions,
      active: d.active,
      lastScheduleTime: d.lastScheduleTime ? kubeTime(d.lastScheduleTime) : undefined,
      lastSuccessfulTime: d.lastSuccessfulTime ? kubeTime(d.lastSuccessfulTime) : undefined,
    };
    const changed =
      prev.observedGeneration !== parent.metadata?.generation ||
      !sameJson(prev.conditions, conditions) ||
      !sameJson(normalizeRefs(prev.active), normalizeRefs(d.active)) ||
      (prev.lastScheduleTime ?? undefined) !== status.lastScheduleTime ||
      (prev.lastSuccessfulTime ?? undefined) !== status.lastSuccessfulTime;
    if (changed) await this.ops.patchStatus(parent, status);

    // history pruning only after lastScheduleTime is recorded, so a pruned run is never recreated
    await this.deleteChildren(
      parent,
      d.toDelete.filter((x) => x.reason === 'HistoryLimit'),
    );

    if (!d.nextRunAt) return;
    return { requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(0, d.nextRunAt.getTime() - now) + 50) };
  }

  private async deleteChildren(parent: SampleJob, list: { name: string; uid?: string; reason: string }[]): Promise<void> {
    for (const c of list) {
      try {
        const deleted = await this.ops.api.delete(SAMPLEJOB, c.name, parent.metadata?.namespace, {
          uid: c.uid,
          propagationPolicy: 'Background',
        });
        if (deleted) {
          void this.ops.event(
            parent,
            'Normal',
            c.reason === 'Replace' ? 'Replaced' : 'SuccessfulDelete',
            c.reason === 'Replace'
              ? `deleted active run ${c.name} (concurrencyPolicy Replace)`
              : `deleted finished run ${c.name} (history limit)`,
          );
        }
      } catch (e) {
        // a precondition failure means a different object of that name: leave it alone
        if (!isNotFound(e) && (e as { code?: number }).code !== 409) throw e;
      }
    }
  }
}

function normalizeRefs(refs: ObjectRef[] | undefined): ObjectRef[] {
  return (refs ?? []).map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, namespace: r.namespace, uid: r.uid }));
}
