/**
 * Writes the status a SampleJob pass wants: at once when it must (a fresh run, a submission
 * follows) or the change is significant; a change of progress alone at most every
 * `progressIntervalMs` (then `throttledMs` says when the held-back write is due). The finalizer
 * goes on before the first submission.
 */
import { SAMPLEJOB_FINALIZER } from '../../api/constants.js';
import type { SampleJob, SampleJobStatus } from '../../api/samplejob.js';
import { jsonEqual } from '../../kube/merge-patch.js';
import { significantChange } from './run-status.js';

export interface StatusWrites {
  addFinalizer(job: SampleJob, finalizer: string): Promise<SampleJob>;
  patchStatus(job: SampleJob, status: Record<string, unknown>): Promise<SampleJob | undefined>;
}

export interface RecordInput {
  key: string;
  job: SampleJob;
  desired: SampleJobStatus;
  now: number;
  mustWrite: boolean;
}

export class RunStatusWriter {
  /** When the status of a SampleJob was last written, by key. */
  private readonly lastWrite = new Map<string, number>();

  constructor(
    private readonly writes: StatusWrites,
    private readonly progressIntervalMs: number,
  ) {}

  async record({ key, job, desired, now, mustWrite }: RecordInput): Promise<{ current: SampleJob; throttledMs?: number }> {
    const status = job.status ?? {};
    const current = mustWrite ? await this.writes.addFinalizer(job, SAMPLEJOB_FINALIZER) : job;
    const write = async (): Promise<SampleJob> => {
      const written = (await this.writes.patchStatus(current, desired as Record<string, unknown>)) ?? current;
      this.lastWrite.set(key, now);
      return written;
    };
    if (mustWrite || significantChange(status, desired)) return { current: await write() };
    if (jsonEqual(status.progress, desired.progress) && jsonEqual(status.nodes, desired.nodes)) return { current };
    const last = this.lastWrite.get(key) ?? 0;
    if (now - last >= this.progressIntervalMs) return { current: await write() };
    return { current, throttledMs: this.progressIntervalMs - (now - last) };
  }

  forget(key: string): void {
    this.lastWrite.delete(key);
  }
}
