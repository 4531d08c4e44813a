/**
 * Pure scheduling logic of scheduled SampleJobs (`spec.schedule`), CronJob → Job style: given the
 * parent, its children and "now", decide which child to create, which to delete, and when to look
 * again. No I/O and no clock of its own, so unit tests cover schedules, missed runs, time zones,
 * history limits and concurrency policies without waiting.
 *
 * Semantics (close to the Kubernetes CronJob controller):
 * - The run considered is the most recent scheduled time in (last handled time, now]; older missed
 *   times are skipped (reported as `missed`). "Last handled" = max(status.lastScheduleTime, the
 *   newest child's scheduled time), or the parent's creation time.
 * - A child's name is derived from its scheduled time (`<parent>-<unix minutes>`), so the same run
 *   always has the same name: after an operator restart a due run is created once (AlreadyExists
 *   means it was created before) and never twice.
 * - `startingDeadlineSeconds`: a run that could not start within that many seconds is skipped.
 * - `concurrencyPolicy`: Allow runs next to active children; Forbid skips the run while a child is
 *   active (the skipped time counts as handled, so it does not start late when the active one
 *   finishes); Replace deletes the active children and creates the new one.
 * - `suspend`: no new runs (running ones continue); like CronJob, times missed while suspended
 *   count as missed, and the most recent one runs on resume if it is within the deadline.
 * - History: keep the newest `successfulJobsHistoryLimit` (default 3) succeeded and
 *   `failedJobsHistoryLimit` (default 1) failed children; older finished ones are deleted.
 */
import { defaultChildDeadlineSeconds } from './run-deadline.js';
import { createHash } from 'node:crypto';
import { Cron } from 'croner';
import type { ObjectRef } from '../../api/common.js';
import type { SampleJob, SampleJobSpec } from '../../api/samplejob.js';
import { LABEL_DOMAIN } from '../../api/constants.js';
import { kubeTime } from '../../api/time.js';
import { compareText } from '../../api/compare-text.js';

/** Annotation on a child: the scheduled time it runs for (RFC 3339). */
export const SCHEDULED_AT_ANNOTATION = `${LABEL_DOMAIN}/scheduled-at`;
/** Label on a child: the name of its scheduled parent (when it fits in a label value). */
export const SCHEDULED_BY_LABEL = `${LABEL_DOMAIN}/scheduled-by`;

export const DEFAULT_SUCCESSFUL_HISTORY = 3;
export const DEFAULT_FAILED_HISTORY = 1;
/** Missed times counted at most (a long outage of a frequent schedule is not walked minute by minute). */
const MAX_MISSED_COUNT = 1000;
const MAX_NAME = 253;

/** The spec fields that make a SampleJob a scheduled parent; a child gets the spec without them. */
export const SCHEDULE_FIELDS = [
  'schedule',
  'timeZone',
  'suspend',
  'concurrencyPolicy',
  'successfulJobsHistoryLimit',
  'failedJobsHistoryLimit',
  'startingDeadlineSeconds',
] as const satisfies readonly (keyof SampleJobSpec)[];

export function isScheduled(job: SampleJob): boolean {
  return typeof job.spec?.schedule === 'string' && job.spec.schedule.trim() !== '';
}

export type ChildState = 'active' | 'succeeded' | 'failed' | 'terminating';

export interface ChildInfo {
  name: string;
  uid?: string;
  state: ChildState;
  scheduledTime: number;
  completionTime?: number;
}

export interface ScheduleSkip {
  scheduledTime: Date;
  reason: 'ConcurrencyForbid' | 'StartingDeadlineExceeded';
  message: string;
}

export interface ScheduleDecision {
  /** Invalid schedule or time zone: nothing is created until the spec changes. */
  error?: { reason: string; message: string };
  /** The run to create now (its name is deterministic). */
  toCreate?: { name: string; scheduledTime: Date; activeDeadlineSeconds?: number };
  /** Children to delete: active ones replaced (concurrencyPolicy Replace), finished ones beyond the history limits. */
  toDelete: { name: string; uid?: string; reason: 'Replace' | 'HistoryLimit' }[];
  /** A due run that is not started (and counts as handled). */
  skipped?: ScheduleSkip;
  /** Scheduled times older than the one considered that were not run (e.g. while the operator was down). */
  missed: number;
  /** The next scheduled time after now (undefined when suspended or invalid). */
  nextRunAt?: Date;
  /** Status to record. */
  lastScheduleTime?: Date;
  lastSuccessfulTime?: Date;
  /** Children still running (after the decision: replaced ones excluded, the new one included). */
  active: ObjectRef[];
}

function ms(t: string | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  const v = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(v) ? v : undefined;
}

