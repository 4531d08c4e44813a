/**
 * The ConfigMap phase of a PaddleJob pass: the members' addresses (from the pods in the cache, or
 * their names in Service intranet), written once every member has one. Elastic jobs use none. A
 * ConfigMap of that name not controlled by the job (e.g. of a deleted job of the same name, not yet
 * garbage-collected) is waited out.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { CachedPod } from '../../kube/cached-objects.js';
import { CONFIGMAP } from '../../api/constants.js';
import type { PaddleJob } from '../../api/paddlejob.js';
import { createIfAbsent } from '../../kube/create-if-absent.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { KubeApi } from '../../kube/kube-api.js';
import { isControlledBy } from '../../kube/owner-reference.js';
import type { Logger } from '../../observability/logger.js';
import { buildConfigMap, configMapData, type AddressOf } from './configmap-builder.js';
import { EVENT_REASON, PADDLE_PORT } from './constants.js';
import type { HostPortTable } from './host-ports.js';
import { isElastic } from './mode.js';
import { configMapName, memberKey, podName } from './names.js';
import { intranetOf } from './pod-builder.js';

export interface ConfigMapPhaseDeps {
  api: Pick<KubeApi, 'create' | 'patch'>;
  pod: (name: string, namespace: string | undefined) => CachedPod | undefined;
  configMap(name: string, namespace: string | undefined): V1ConfigMap | undefined;
  event(job: PaddleJob, type: EventType, reason: string, message: string): void;
  log: Logger;
}

/** Where peers reach each member, from the pods in the cache (or their names in Service intranet). */
export function memberAddresses(job: PaddleJob, pod: ConfigMapPhaseDeps['pod'], hostPorts: HostPortTable): AddressOf {
  const ns = job.metadata.namespace;
  const jobName = job.metadata.name!;
  const intranet = intranetOf(job);
  return (role, index) => {
    const name = podName(jobName, role, index);
    if (intranet === 'Service') return { host: name, port: PADDLE_PORT };
    const p = pod(name, ns);
    const ip = p && isControlledBy(p, job) && !p.metadata?.deletionTimestamp ? p.status?.podIP : undefined;
    if (!ip) return undefined;
    if (intranet === 'Host') {
      const port = hostPorts[memberKey(role, index)];
      return port === undefined ? undefined : { host: ip, port };
    }
    return { host: ip, port: PADDLE_PORT };
  };
}

export class ConfigMapPhase {
  constructor(private readonly deps: ConfigMapPhaseDeps) {}

  /** Creates or updates the ConfigMap once every member has an address. */
  async ensure(job: PaddleJob, hostPorts: HostPortTable): Promise<void> {
    if (isElastic(job)) return;
    const data = configMapData(job, memberAddresses(job, this.deps.pod, hostPorts));
    if (!data) return;
    const ns = job.metadata.namespace;
    const name = configMapName(job.metadata.name!);
    const existing = this.deps.configMap(name, ns);
    if (!existing) {
      if (await createIfAbsent(this.deps.api, CONFIGMAP, buildConfigMap(job, data)))
        this.deps.event(job, 'Normal', EVENT_REASON.Created, `Created ConfigMap ${name}`);
      return;
    }
    if (!isControlledBy(existing, job)) {
      this.deps.log.debug('ConfigMap is not controlled by the job; waiting', { namespace: ns, name });
      return;
    }
    const have = existing.data ?? {};
    const keys = new Set([...Object.keys(have), ...Object.keys(data)]);
    const changed = [...keys].filter((k) => have[k] !== data[k]);
    if (!changed.length) return;
    const patch = Object.fromEntries(changed.map((k) => [k, data[k] ?? null]));
    await this.deps.api.patch(CONFIGMAP, name, ns, { metadata: { resourceVersion: existing.metadata?.resourceVersion }, data: patch });
    this.deps.event(job, 'Normal', 'Updated', `Updated ConfigMap ${name}: ${changed.join(', ')}`);
  }
}
