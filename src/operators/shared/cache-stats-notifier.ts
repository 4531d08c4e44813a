import { EventEmitter } from 'node:events';

/** Identifies a SampleSet whose cache statistics are stale. */
export interface SampleSetRef {
  namespace: string;
  name: string;
}

export type CacheStatsListener = (ref: SampleSetRef) => void;

const EVENT = 'invalidate';

/**
 * In-process signal "the cache of this SampleSet changed, collect its statistics again". The
 * SampleJob operator calls `invalidate` when a job ends (warmup, clear, rmr and sync all change what
 * is cached); no other operator calls it today. The SampleSet operator
 * subscribes and re-queues the SampleSet, so statistics are refreshed once per change instead of by
 * a fast poll. One instance per process (bind it as a singleton in the container).
 */
export class CacheStatsNotifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    // every operator may subscribe; never warn about "possible leaks" for a handful of listeners
    this.emitter.setMaxListeners(0);
  }

  /** Marks the statistics of `namespace/name` stale. Never throws (listeners' errors are swallowed). */
  invalidate(namespace: string, name: string): void {
    this.emitter.emit(EVENT, { namespace, name } satisfies SampleSetRef);
  }

  /** Calls `listener` on every invalidation; returns the unsubscribe function. */
  subscribe(listener: CacheStatsListener): () => void {
    const safe = (ref: SampleSetRef): void => {
      try {
        listener(ref);
      } catch {
        // a listener's failure must not break the caller (an operator finishing a job)
      }
    };
    this.emitter.on(EVENT, safe);
    return () => {
      this.emitter.off(EVENT, safe);
    };
  }

  get listenerCount(): number {
    return this.emitter.listenerCount(EVENT);
  }
}
