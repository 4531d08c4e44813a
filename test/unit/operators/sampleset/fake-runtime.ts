/**
 * The in-memory paddle-runtime of the SampleJob tests, with what the SampleSet operator asks too:
 * cache statistics and health. Every pod answers healthz unless it is down.
 */
import type { NodeCacheStats } from '../../../../src/api/runtime-protocol.js';
import type { RuntimeCalls } from '../../../../src/operators/shared/runtime-calls.js';
import { FakeRuntime } from '../samplejob/fake-runtime.js';

export class FakeSampleSetRuntime extends FakeRuntime implements RuntimeCalls {
  /** What every pod reports as its cache statistics. */
  stats: NodeCacheStats = {
    totalBytes: 4096,
    totalFiles: 4,
    cachedBytes: 1024,
    tiers: [{ path: '/cache', sizeBytes: 8192, usedBytes: 1024, availBytes: 7168 }],
  };

  async cacheStats(baseUrl: string): Promise<NodeCacheStats> {
    this.calls.push({ op: 'cacheStats', baseUrl });
    if (this.servers.get(baseUrl)?.down) throw new Error(`connect ECONNREFUSED ${baseUrl}`);
    return this.stats;
  }

  async healthz(baseUrl: string): Promise<boolean> {
    return !this.servers.get(baseUrl)?.down;
  }
}
