/**
 * What a SampleJob cancels on its runtime pods: everything they run before a `terminate: true`
 * run's first submission, and the run itself when the SampleJob is deleted. Every call is bounded
 * by a timeout; a pod that is gone has nothing of ours to cancel.
 */
import type { SampleJob } from '../../api/samplejob.js';
import type { Logger } from '../../observability/logger.js';
import type { RuntimeJobCalls } from '../shared/runtime-calls.js';
import { runtimeBaseUrl, type RuntimePod } from '../shared/runtime-pods.js';
import { withTimeout } from '../shared/with-timeout.js';
import { TERMINAL_NODE_PHASES } from './run-state.js';

/** Failed cancels of one pod before deletion goes on without it. */
const MAX_CANCEL_FAILURES = 3;
/** Runs whose terminate is remembered (oldest forgotten first). */
const MAX_TERMINATED_RUNS = 10_000;

export class RunCancellation {
  /**
   * Runs whose `terminate` was sent. Status records it too (attempts > 0), but a reconcile that
   * reads a cache not yet showing this process's last status write must not terminate again: that
   * would cancel the run's own submission.
   */
  private readonly terminatedRuns = new Set<string>();
  /** Failed cancels per `<jobId>/<pod>`. */
  private readonly cancelFailures = new Map<string, number>();

  constructor(
    private readonly runtime: Pick<RuntimeJobCalls, 'cancel' | 'terminate'>,
    private readonly callTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Cancels what the ready pods run, once per run; undefined when it was done already. All pods in
   * parallel; a failure throws (nothing was submitted yet, the reconcile retries).
   */
  async terminateOnce(jobId: string, pods: RuntimePod[], token: string): Promise<{ cancelled: number; pods: number } | undefined> {
    if (this.terminatedRuns.has(jobId)) return undefined;
    const ready = pods.filter((p) => p.ready && p.podIP);
    const cancelled: string[] = [];
    await Promise.all(
      ready.map(async (p) => {
        const ids = await withTimeout(this.runtime.terminate(runtimeBaseUrl(p)!, token), this.callTimeoutMs, `terminate on ${p.name}`);
        cancelled.push(...ids);
      }),
    );
    this.terminatedRuns.add(jobId);
    if (this.terminatedRuns.size > MAX_TERMINATED_RUNS) this.terminatedRuns.delete(this.terminatedRuns.values().next().value!);
    return { cancelled: cancelled.length, pods: ready.length };
  }

  /**
   * Cancels run `jobId` of a deleted SampleJob on every pod it was submitted to and has not ended
   * on. `retry`: some pod did not answer and deserves another try (deletion is never blocked long).
   */
  async cancelRun(
    job: SampleJob,
    jobId: string,
    pods: RuntimePod[],
    token: string | undefined,
  ): Promise<{ targets: number; cancelled: number; retry: boolean }> {
    const targets = (job.status?.nodes ?? []).filter((n) => (n.attempts ?? 0) > 0 && !TERMINAL_NODE_PHASES.has(n.phase ?? ''));
    let cancelled = 0;
    let retry = false;
    await Promise.all(
      targets.map(async (n) => {
        const pod = pods.find((p) => p.name === n.pod);
        if (!token || !pod?.ready || !pod.podIP) return; // gone: nothing of ours runs there any more
        try {
          await withTimeout(this.runtime.cancel(runtimeBaseUrl(pod)!, token, jobId), this.callTimeoutMs, `cancel on ${n.pod}`);
          cancelled++;
        } catch (e) {
          const fk = `${jobId}/${n.pod}`;
          const failures = (this.cancelFailures.get(fk) ?? 0) + 1;
          this.cancelFailures.set(fk, failures);
          this.log.warn('cancel failed', {
            namespace: job.metadata?.namespace,
            name: job.metadata?.name,
            pod: n.pod,
            failures,
            error: (e as Error).message,
          });
          if (failures < MAX_CANCEL_FAILURES) retry = true;
        }
      }),
    );
    return { targets: targets.length, cancelled, retry };
  }

  forget(jobId: string): void {
    for (const k of [...this.cancelFailures.keys()]) if (k.startsWith(`${jobId}/`)) this.cancelFailures.delete(k);
  }
}
