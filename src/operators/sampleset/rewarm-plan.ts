/**
 * Which partitions of a SampleSet get their shard warmed again, pure. The reference is the warmup
 * SampleJob that last succeeded against this SampleSet (same UID). A ready runtime pod is re-warmed
 * with that warmup, for its own shard only, when the warmup did not warm what the pod holds now:
 *  - the pod was created after the warmup finished (a partition replaced on another node, added by
 *    a scale-up, or a pod restarted — a cache that survived makes the re-run cheap);
 *  - the warmup ran with a different number of partitions (the shards moved), or not on this
 *    pod's node, or its part on this pod did not succeed.
 * Nothing is re-warmed while a warmup or clear of this SampleSet is still running, nor after a
 * clear that succeeded later than the warmup (the user emptied the cache on purpose). Each pod is
 * re-warmed at most once per (warmup, shards): the job id names all three.
 */
import crypto from 'node:crypto';
import type { SampleJob } from '../../api/samplejob.js';
import type { CacheNodeRewarm, SampleSet } from '../../api/sampleset.js';
import type { RuntimePod } from '../shared/runtime-pods.js';

const TERMINAL_JOB_PHASES = new Set(['Succeeded', 'Failed']);

/** The reference warmup, or why there is none to re-run now. */
export type RewarmSource = { warmup: SampleJob; completedAt: number } | { warmup?: undefined; waiting?: string };

/** Runs of `ss`: SampleJobs in its namespace that started against it (same name and UID). */
function jobsOf(ss: SampleSet, jobs: readonly SampleJob[]): SampleJob[] {
  return jobs.filter(
    (j) =>
      j.metadata.namespace === ss.metadata.namespace &&
      j.spec?.sampleSetRef?.name === ss.metadata.name &&
      j.status?.sampleSetUID === ss.metadata.uid,
  );
}

const completedAt = (j: SampleJob): number => Date.parse(j.status?.completionTime ?? '') || 0;

/** The warmup that last succeeded against `ss`, unless a warmup or clear still runs or a later clear emptied the cache. */
export function rewarmSource(ss: SampleSet, jobs: readonly SampleJob[]): RewarmSource {
  const mine = jobsOf(ss, jobs).filter((j) => !j.spec.schedule && (j.spec.type === 'warmup' || j.spec.type === 'clear'));
  const active = mine.find((j) => !TERMINAL_JOB_PHASES.has(j.status?.phase ?? ''));
  if (active) return { waiting: `${active.spec.type} SampleJob ${active.metadata.name} is running` };
  let warmup: SampleJob | undefined;
  let clearedAt = 0;
  for (const j of mine) {
    if (j.status?.phase !== 'Succeeded' || !completedAt(j)) continue;
    if (j.spec.type === 'clear') clearedAt = Math.max(clearedAt, completedAt(j));
    else if (!warmup || completedAt(j) > completedAt(warmup)) warmup = j;
  }
  if (!warmup || clearedAt > completedAt(warmup)) return {};
  return { warmup, completedAt: completedAt(warmup) };
}

/** Runtime job id of the re-warm of `pod` (its UID) with `warmup` as shard `shard` of `shards`. */
export function rewarmJobId(ss: SampleSet, warmup: SampleJob, podUid: string, shard: number, shards: number): string {
  const uid =
    (ss.metadata.uid ?? '')
      .replace(/[^0-9a-z]/gi, '')
      .toLowerCase()
      .slice(0, 8) || '0';
  const hash = crypto
    .createHash('sha256')
    .update(`${warmup.metadata.uid ?? warmup.metadata.name}/${podUid}/${shards}`)
    .digest('hex');
  return `rewarm-${uid}-p${shard}-${hash.slice(0, 10)}`;
}

/** A pod whose shard is to be warmed again. */
export interface RewarmWanted {
  partition: number;
  pod: RuntimePod;
  id: string;
  shard: number;
  shards: number;
}

/** Why `warmup` did not warm what `pod` holds now, or undefined when it did. */
export function rewarmReason(warmup: SampleJob, completedAtMs: number, pod: RuntimePod, partitions: number): string | undefined {
  const created = Date.parse(pod.pod.metadata?.creationTimestamp as unknown as string) || 0;
  if (created > completedAtMs) return `runtime pod ${pod.name} started after warmup ${warmup.metadata.name} finished`;
  const ran = warmup.status?.nodes ?? [];
  if (ran.length !== partitions)
    return `warmup ${warmup.metadata.name} ran on ${ran.length} partition(s), the SampleSet now has ${partitions}`;
  const mine = ran.find((n) => n.pod === pod.name);
  if (!mine || mine.phase !== 'Succeeded') return `warmup ${warmup.metadata.name} did not warm partition ${pod.ordinal}`;
  if (mine.node !== pod.nodeName) return `warmup ${warmup.metadata.name} warmed partition ${pod.ordinal} on node ${mine.node}`;
  return undefined;
}

/** The ready partition pods whose shard `source` must warm again (each once: see rewarmJobId). */
export function rewarmsWanted(ss: SampleSet, source: RewarmSource, ready: readonly RuntimePod[], partitions: number): RewarmWanted[] {
  if (!source.warmup) return [];
  const { warmup, completedAt: done } = source;
  return ready
    .filter((p) => p.ordinal < partitions && p.uid && rewarmReason(warmup, done, p, partitions) !== undefined)
    .map((p) => ({
      partition: p.ordinal,
      pod: p,
      shard: p.ordinal,
      shards: partitions,
      id: rewarmJobId(ss, warmup, p.uid!, p.ordinal, partitions),
    }));
}

export const isTerminalRewarm = (r: CacheNodeRewarm | undefined): boolean => r?.phase === 'Succeeded' || r?.phase === 'Failed';
