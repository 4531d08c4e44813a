/**
 * The host-port phase of a PaddleJob pass (Host intranet only): a block of 20 ports per member,
 * persisted in the job's annotation before any pod uses it. A range with no free block makes the
 * job wait for other Host-intranet jobs to end.
 */
import type { PaddleJob } from '../../api/paddlejob.js';
import { PADDLEJOB } from '../../api/constants.js';
import type { EventType } from '../../kube/event-recorder.js';
import type { KubeApi } from '../../kube/kube-api.js';
import type { ConditionChange } from './condition-change.js';
import { CONDITION, HOST_PORTS_ANNOTATION, REASON } from './constants.js';
import { formatHostPorts, parseHostPorts, type HostPortAllocator, type HostPortTable, type PortRange } from './host-ports.js';
import { intranetOf } from './pod-builder.js';

/** Look again this soon while the range is exhausted. */
const EXHAUSTED_RETRY_MS = 30_000;

export interface HostPortPhaseDeps {
  api: Pick<KubeApi, 'patch'>;
  allocator: HostPortAllocator;
  range: PortRange;
  event(job: PaddleJob, type: EventType, reason: string, message: string): void;
}

export interface HostPortResult {
  condition: ConditionChange;
  /** The ports per member; undefined when the range is exhausted (no pod may be created). */
  table?: HostPortTable;
  requeueAfterMs?: number;
}

export class HostPortPhase {
  constructor(private readonly deps: HostPortPhaseDeps) {}

  /** `members`: the member keys the spec wants. */
  async ensure(job: PaddleJob, jobKey: string, members: string[]): Promise<HostPortResult> {
    const { allocator, range } = this.deps;
    if (intranetOf(job) !== 'Host') return { condition: { remove: CONDITION.HostPortsAllocated }, table: {} };
    const surplus = Object.keys(allocator.tableOf(jobKey)).filter((m) => !members.includes(m));
    // a surplus member's pod is deleted by the scale-down of this same pass
    allocator.release(jobKey, surplus);
    const table = allocator.allocate(jobKey, members);
    const gen = job.metadata.generation;
    if (!table) {
      const message = `no free block of host ports left in ${range.min}-${range.max} for ${members.length} pod(s); the job waits for other Host-intranet jobs to end`;
      this.deps.event(job, 'Warning', REASON.HostPortsExhausted, message);
      return {
        condition: {
          set: { type: CONDITION.HostPortsAllocated, status: 'False', reason: REASON.HostPortsExhausted, message, observedGeneration: gen },
        },
        requeueAfterMs: EXHAUSTED_RETRY_MS,
      };
    }
    const annotation = formatHostPorts(table);
    if (job.metadata.annotations?.[HOST_PORTS_ANNOTATION] !== annotation) {
      try {
        await this.deps.api.patch(PADDLEJOB, job.metadata.name!, job.metadata.namespace, {
          metadata: { annotations: { [HOST_PORTS_ANNOTATION]: annotation } },
        });
      } catch (e) {
        // not persisted: give back what this pass took, so a retry starts from the annotation
        allocator.release(jobKey);
        allocator.reserve(jobKey, parseHostPorts(job.metadata.annotations?.[HOST_PORTS_ANNOTATION]));
        throw e;
      }
    }
    const ports = Object.values(table);
    const message = ports.length ? `host ports ${Math.min(...ports)}-${Math.max(...ports) + 19} in blocks of 20 per pod` : 'no pods';
    return {
      condition: {
        set: { type: CONDITION.HostPortsAllocated, status: 'True', reason: REASON.PortsAllocated, message, observedGeneration: gen },
      },
      table,
    };
  }
}
