import type { KubernetesObject } from '@kubernetes/client-node';
import type { ResourceType } from '../api/constants.js';
import { Informer } from './informer.js';
import type { KubeApi } from './kube-api.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * One informer per (resource type, namespace, label selector), shared by every operator that
 * watches it, so the process keeps one watch connection and one cache per kind.
 */
export class InformerFactory {
  private readonly informers = new Map<string, Informer>();

  constructor(
    private readonly api: KubeApi,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    /** '' = all namespaces. Cluster-scoped kinds ignore it. */
    private readonly namespace: string,
  ) {}

  get<T extends KubernetesObject>(type: ResourceType, labelSelector?: string): Informer<T> {
    const ns = type.namespaced ? this.namespace : '';
    const key = `${type.group}/${type.version}/${type.plural}|${ns}|${labelSelector ?? ''}`;
    let inf = this.informers.get(key);
    if (!inf) {
      const resource = `${type.plural}${type.group ? '.' + type.group : ''}`;
      inf = new Informer(this.api, type, {
        namespace: ns || undefined,
        labelSelector,
        onRestart: (reason) => {
          this.metrics.watchRestarts.inc({ resource, reason });
          if (reason !== 'closed') this.logger.info('watch restarted', { resource, reason });
        },
        onError: (err) => this.logger.warn('watch error', { resource, error: String((err as Error)?.message ?? err) }),
      });
      this.informers.set(key, inf);
    }
    return inf as unknown as Informer<T>;
  }

  startAll(): void {
    for (const i of this.informers.values()) i.start();
  }

  get allSynced(): boolean {
    for (const i of this.informers.values()) if (!i.hasSynced) return false;
    return true;
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
