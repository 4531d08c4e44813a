import { createHash, randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { EVENT } from '../api/constants.js';
import type { KubeApi } from './kube-api.js';
import type { Logger } from '../observability/logger.js';

export type EventType = 'Normal' | 'Warning';

/**
 * Records `events.k8s.io/v1` Events about our objects. The same (object, reason, message) is not
 * recorded again within `dedupeMs`, so a reconcile that re-finds the same problem does not spam.
 * Failures to record are logged, never thrown: an Event is advice, not state.
 *
 * What was recorded is remembered oldest first (a repeat moves to the end), so forgetting what is
 * older than `dedupeMs` only looks at the entries it drops, and at most `maxRemembered` are kept.
 */
export class EventRecorder {
  private readonly recent = new Map<string, number>();
  private readonly maxRemembered = 10_000;

  constructor(
    private readonly api: KubeApi,
    private readonly logger: Logger,
    private readonly controllerName = 'paddle-operator',
    private readonly instance = process.env.POD_NAME ?? process.env.HOSTNAME ?? 'local',
    private readonly dedupeMs = 10 * 60_000,
  ) {}

  async record(obj: KubernetesObject, type: EventType, reason: string, message: string, action = reason): Promise<void> {
    const md = obj.metadata ?? {};
    const now = Date.now();
    // a digest, not the message itself: thousands of remembered keys stay small
    const dedupeKey = createHash('sha1').update(`${md.uid}|${type}|${reason}|${message}`).digest('base64');
    const last = this.recent.get(dedupeKey);
    if (last && now - last < this.dedupeMs) return;
    this.recent.delete(dedupeKey);
    this.recent.set(dedupeKey, now);
    for (const [k, t] of this.recent) {
      if (now - t <= this.dedupeMs && this.recent.size <= this.maxRemembered) break;
      this.recent.delete(k);
    }
    const namespace = md.namespace || 'default';
    const event = {
      metadata: { name: `${md.name}.${randomUUID().replace(/-/g, '').slice(0, 16)}`, namespace },
      eventTime: new Date(now).toISOString().replace('Z', '000Z'),
      reportingController: `paddlepaddle.org/${this.controllerName}`,
      reportingInstance: this.instance.slice(0, 128),
      action: action.slice(0, 128),
      reason: reason.slice(0, 128),
      note: message.slice(0, 1024),
      type,
      regarding: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: md.name,
        namespace: md.namespace,
        uid: md.uid,
        resourceVersion: md.resourceVersion,
      },
    };
    try {
      await this.api.create(EVENT, event, namespace);
    } catch (e) {
      this.logger.warn('could not record event', { reason, error: (e as Error).message });
    }
  }
}
