/**
 * Whether a job's SampleSet lets its pods be created: it must live in the job's namespace (a claim
 * is namespaced; a pod can only mount one from its own namespace), exist, use a cache engine this
 * operator has installed (its names — claim, node label, runtime pods — come only from that engine),
 * and be Ready. Pure: the SampleSet comes from the operator's cache. The SampleSet is only ever read.
 */
import type { Condition } from '../../api/conditions.js';
import type { PaddleJob } from '../../api/paddlejob.js';
import { engineNameOf, type SampleSet } from '../../api/sampleset.js';
import type { CacheEngine } from '../../engines/cache-engine.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { sampleSetBinding, type SampleSetBinding } from './cache-affinity.js';
import { CONDITION, REASON } from './constants.js';

export type SampleSetGate =
  | { open: true; sampleSet: SampleSet; binding: SampleSetBinding; reason: string; message: string }
  | { open: false; reason: string; message: string };

export function sampleSetNamespaceOf(job: PaddleJob): string | undefined {
  const ref = job.spec.sampleSetRef;
  return ref ? ref.namespace || job.metadata.namespace : undefined;
}

export function checkSampleSet(
  job: PaddleJob,
  lookup: (name: string, namespace: string) => SampleSet | undefined,
  engines: EngineRegistry,
): SampleSetGate | undefined {
  const ref = job.spec.sampleSetRef;
  if (!ref) return undefined;
  const ns = sampleSetNamespaceOf(job)!;
  if (ns !== job.metadata.namespace) {
    return {
      open: false,
      reason: REASON.SampleSetNamespaceMismatch,
      message:
        `SampleSet ${ns}/${ref.name} is in another namespace than the job (${job.metadata.namespace}): ` +
        `its PersistentVolumeClaim is namespaced and pods can only mount claims of their own namespace; ` +
        `create the PaddleJob in namespace ${ns} or a SampleSet in ${job.metadata.namespace}`,
    };
  }
  const sampleSet = lookup(ref.name, ns);
  if (!sampleSet) {
    return { open: false, reason: REASON.SampleSetNotFound, message: `SampleSet ${ns}/${ref.name} does not exist; the job waits for it` };
  }
  const engineName = engineNameOf(sampleSet);
  let engine: CacheEngine;
  try {
    engine = engines.get(engineName);
  } catch {
    return {
      open: false,
      reason: REASON.CacheEngineNotInstalled,
      message:
        `SampleSet ${ns}/${ref.name} uses cache engine "${engineName}", which this operator does not have installed ` +
        `(installed: ${engines.names().join(', ') || 'none'}); the job waits until it runs with that engine`,
    };
  }
  const phase = sampleSet.status?.phase ?? '';
  if (phase !== 'Ready') {
    const nodeLost = sampleSet.status?.conditions?.some((c) => c.type === 'CacheNodesAvailable' && c.status === 'False');
    const missing = missingPartitions(sampleSet);
    const limit = ref.waitSeconds;
    return {
      open: false,
      reason: nodeLost ? REASON.SampleSetNodeLost : REASON.SampleSetNotReady,
      message:
        `SampleSet ${ns}/${ref.name} is ${phase ? `in phase ${phase}` : 'not set up yet'}` +
        (missing.length ? `; partitions not ready: ${missing.join('; ')}` : '') +
        `; the job waits until it is Ready` +
        (limit === undefined
          ? ' (no limit: set spec.sampleSetRef.waitSeconds to fail instead)'
          : ` and fails if it has not started within ${limit}s (spec.sampleSetRef.waitSeconds)`),
    };
  }
  return {
    open: true,
    sampleSet,
    binding: sampleSetBinding(sampleSet, ref.mountPath, engine),
    reason: REASON.SampleSetReady,
    message: `SampleSet ${ns}/${ref.name} is Ready with ${sampleSet.spec.partitions} partition(s)`,
  };
}

/** `1 (pod x-runtime-1 on node n1: node lost: …)` for each partition the SampleSet's status shows not ready. */
export function missingPartitions(sampleSet: SampleSet): string[] {
  return (sampleSet.status?.nodes ?? [])
    .filter((n) => !n.ready)
    .map((n) => `${n.partition} (pod ${n.pod}${n.node ? ` on node ${n.node}` : ''}${n.message ? `: ${n.message}` : ''})`);
}

export function sampleSetCondition(gate: SampleSetGate, generation: number | undefined): Condition {
  return {
    type: CONDITION.SampleSetReady,
    status: gate.open ? 'True' : 'False',
    reason: gate.reason,
    message: gate.message,
    observedGeneration: generation,
  };
}
