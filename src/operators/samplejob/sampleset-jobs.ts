/**
 * Which SampleJobs care about a SampleSet: those naming it that are not scheduled parents and are
 * unfinished or being deleted (a finished job is done with it). The SampleJob cache keeps them in an
 * index by `<namespace>/<SampleSet>`, so a SampleSet's event costs the jobs it concerns, not a scan.
 */
import type { SampleJob } from '../../api/samplejob.js';
import type { ObjectKey } from '../../kube/decorators.js';
import type { Informer } from '../../kube/informer.js';
import { isTerminalPhase } from './run-status.js';
import { isScheduled } from './schedule.js';

const JOBS_BY_SAMPLESET = 'paddle:samplejobs-by-sampleset';

/** Adds the index to the SampleJob cache. */
export function indexJobsBySampleSet(jobs: Pick<Informer<SampleJob>, 'addIndex'>): void {
  jobs.addIndex(JOBS_BY_SAMPLESET, (j) =>
    j.spec?.sampleSetRef?.name && !isScheduled(j) && (!isTerminalPhase(j.status?.phase) || j.metadata?.deletionTimestamp)
      ? [`${j.metadata?.namespace}/${j.spec.sampleSetRef.name}`]
      : [],
  );
}

/** Keys of the SampleJobs that care about SampleSet `namespace/name`. */
export function jobsCaringAbout(jobs: Pick<Informer<SampleJob>, 'byIndex'>, namespace: string | undefined, name: string): ObjectKey[] {
  return jobs.byIndex(JOBS_BY_SAMPLESET, `${namespace}/${name}`).map((j) => ({ namespace: j.metadata?.namespace, name: j.metadata.name! }));
}
