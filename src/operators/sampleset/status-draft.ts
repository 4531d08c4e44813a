/** A SampleSet's status being computed in one reconcile pass, and its condition types. */
import { setCondition, type Condition } from '../../api/conditions.js';
import type { SampleSet, SampleSetStatus } from '../../api/sampleset.js';
import { maskUriUserinfo } from '../../observability/scrub.js';
import { systemClock, type Clock } from '../../kube/clock.js';
import { jsonEqual, mergePatch } from '../../kube/merge-patch.js';

/** Condition types on a SampleSet. */
export const CONDITION = {
  ready: 'Ready',
  volumeBound: 'VolumeBound',
  runtimeReady: 'RuntimeReady',
  synced: 'Synced',
  cacheStats: 'CacheStatsAvailable',
  partitionsScaled: 'PartitionsScaled',
  /** Set only while a deletion waits (reason InUse: pods still mount the claim). */
  terminating: 'Terminating',
  /** False (reason NodeLost) while a partition's node is deleted, not ready or unreachable (node-loss.ts). */
  nodesAvailable: 'CacheNodesAvailable',
} as const;

/** The status being computed in one pass; knows how to turn itself into a minimal merge patch. */
export class StatusDraft {
  private readonly original: SampleSetStatus;
  private readonly next: Record<string, unknown>;

  constructor(
    private readonly ss: SampleSet,
    private readonly clock: Clock = systemClock,
  ) {
    const text = JSON.stringify(ss.status ?? {});
    this.original = JSON.parse(text) as SampleSetStatus;
    this.next = JSON.parse(text) as Record<string, unknown>;
  }

  get<T>(field: keyof SampleSetStatus): T | undefined {
    return this.next[field] as T | undefined;
  }

  set(field: keyof SampleSetStatus, value: unknown): void {
    if (value === undefined) delete this.next[field];
    else this.next[field] = value;
  }

  condition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string): void {
    this.next.conditions = setCondition(
      this.next.conditions as Condition[] | undefined,
      {
        type,
        status,
        reason,
        message: maskUriUserinfo(message).slice(0, 32_000),
        observedGeneration: this.ss.metadata.generation,
      },
      new Date(this.clock.now()),
    );
  }

  /** The merge patch from the original status, or undefined when nothing changed. */
  patch(): Record<string, unknown> | undefined {
    if (jsonEqual(this.original, this.next)) return undefined;
    const p = mergePatch(this.original as Record<string, unknown>, this.next);
    return Object.keys(p).length > 0 ? p : undefined;
  }
}
