/**
 * The validation phase of a one-shot SampleJob: its type, its SampleSet (usable, or a reason to
 * wait), the Secret of a sync, and every request it will send built once, so option errors (unsafe
 * paths, a bad source) fail the job before anything runs.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { SAMPLEJOB_TYPES, type SampleJob } from '../../api/samplejob.js';
import { engineNameOf, type SampleSet } from '../../api/sampleset.js';
import { SpecError, type CacheEngine } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { crossNamespaceProblem, CROSS_NAMESPACE_SECRET } from '../shared/secret-refs.js';

/** A problem that fails the job (reason, message) or makes it wait. */
export class JobProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly wait: boolean,
  ) {
    super(message);
  }
}

/** The SampleSet phases a run may start in. */
const USABLE_SAMPLESET_PHASES = new Set(['Ready', 'PartialReady']);

export interface ValidationLookups {
  engines: EngineRegistry;
  sampleSet(name: string, namespace: string | undefined): SampleSet | undefined;
  /** Reads a Secret live (never from another namespace: callers check first). */
  secret(name: string, namespace: string): Promise<V1Secret | undefined>;
}

export interface ValidatedRun {
  sampleSet: SampleSet;
  engine: CacheEngine;
  /** The source credentials of a sync (only read before the first submission). */
  secret?: V1Secret;
}

/**
 * Validates `job`; `submitted` runs keep their spec, so only their SampleSet and engine are looked
 * up. Throws a JobProblem.
 */
export async function validateRun(job: SampleJob, submitted: boolean, lookups: ValidationLookups): Promise<ValidatedRun> {
  // a Secret of another namespace is refused before anything else (nothing reads it)
  const crossNs = crossNamespaceProblem(job.metadata?.namespace || 'default', 'spec.secretRef', job.spec.secretRef);
  if (crossNs && !submitted) throw new JobProblem(CROSS_NAMESPACE_SECRET, crossNs, false);
  const { sampleSet, engine } = validateSampleSet(job, !submitted, lookups);
  if (submitted) return { sampleSet, engine };
  const secret = await credentialsSecret(job, sampleSet, lookups);
  validateRequests(job, sampleSet, engine, secret);
  return { sampleSet, engine, secret };
}

function validateSampleSet(
  job: SampleJob,
  beforeStart: boolean,
  lookups: ValidationLookups,
): { sampleSet: SampleSet; engine: CacheEngine } {
  if (!SAMPLEJOB_TYPES.includes(job.spec?.type)) {
    throw new JobProblem('InvalidType', `type must be one of ${SAMPLEJOB_TYPES.join(', ')} (got ${JSON.stringify(job.spec?.type)})`, false);
  }
  const name = job.spec.sampleSetRef?.name;
  if (!name) throw new JobProblem('SampleSetNotSpecified', 'spec.sampleSetRef.name is required', false);
  const sampleSet = lookups.sampleSet(name, job.metadata?.namespace);
  if (!sampleSet) throw new JobProblem('SampleSetNotFound', `SampleSet ${name} not found in namespace ${job.metadata?.namespace}`, true);
  let engine: CacheEngine;
  try {
    engine = lookups.engines.get(engineNameOf(sampleSet));
  } catch (e) {
    if (e instanceof SpecError) throw new JobProblem(e.reason, e.message, false);
    throw e;
  }
  if (beforeStart) {
    if (sampleSet.metadata.deletionTimestamp) throw new JobProblem('SampleSetDeleting', `SampleSet ${name} is being deleted`, false);
    const phase = sampleSet.status?.phase ?? '';
    if (!USABLE_SAMPLESET_PHASES.has(phase)) {
      throw new JobProblem(
        'SampleSetNotReady',
        `waiting for SampleSet ${name} to be Ready or PartialReady (phase ${JSON.stringify(phase)})`,
        true,
      );
    }
  }
  return { sampleSet, engine };
}

/** The source credentials of a sync: spec.secretRef, else the SampleSet's source Secret. */
export async function credentialsSecret(
  job: SampleJob,
  sampleSet: SampleSet,
  lookups: Pick<ValidationLookups, 'secret'>,
): Promise<V1Secret | undefined> {
  if (job.spec.type !== 'sync') return undefined;
  const ns = job.metadata?.namespace || 'default';
  const field = job.spec.secretRef ? 'spec.secretRef' : `the SampleSet's spec.source.secretRef`;
  const ref = job.spec.secretRef ?? sampleSet.spec.source?.secretRef;
  // only the job's own namespace (the SampleSet's is the same): never read another namespace's Secret
  const crossNs = crossNamespaceProblem(ns, field, ref);
  if (crossNs) throw new JobProblem(CROSS_NAMESPACE_SECRET, crossNs, false);
  if (!ref?.name) {
    const source = job.spec.syncOptions?.source ?? sampleSet.spec.source?.uri ?? '';
    if (/^file:\/\//i.test(source)) return undefined;
    throw new JobProblem(
      'SecretNotSpecified',
      "a sync job needs source credentials: set spec.secretRef (or the SampleSet's spec.source.secretRef)",
      false,
    );
  }
  const secret = await lookups.secret(ref.name, ns);
  if (!secret) throw new JobProblem('SecretNotFound', `Secret ${ns}/${ref.name} not found`, false);
  return secret;
}

/** Builds every request once, so option errors (unsafe paths, bad source) fail before anything runs. */
function validateRequests(job: SampleJob, sampleSet: SampleSet, engine: CacheEngine, secret: V1Secret | undefined): void {
  const shards = engine.fanOut(job.spec.type) === 'all' ? Math.max(1, sampleSet.spec.partitions) : 1;
  try {
    for (let i = 0; i < shards; i++) engine.jobRequest(job, sampleSet, 'validate', i, shards, secret);
  } catch (e) {
    if (e instanceof SpecError) throw new JobProblem(e.reason, e.message, false);
    throw new JobProblem('InvalidOptions', (e as Error).message, false);
  }
}
