/**
 * The active deadline of a SampleJob run: `spec.activeDeadlineSeconds` after the SampleJob's
 * creation (so time spent Pending counts), and the run fails with DeadlineExceeded once it passes.
 * Scheduled children carry their parent's value, or — when the parent sets none and lets runs overlap
 * (concurrencyPolicy Allow) — the time between their run and the next scheduled one, so unfinished
 * children of a schedule never pile up.
 */
import type { SampleJob } from '../../api/samplejob.js';

/** Shortest deadline a schedule gives its children by default (a `* * * * *` schedule still gets a minute). */
export const MIN_DEFAULT_CHILD_DEADLINE_SECONDS = 60;

/** When the run must have finished (epoch ms), or undefined without a deadline. */
export function runDeadline(job: SampleJob): number | undefined {
  const seconds = job.spec.activeDeadlineSeconds;
  const created = Date.parse(String(job.metadata?.creationTimestamp ?? ''));
  if (seconds === undefined || seconds === null || !Number.isFinite(created)) return undefined;
  return created + seconds * 1000;
}

/** The condition message of a run that passed its deadline. */
export function deadlineMessage(job: SampleJob): string {
  return `the run did not finish within activeDeadlineSeconds (${job.spec.activeDeadlineSeconds} s) of the SampleJob's creation`;
}

/** The deadline a scheduled child gets when its parent sets none: until the next scheduled run. */
export function defaultChildDeadlineSeconds(scheduledTime: number, nextRun: number | undefined): number | undefined {
  if (nextRun === undefined || !(nextRun > scheduledTime)) return undefined;
  return Math.max(MIN_DEFAULT_CHILD_DEADLINE_SECONDS, Math.ceil((nextRun - scheduledTime) / 1000));
}

/** A pass's requeue, brought forward to the run's deadline when that comes first. */
export function untilDeadline<R extends { requeueAfterMs?: number } | void>(
  result: R,
  deadline: number | undefined,
  now: number,
): R | { requeueAfterMs: number } {
  if (deadline === undefined) return result;
  const left = Math.max(0, deadline - now);
  const planned = result ? result.requeueAfterMs : undefined;
  return planned !== undefined && planned <= left ? result : { requeueAfterMs: left };
}

/** Why a run stops when its SampleSet was deleted and created again under the same name. */
export function sampleSetReplacedMessage(name: string): string {
  return `SampleSet ${name} was deleted and created again since this run started; the run does not carry over to the new SampleSet (create a new SampleJob for it)`;
}