/** Name of the child for a scheduled time: `<parent>-<unix minutes>` (shortened + hashed if too long). */
export function childName(parentName: string, scheduledTime: Date | number): string {
  const minutes = Math.floor(new Date(scheduledTime).getTime() / 60_000);
  const suffix = `-${minutes}`;
  if (parentName.length + suffix.length <= MAX_NAME) return parentName + suffix;
  const hash = createHash('sha256').update(parentName).digest('hex').slice(0, 8);
  const keep = MAX_NAME - suffix.length - hash.length - 1;
  return `${parentName.slice(0, keep).replace(/[-.]+$/, '')}-${hash}${suffix}`;
}

/** The scheduled time a child runs for: its annotation, else the minutes in its name, else its creation time. */
export function scheduledTimeOf(child: SampleJob): number {
  const a = ms(child.metadata?.annotations?.[SCHEDULED_AT_ANNOTATION]);
  if (a !== undefined) return a;
  const m = /-(\d{7,10})$/.exec(child.metadata?.name ?? '');
  if (m) return Number(m[1]) * 60_000;
  return ms(child.metadata?.creationTimestamp) ?? 0;
}

export function childState(child: SampleJob): ChildState {
  if (child.metadata?.deletionTimestamp) return 'terminating';
  const phase = child.status?.phase;
  if (phase === 'Succeeded') return 'succeeded';
  if (phase === 'Failed') return 'failed';
  return 'active';
}

export function childInfo(child: SampleJob): ChildInfo {
  return {
    name: child.metadata.name!,
    uid: child.metadata?.uid,
    state: childState(child),
    scheduledTime: scheduledTimeOf(child),
    completionTime: ms(child.status?.completionTime),
  };
}

/** Checks an IANA time zone name; returns an error message or undefined. */
export function timeZoneError(tz: string | undefined): string | undefined {
  if (tz === undefined) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `unknown time zone "${tz}" (expected an IANA name such as Europe/Berlin)`;
  }
}

/** Parses the schedule (5-field cron or @nickname) in its time zone. Throws with a readable message. */
export function parseSchedule(schedule: string, timeZone?: string): Cron {
  const tzErr = timeZoneError(timeZone);
  if (tzErr) throw new Error(tzErr);
  try {
    return new Cron(schedule.trim(), { paused: true, mode: '5-part', timezone: timeZone, domAndDow: false });
  } catch (e) {
    throw new Error(`invalid schedule "${schedule}": ${(e as Error).message}`);
  }
}

/** The most recent scheduled time in (after, upTo]; undefined if none. */
function latestIn(cron: Cron, after: number, upTo: number): number | undefined {
  const prev = cron.previousRuns(1, new Date(upTo + 1))[0];
  if (!prev) return undefined;
  const t = prev.getTime();
  return t > after ? t : undefined;
}

/** Scheduled times in (after, before), counted up to MAX_MISSED_COUNT. */
function countBetween(cron: Cron, after: number, before: number): number {
  let n = 0;
  let cur: Date | null = new Date(after);
  while (n < MAX_MISSED_COUNT) {
    cur = cron.nextRun(cur);
    if (!cur || cur.getTime() >= before) break;
    n++;
  }
  return n;
}

function ref(parent: SampleJob, name: string, uid?: string): ObjectRef {
  return { apiVersion: parent.apiVersion, kind: parent.kind, name, namespace: parent.metadata?.namespace, uid };
}

/**
 * Decides what a scheduled parent does now. `children` are the SampleJobs it controls (any state).
 */
