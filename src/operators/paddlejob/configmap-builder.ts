/**
 * The ConfigMap `<job>` every member reads with envFrom: the endpoints of all members (which exist
 * only once every pod has an address) and the Paddle port settings.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { PADDLE_JOB_NAME, PADDLE_RES_NAME } from '../../api/constants.js';
import type { PaddleJob, RoleName } from '../../api/paddlejob.js';
import { ownerReference } from '../../kube/owner-reference.js';
import { GLOO_HTTP_PORT_OFFSET, GLOO_RENDEZVOUS_HTTP, PADDLE_PORT, TRAINER_PORTS_NUM } from './constants.js';
import { replicasOf } from './mode.js';
import { configMapName } from './names.js';

/** Where peers reach a member: a pod IP, a host IP (Host intranet) or a name (Service intranet). */
export interface MemberAddress {
  host: string;
  port: number;
}

export type AddressOf = (role: RoleName, index: number) => MemberAddress | undefined;

/** `host:port`, with IPv6 hosts in brackets. */
export function endpoint(a: MemberAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * The ConfigMap data, or undefined while some member has no address yet. Keys (as in the original):
 * PADDLE_PSERVERS_IP_PORT_LIST (ps), PADDLE_TRAINER_ENDPOINTS, PADDLE_TRAINERS, PADDLE_TRAINERS_NUM
 * (worker), PADDLE_HETER_ENDPOINTS (heter), PADDLE_PORT, TRAINER_PORTS_NUM, and with withGloo > 0
 * PADDLE_WITH_GLOO, PADDLE_GLOO_RENDEZVOUS and PADDLE_GLOO_HTTP_ENDPOINT (ps-0's address, or
 * worker-0's without parameter servers, at port + 18).
 */
export function configMapData(job: PaddleJob, addressOf: AddressOf): Record<string, string> | undefined {
  const spec = job.spec;
  const members: Partial<Record<RoleName, MemberAddress[]>> = {};
  for (const role of ['ps', 'worker', 'heter'] as const) {
    if (!spec[role]) continue;
    const list: MemberAddress[] = [];
    for (let i = 0; i < replicasOf(spec, role); i++) {
      const a = addressOf(role, i);
      if (!a) return undefined;
      list.push(a);
    }
    members[role] = list;
  }
  const first = members.ps?.[0] ?? members.worker?.[0] ?? members.heter?.[0];
  const data: Record<string, string> = {
    PADDLE_PORT: String(first?.port ?? PADDLE_PORT),
    TRAINER_PORTS_NUM: String(TRAINER_PORTS_NUM),
  };
  if (members.ps) data.PADDLE_PSERVERS_IP_PORT_LIST = members.ps.map(endpoint).join(',');
  if (members.worker) {
    data.PADDLE_TRAINER_ENDPOINTS = members.worker.map(endpoint).join(',');
    data.PADDLE_TRAINERS = members.worker.map((a) => a.host).join(',');
    data.PADDLE_TRAINERS_NUM = String(members.worker.length);
  }
  if (members.heter) data.PADDLE_HETER_ENDPOINTS = members.heter.map(endpoint).join(',');
  const gloo = spec.withGloo ?? 0;
  const rendezvous = members.ps?.[0] ?? members.worker?.[0];
  if (gloo > 0 && rendezvous) {
    data.PADDLE_WITH_GLOO = String(gloo);
    data.PADDLE_GLOO_RENDEZVOUS = GLOO_RENDEZVOUS_HTTP;
    data.PADDLE_GLOO_HTTP_ENDPOINT = endpoint({ host: rendezvous.host, port: rendezvous.port + GLOO_HTTP_PORT_OFFSET });
  }
  return data;
}

export function buildConfigMap(job: PaddleJob, data: Record<string, string>): V1ConfigMap {
  const jobName = job.metadata.name!;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: configMapName(jobName),
      namespace: job.metadata.namespace,
      labels: { [PADDLE_JOB_NAME]: jobName, [PADDLE_RES_NAME]: jobName },
      ownerReferences: [ownerReference(job)],
    },
    data,
  };
}
