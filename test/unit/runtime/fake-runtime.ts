// A scriptable CacheRuntime for the server and queue tests (pure logic, no engine binary).
import type { SampleJobType } from '../../../src/api/samplejob.js';
import type { CacheRuntime, JobExecution } from '../../../src/engines/cache-engine.js';
import type { NodeCacheStats, RuntimeJobOptions } from '../../../src/api/runtime-protocol.js';

export interface FakeCall {
  type: SampleJobType;
  options: RuntimeJobOptions;
  credentials?: Record<string, string>;
  exec: JobExecution;
}

export type FakeImpl = (call: FakeCall) => Promise<void>;

export class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

/** Runs until the signal aborts (then rejects like a killed child) or `release` is called. */
export function blockUntilReleased(release: Deferred): FakeImpl {
  return ({ exec }) =>
    new Promise<void>((resolve, reject) => {
      if (exec.signal.aborted) return reject(new Error('killed'));
      exec.signal.addEventListener('abort', () => reject(new Error('killed')), { once: true });
      void release.promise.then(() => resolve());
    });
}

export class FakeRuntime implements CacheRuntime {
  readonly name = 'fake';
  readonly calls: FakeCall[] = [];
  readonly started: string[] = [];
  impl: FakeImpl = async () => {};
  statsCalls = 0;
  statsValue: NodeCacheStats = {
    totalBytes: 100,
    totalFiles: 2,
    cachedBytes: 50,
    tiers: [{ path: '/dev/shm/x', sizeBytes: 1000, usedBytes: 500, availBytes: 500 }],
  };

  async run(
    type: SampleJobType,
    options: RuntimeJobOptions,
    credentials: Record<string, string> | undefined,
    exec: JobExecution,
  ): Promise<void> {
    const call = { type, options, credentials, exec };
    this.calls.push(call);
    return this.impl(call);
  }

  /** When set, the runtime's submission check (CacheRuntime.validate) runs this. */
  validateImpl: ((type: SampleJobType, options: RuntimeJobOptions) => void) | undefined;

  validate(type: SampleJobType, options: RuntimeJobOptions): void {
    this.validateImpl?.(type, options);
  }

  stats(): Promise<NodeCacheStats> {
    this.statsCalls++;
    return Promise.resolve(this.statsValue);
  }
}
