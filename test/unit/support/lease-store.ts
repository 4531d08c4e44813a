import type { V1Lease } from '@kubernetes/client-node';
import { ApiError } from '../../../src/kube/api-error.js';
import type { KubeApi, WatchEvent } from '../../../src/kube/kube-api.js';

/**
 * The Lease store of an apiserver, as far as the elector uses it: get, create, replace with a
 * resourceVersion precondition, and a watch that streams every change. Pure bookkeeping.
 */
export class LeaseStore {
  lease?: V1Lease;
  private rv = 0;
  private watchers = new Set<(e: WatchEvent<V1Lease>) => void>();
  watchStarts = 0;
  /** When set, reads and writes fail like an unreachable apiserver. */
  down = false;

  private copy(): V1Lease | undefined {
    return this.lease ? (JSON.parse(JSON.stringify(this.lease)) as V1Lease) : undefined;
  }
  private commit(l: V1Lease, type: 'ADDED' | 'MODIFIED'): V1Lease {
    this.rv++;
    this.lease = {
      ...JSON.parse(JSON.stringify(l)),
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...l.metadata, uid: 'u1', resourceVersion: String(this.rv) },
    } as V1Lease;
    for (const w of this.watchers) w({ type, object: this.copy()! });
    return this.copy()!;
  }
  /** Another replica's write (renewal or release). */
  write(spec: V1Lease['spec']): void {
    this.commit({ ...this.lease!, spec }, 'MODIFIED');
  }

  api(): KubeApi {
    const unreachable = () => new ApiError(0, 'Unreachable', 'connection refused');
    return {
      get: async () => {
        if (this.down) throw unreachable();
        return this.copy();
      },

      create: async (_t: unknown, obj: V1Lease) => {
        if (this.down) throw unreachable();
        if (this.lease) throw new ApiError(409, 'AlreadyExists', 'exists');
        return this.commit(obj, 'ADDED');
      },

      replace: async (_t: unknown, obj: V1Lease) => {
        if (this.down) throw unreachable();
        if (obj.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion)
          throw new ApiError(409, 'Conflict', 'stale resourceVersion');
        return this.commit(obj, 'MODIFIED');
      },
      watch: (_path: string, _q: unknown, onEvent: (e: WatchEvent) => void, signal: AbortSignal) => {
        this.watchStarts++;
        if (this.down) return Promise.reject(unreachable());
        const w = onEvent;
        this.watchers.add(w);
        if (this.lease) w({ type: 'ADDED', object: this.copy()! });
        return new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => {
            this.watchers.delete(w);
            resolve();
          }),
        );
      },
    } as unknown as KubeApi;
  }
}
