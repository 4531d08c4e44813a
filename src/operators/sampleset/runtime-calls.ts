/** The calls the SampleSet operator makes on runtime pods (implemented by RuntimeClient). */
import type { NodeCacheStats, RuntimeJobRequest, RuntimeJobState } from '../../api/runtime-protocol.js';

export interface SampleSetRuntimeClient {
  submit(baseUrl: string, token: string, req: RuntimeJobRequest): Promise<RuntimeJobState | unknown>;
  get(baseUrl: string, token: string, id: string, waitSeconds?: number): Promise<RuntimeJobState | undefined>;
  cancel(baseUrl: string, token: string, id: string): Promise<unknown>;
  cacheStats(baseUrl: string, token: string): Promise<NodeCacheStats>;
  /** True when the server answers (no retries; never throws). */
  healthz(baseUrl: string): Promise<boolean>;
}
