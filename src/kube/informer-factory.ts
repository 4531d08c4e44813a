import type { KubernetesObject } from '@kubernetes/client-node';
import type { ResourceType } from '../api/constants.js';
import { cacheTransform } from './cached-objects.js';
import { Informer } from './informer.js';
import type { KubeApi } from './kube-api.js';
import { labelMatcher } from './label-selector.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * One informer per (resource type, namespace, label selector), shared by every operator that
 * watches it, so the process keeps one watch connection and one cache per kind. When a kind is
 * watched whole as well, the informers with a label selector follow the whole one (one watch, one
 * copy of each object) instead of watching on their own. Caches keep what cached-objects.ts says.
 */
export class InformerFactory {
  private readonly informers = new Map<string, Informer>();
  private readonly selectors = new Map<Informer, { type: ResourceType; labelSelector?: string }>();

  constructor(
    private readonly api: KubeApi,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    /** '' = all namespaces. Cluster-scoped kinds ignore it. */
    private readonly namespace: string,
  ) {}

  get<T extends KubernetesObject>(type: ResourceType, labelSelector?: string): Informer<T> {
    const ns = type.namespaced ? this.namespace : '';
    const key = this.keyOf(type, labelSelector);
    let inf = this.informers.get(key);
    if (!inf) {
      const resource = `${type.plural}${type.group ? '.' + type.group : ''}`;
      inf = new Informer(this.api, type, {
        namespace: ns || undefined,
        labelSelector,
        transform: cacheTransform(type),
        onRestart: (reason) => {
          this.metrics.watchRestarts.inc({ resource, reason });
          if (reason !== 'closed') this.logger.info('watch restarted', { resource, reason });
        },
        onError: (err) => this.logger.warn('watch error', { resource, error: String((err as Error)?.message ?? err) }),
      });
      this.informers.set(key, inf);
      this.selectors.set(inf, { type, labelSelector });
    }
    return inf as unknown as Informer<T>;
  }

  /** Starts every informer not started yet; those with a selector follow a whole one of their kind if there is one. */
  startAll(): void {
    for (const inf of this.informers.values()) {
      if (inf.hasStarted) continue;
      const { type, labelSelector } = this.selectors.get(inf)!;
      const whole = labelSelector ? this.informers.get(this.keyOf(type, undefined)) : undefined;
      const matches = labelSelector ? labelMatcher(labelSelector) : undefined;
      if (whole && matches) {
        inf.follow(whole, (o) => matches(o.metadata?.labels));
        whole.start();
      } else {
        inf.start();
      }
    }
  }

  private keyOf(type: ResourceType, labelSelector: string | undefined): string {
    const ns = type.namespaced ? this.namespace : '';
    return `${type.group}/${type.version}/${type.plural}|${ns}|${labelSelector ?? ''}`;
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
