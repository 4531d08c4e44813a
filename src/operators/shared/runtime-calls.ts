/**
 * The calls the operators make on runtime pods, with the types RuntimeClient answers (the client
 * implements this interface; tests hand in in-memory fakes).
 */
import type { NodeCacheStats, RuntimeJobRequest, RuntimeJobState } from '../../api/runtime-protocol.js';

export interface RuntimeCalls {
  /** POST /jobs: queues the job, or answers the existing one with the same id. */
  submit(baseUrl: string, token: string, req: RuntimeJobRequest): Promise<RuntimeJobState>;
  /** GET /jobs/{id}, long-polling up to `waitSeconds`; undefined = the runtime does not know the job (e.g. the pod restarted). */
  get(baseUrl: string, token: string, id: string, waitSeconds?: number): Promise<RuntimeJobState | undefined>;
  /** DELETE /jobs/{id}; undefined when the job is unknown. */
  cancel(baseUrl: string, token: string, id: string): Promise<RuntimeJobState | undefined>;
  /** POST /terminate: cancels the running job and every queued one; the ids cancelled. */
  terminate(baseUrl: string, token: string): Promise<string[]>;
  /** GET /cache: the node's cache statistics. */
  cacheStats(baseUrl: string, token: string): Promise<NodeCacheStats>;
  /** True when the server answers (no retries; never throws). */
  healthz(baseUrl: string): Promise<boolean>;
}

/** What the SampleJob operator uses: the job calls. */
export type RuntimeJobCalls = Pick<RuntimeCalls, 'submit' | 'get' | 'cancel' | 'terminate'>;

/** What the SampleSet operator uses: its initial sync (submit, follow, cancel), statistics and health. */
export type SampleSetRuntimeCalls = Pick<RuntimeCalls, 'submit' | 'get' | 'cancel' | 'cacheStats' | 'healthz'>;