export function decideSchedule(parent: SampleJob, children: SampleJob[], now: number): ScheduleDecision {
  const spec = parent.spec;
  const infos = children.map(childInfo);
  const toDelete: ScheduleDecision['toDelete'] = [];

  // ---- history: keep the newest N succeeded and M failed children
  const byNewest = (a: ChildInfo, b: ChildInfo): number =>
    b.scheduledTime - a.scheduledTime || (b.completionTime ?? 0) - (a.completionTime ?? 0) || compareText(a.name, b.name);
  const succeeded = infos.filter((c) => c.state === 'succeeded').sort(byNewest);
  const failed = infos.filter((c) => c.state === 'failed').sort(byNewest);
  const keepOk = Math.max(0, spec.successfulJobsHistoryLimit ?? DEFAULT_SUCCESSFUL_HISTORY);
  const keepFailed = Math.max(0, spec.failedJobsHistoryLimit ?? DEFAULT_FAILED_HISTORY);
  for (const c of [...succeeded.slice(keepOk), ...failed.slice(keepFailed)])
    toDelete.push({ name: c.name, uid: c.uid, reason: 'HistoryLimit' });

  let lastSuccessful = ms(parent.status?.lastSuccessfulTime);
  for (const c of succeeded) {
    const t = c.completionTime ?? c.scheduledTime;
    if (lastSuccessful === undefined || t > lastSuccessful) lastSuccessful = t;
  }

  let active = infos.filter((c) => c.state === 'active').sort((a, b) => a.scheduledTime - b.scheduledTime);
  let lastSchedule = ms(parent.status?.lastScheduleTime);
  for (const c of infos) if (lastSchedule === undefined || c.scheduledTime > lastSchedule) lastSchedule = c.scheduledTime;

  const result = (extra: Partial<ScheduleDecision>): ScheduleDecision => ({
    toDelete,
    missed: 0,
    lastScheduleTime: lastSchedule !== undefined ? new Date(lastSchedule) : undefined,
    lastSuccessfulTime: lastSuccessful !== undefined ? new Date(lastSuccessful) : undefined,
    active: active.map((c) => ref(parent, c.name, c.uid)),
    ...extra,
  });

  let cron: Cron;
  try {
    cron = parseSchedule(spec.schedule ?? '', spec.timeZone);
  } catch (e) {
    return result({ error: { reason: 'InvalidSchedule', message: (e as Error).message } });
  }
  try {
    const next = cron.nextRun(new Date(now));
    const nextRunAt = next ?? undefined;
    if (spec.suspend) return result({ nextRunAt: undefined });

    // runs before the parent existed are never due (children it adopted may be older)
    const created = ms(parent.metadata?.creationTimestamp) ?? now;
    const handled = Math.max(created, lastSchedule ?? created);
    const deadlineMs =
      spec.startingDeadlineSeconds !== undefined && spec.startingDeadlineSeconds !== null ? spec.startingDeadlineSeconds * 1000 : undefined;

    const due = latestIn(cron, handled, now);
    if (due === undefined) return result({ nextRunAt });
    const missed = countBetween(cron, handled, due);

    // A run that will not be created: recorded as handled, and said why.
    const skip = (reason: NonNullable<ScheduleDecision['skipped']>['reason'], why: string): ScheduleDecision => {
      lastSchedule = due;
      return result({
        nextRunAt,
        missed,
        skipped: { scheduledTime: new Date(due), reason, message: `run scheduled at ${new Date(due).toISOString()} ${why}` },
      });
    };
    if (deadlineMs !== undefined && due + deadlineMs < now) {
      return skip('StartingDeadlineExceeded', `missed its starting deadline of ${spec.startingDeadlineSeconds}s`);
    }

    const name = childName(parent.metadata.name!, due);
    if (infos.some((c) => c.name === name)) {
      // created before (e.g. the status write was lost): nothing to do but record it
      lastSchedule = Math.max(lastSchedule ?? due, due);
      return result({ nextRunAt, missed });
    }
    const policy = spec.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && active.length > 0) {
      return skip('ConcurrencyForbid', `skipped: ${active.map((c) => c.name).join(', ')} still active (concurrencyPolicy Forbid)`);
    }
    if (policy === 'Replace' && active.length > 0) {
      for (const c of active) toDelete.push({ name: c.name, uid: c.uid, reason: 'Replace' });
      active = [];
    }
    active = [...active, { name, state: 'active', scheduledTime: due }];
    lastSchedule = due;
    // Allow lets runs overlap: there a child runs at most until the next scheduled run, unless the
    // parent sets its own deadline (Forbid and Replace keep one unfinished child at a time)
    const bySchedule = policy === 'Allow' ? defaultChildDeadlineSeconds(due, cron.nextRun(new Date(due))?.getTime()) : undefined;
    const deadline = spec.activeDeadlineSeconds ?? bySchedule;
    return result({
      nextRunAt,
      missed,
      toCreate: { name, scheduledTime: new Date(due), ...(deadline !== undefined ? { activeDeadlineSeconds: deadline } : {}) },
    });
  } finally {
    cron.stop();
  }
}

/**
 * The child SampleJob for one scheduled run: the parent's spec minus the schedule fields, owned by
 * the parent, with the active deadline the schedule decided.
 */
export function buildChild(parent: SampleJob, name: string, scheduledTime: Date, activeDeadlineSeconds?: number): SampleJob {
  const spec = JSON.parse(JSON.stringify(parent.spec)) as Record<string, unknown>;
  for (const f of SCHEDULE_FIELDS) delete spec[f];
  if (activeDeadlineSeconds !== undefined) spec.activeDeadlineSeconds = activeDeadlineSeconds;
  const parentName = parent.metadata.name!;
  const labels: Record<string, string> = {};
  if (parentName.length <= 63) labels[SCHEDULED_BY_LABEL] = parentName;
  return {
    apiVersion: parent.apiVersion,
    kind: parent.kind,
    metadata: {
      name,
      namespace: parent.metadata?.namespace,
      labels,
      annotations: { [SCHEDULED_AT_ANNOTATION]: kubeTime(scheduledTime) },
      ownerReferences: [
        {
          apiVersion: parent.apiVersion,
          kind: parent.kind,
          name: parentName,
          uid: parent.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: spec as unknown as SampleJobSpec,
  };
}
