/**
 * The PaddleJob operator: runs PaddlePaddle training jobs (PS, Collective, Single) as pods, next to
 * the cache of their SampleSet. Every reconcile reads the caches, moves the world one step toward
 * the spec (all missing pods in one pass), and writes status only when it changed.
 *
 * A pass is the list of phases in `converge`, each in its own file and returning its condition:
 * the spec's names fit (names.ts), surplus members go (member-children.ts), the SampleSet gate
 * (sampleset-gate.ts), host ports (host-port-phase.ts), gang scheduling (gang-scheduling-phase.ts),
 * Services, ConfigMap (configmap-phase.ts) and pods (member-children.ts). Then status.ts computes
 * the status; an ended job's pods are cleaned up under its cleanPodPolicy.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { CachedPod, CachedService } from '../../kube/cached-objects.js';
import { CONFIGMAP, PADDLEJOB, PADDLEJOB_FINALIZER, PADDLE_JOB_NAME, POD, SAMPLESET, SERVICE } from '../../api/constants.js';
import { getCondition, type Condition } from '../../api/conditions.js';
import type { PaddleJob, PaddleJobStatus } from '../../api/paddlejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { controller, owns, watches, type ObjectKey } from '../../kube/decorators.js';
import { CONTROLLER_INDEX, controlledKeys } from '../../kube/owner-reference.js';
import { sampleSetChangeConcernsJobs } from '../shared/sampleset-change.js';
import type { EventType } from '../../kube/event-recorder.js';
import { ReconcilingOperator, keyString, type OperatorContext, type ReconcileResult } from '../../kube/reconciling-operator.js';
import { shouldCleanPods } from './clean-policy.js';
import { applyConditionChange, type ConditionChange } from './condition-change.js';
import { ConfigMapPhase } from './configmap-phase.js';
import { CONDITION, HOST_PORTS_ANNOTATION, REASON, VOLCANO_SCHEDULER_NAME } from './constants.js';
import { Expectations } from './expectations.js';
import { GangSchedulingPhase } from './gang-scheduling-phase.js';
import { HostPortPhase } from './host-port-phase.js';
import { DEFAULT_HOST_PORT_RANGE, HostPortAllocator, parseHostPorts, type PortRange } from './host-ports.js';
import { desiredMembers, MemberChildren } from './member-children.js';
import { replicasOf, rolesOf } from './mode.js';
import { MAX_NAME_LENGTH, longestPodName, memberKey } from './names.js';
import { intranetOf, type PodBuildOptions } from './pod-builder.js';
import { checkSampleSet, sampleSetCondition, sampleSetNamespaceOf } from './sampleset-gate.js';
import { sampleSetWait } from './sampleset-wait.js';
import { isTerminal, nextStatus, statusChanged, statusPatch } from './status.js';

export interface PaddleJobOperatorOptions {
  /** Host intranet: the host ports handed out, in blocks of 20 per pod. Default 35000–65000. */
  hostPortRange?: PortRange;
  /** Pods created (or deleted) in parallel within one reconcile. Default 16. */
  podCreationConcurrency?: number;
  /** Honour spec.schedulingPolicy with a Volcano PodGroup when that API is installed. Default true. */
  gangScheduling?: boolean;
  /**
   * Without the PodGroup API, a job with schedulingPolicy waits (true) instead of running its pods
   * with the default scheduler (false, the default). Either way the GangScheduling condition says so.
   */
  requireGangScheduling?: boolean;
  /** Scheduler name put on gang-scheduled pods. Default "volcano". */
  volcanoSchedulerName?: string;
  /** How long the answer to "is the PodGroup API installed" is reused. Default 60 s. */
  apiCheckTtlMs?: number;
  /** Elastic jobs: etcd endpoints for PADDLE_ELASTIC_SERVER (comma-separated). */
  elasticServer?: string;
  /**
   * The installed cache engines: a SampleSet's claim, cache-node label and runtime pod names come
   * only from its engine. A job whose SampleSet names an engine missing here waits with
   * SampleSetReady=False (CacheEngineNotInstalled).
   */
  engines: EngineRegistry;
  /** How long a created/deleted pod is awaited in the cache before it is looked at again. Default 30 s. */
  expectationTtlMs?: number;
}

/** What one pass found: the conditions its phases wrote, when to look again, whether it created pods. */
interface Pass {
  conditions: Condition[] | undefined;
  requeueAfterMs?: number;
  /** Pods were created in this pass: their events bring the job back at once. */
  createdPods?: boolean;
  /** The job fails with this (it waited too long for its SampleSet). */
  failure?: { reason: string; message: string };
}

/** The spec's pod names fit the limits of label values and Service names (pure). */
export function nameProblem(job: PaddleJob): { reason: string; message: string } | undefined {
  const replicas = Object.fromEntries(rolesOf(job.spec).map((r) => [r, replicasOf(job.spec, r)]));
  const longest = longestPodName(job.metadata.name!, replicas);
  if (longest.length <= MAX_NAME_LENGTH) return undefined;
  return {
    reason: REASON.NameTooLong,
    message: `pod name ${longest} is ${longest.length} characters; pod names are label values and Service names, limited to ${MAX_NAME_LENGTH}: shorten the job name`,
  };
}

/** Index of the PaddleJob cache: unfinished jobs by the `<namespace>/<name>` of their SampleSet. */
const JOBS_BY_SAMPLESET = 'paddle:paddlejobs-by-sampleset';

@controller({ resource: PADDLEJOB, name: 'paddlejob' })
@owns(POD, { labelSelector: PADDLE_JOB_NAME })
@owns(SERVICE, { labelSelector: PADDLE_JOB_NAME })
@owns(CONFIGMAP, { labelSelector: PADDLE_JOB_NAME })
@watches<PaddleJobOperator>(SAMPLESET, (obj, op) => op.jobsUsingSampleSet(obj as SampleSet), { changed: sampleSetChangeConcernsJobs })
export class PaddleJobOperator extends ReconcilingOperator<PaddleJob> {
  private readonly engines: EngineRegistry;
  private readonly hostPorts: HostPortAllocator;
  private readonly creations: Expectations;
  private readonly deletions: Expectations;
  private readonly children: MemberChildren;
  private readonly hostPortPhase: HostPortPhase;
  private readonly gangPhase: GangSchedulingPhase;
  private readonly configMapPhase: ConfigMapPhase;
  /**
   * jobKey → the terminal status this process wrote. The job cache may lag behind pod events: a
   * reconcile woken by cleanPodPolicy deleting pods could otherwise see the job still Running with
   * its pods gone, and create them again.
   */
  private readonly endedJobs = new Map<string, { uid: string; status: PaddleJobStatus }>();
  private readonly elasticServer?: string;

  constructor(ctx: OperatorContext, options: PaddleJobOperatorOptions) {
    // a job's children, and the jobs of a SampleSet, through indexes (no scan of every pod or job)
    for (const type of [POD, SERVICE]) ReconcilingOperator.declaredCache(ctx, new.target, type).addIndex(CONTROLLER_INDEX, controlledKeys);
    ReconcilingOperator.declaredCache<PaddleJob>(ctx, new.target, PADDLEJOB).addIndex(JOBS_BY_SAMPLESET, (j) =>
      j.spec?.sampleSetRef?.name && !isTerminal(j.status?.phase) ? [`${sampleSetNamespaceOf(j)}/${j.spec.sampleSetRef.name}`] : [],
    );
    super(ctx);
    const range = options.hostPortRange ?? DEFAULT_HOST_PORT_RANGE;
    const concurrency = Math.max(1, options.podCreationConcurrency ?? 16);
    const expectationTtlMs = options.expectationTtlMs ?? 30_000;
    this.elasticServer = options.elasticServer;
    this.engines = options.engines;
    this.hostPorts = new HostPortAllocator(range);
    this.creations = new Expectations(expectationTtlMs);
    this.deletions = new Expectations(expectationTtlMs);
    const event = (job: PaddleJob, type: EventType, reason: string, message: string): void => void this.event(job, type, reason, message);
    const pod = (name: string, ns: string | undefined): CachedPod | undefined => this.cacheOf<CachedPod>(POD).get(name, ns);
    this.children = new MemberChildren({
      api: this.api,
      podsControlledBy: (uid) => this.cacheOf<CachedPod>(POD).byIndex(CONTROLLER_INDEX, uid),
      pod,
      servicesControlledBy: (uid) => this.cacheOf<CachedService>(SERVICE).byIndex(CONTROLLER_INDEX, uid),
      service: (name, ns) => this.cacheOf<CachedService>(SERVICE).get(name, ns),
      creations: this.creations,
      deletions: this.deletions,
      concurrency,
      event,
    });
    this.hostPortPhase = new HostPortPhase({ api: this.api, allocator: this.hostPorts, range, event });
    this.gangPhase = new GangSchedulingPhase(
      { api: this.api, event },
      {
        gangScheduling: options.gangScheduling ?? true,
        requireGangScheduling: options.requireGangScheduling ?? false,
        volcanoSchedulerName: options.volcanoSchedulerName ?? VOLCANO_SCHEDULER_NAME,
        apiCheckTtlMs: options.apiCheckTtlMs ?? 60_000,
      },
    );
    this.configMapPhase = new ConfigMapPhase({
      api: this.api,
      pod,
      configMap: (name, ns) => this.cacheOf<V1ConfigMap>(CONFIGMAP).get(name, ns),
      event,
      log: this.log,
    });
    // The host-port table of every job is rebuilt from its annotation as the cache fills (initial
    // list included), so an operator restart keeps every allocation.
    this.primary.addHandler((type, job, old) => {
      // the same name with a new uid (deleted and re-created while the watch was away): a new job
      if (old && old.metadata?.uid !== job.metadata?.uid) this.trackHostPorts(true, old);
      this.trackHostPorts(type === 'delete', job);
    });
  }

  /** Keys of the jobs that reference `sampleSet` (the SampleSet watch re-queues them). */
  jobsUsingSampleSet(sampleSet: SampleSet): ObjectKey[] {
    return this.primary
      .byIndex(JOBS_BY_SAMPLESET, `${sampleSet.metadata?.namespace}/${sampleSet.metadata?.name}`)
      .map((j) => ({ namespace: j.metadata.namespace, name: j.metadata.name! }));
  }

  /** The allocator (for tests and diagnostics). */
  get hostPortAllocator(): HostPortAllocator {
    return this.hostPorts;
  }

  private trackHostPorts(deleted: boolean, job: PaddleJob): void {
    const key = keyString({ namespace: job.metadata?.namespace, name: job.metadata.name! });
    if (deleted || isTerminal(job.status?.phase) || intranetOf(job) !== 'Host') {
      this.hostPorts.release(key);
      return;
    }
    const conflicts = this.hostPorts.reserve(key, parseHostPorts(job.metadata.annotations?.[HOST_PORTS_ANNOTATION]));
    if (conflicts.length)
      this.log.warn('host ports of a job overlap another job; they will be reallocated for pods not yet created', {
        job: key,
        members: conflicts,
      });
  }

  protected async reconcile(key: ObjectKey, job: PaddleJob | undefined): Promise<ReconcileResult> {
    const jobKey = keyString(key);
    if (!job) {
      // ownerReferences let the garbage collector delete pods, Services, the ConfigMap and the PodGroup
      this.hostPorts.release(jobKey);
      this.creations.forget(jobKey);
      this.deletions.forget(jobKey);
      this.gangPhase.forget(jobKey);
      this.endedJobs.delete(jobKey);
      return;
    }
    if (job.metadata.deletionTimestamp) {
      // we add no finalizer; jobs created by the original operator may still carry its one
      await this.removeFinalizer(job, PADDLEJOB_FINALIZER);
      return;
    }

    const ended = this.endedJobs.get(jobKey);
    if (isTerminal(job.status?.phase))
      this.endedJobs.delete(jobKey); // the cache has caught up
    else if (ended && ended.uid === job.metadata.uid) job = { ...job, status: ended.status };

    const pass: Pass = { conditions: job.status?.conditions };
    if (!isTerminal(job.status?.phase)) await this.converge(job, jobKey, pass);

    const next = nextStatus(job, this.children.podsOf(job), pass.conditions, new Date(this.clock.now()), pass.failure);
    const result: ReconcileResult = pass.requeueAfterMs !== undefined ? { requeueAfterMs: pass.requeueAfterMs } : undefined;
    // The pods just created are not in the cache yet, so this status would be stale at once; their
    // events run the next pass within moments, which writes it (one write per job instead of two).
    if (pass.createdPods && !isTerminal(next.phase)) return result;
    // status first: pods are deleted only once the outcome is recorded
    await this.writeStatus(job, next);
    if (isTerminal(next.phase)) {
      if (!isTerminal(job.status?.phase)) this.endedJobs.set(jobKey, { uid: job.metadata.uid!, status: next });
      this.hostPorts.release(jobKey);
      if (shouldCleanPods(job.spec.cleanPodPolicy, next.phase)) {
        await this.children.deleteAll(job, jobKey, `job ${next.phase}, cleanPodPolicy ${job.spec.cleanPodPolicy ?? 'OnCompletion'}`);
      }
    }
    return result;
  }

  /** One pass toward the spec: the phases in order, their conditions combined into `pass`. */
  private async converge(job: PaddleJob, jobKey: string, pass: Pass): Promise<void> {
    const now = new Date(this.clock.now());
    const apply = (change: ConditionChange): void => void (pass.conditions = applyConditionChange(pass.conditions, change, now));
    const later = (ms: number | undefined): void => {
      if (ms !== undefined) pass.requeueAfterMs = Math.min(pass.requeueAfterMs ?? Infinity, ms);
    };

    const problem = nameProblem(job);
    if (problem) {
      apply({ set: { type: CONDITION.SpecValid, status: 'False', ...problem, observedGeneration: job.metadata.generation } });
      void this.event(job, 'Warning', problem.reason, problem.message);
      return;
    }
    apply({ remove: CONDITION.SpecValid });
    await this.children.scaleDown(job, jobKey);

    const build: PodBuildOptions = { elasticServer: this.elasticServer };
    const gate = checkSampleSet(job, (n, ns) => this.cacheOf<SampleSet>(SAMPLESET).get(n, ns), this.engines);
    apply(gate ? { set: sampleSetCondition(gate, job.metadata.generation) } : { remove: CONDITION.SampleSetReady });
    if (gate?.open) build.sampleSet = gate.binding;
    const wait = sampleSetWait(job, gate, getCondition(job.status?.conditions, CONDITION.SampleSetReady), this.clock.now());
    later(wait.requeueAfterMs);
    if (wait.failure) {
      pass.failure = wait.failure;
      return;
    }

    const ports = await this.hostPortPhase.ensure(
      job,
      jobKey,
      desiredMembers(job).map((m) => memberKey(m.role, m.index)),
    );
    apply(ports.condition);
    later(ports.requeueAfterMs);

    const gang = await this.gangPhase.ensure(job, jobKey);
    apply(gang.condition);
    later(gang.requeueAfterMs);
    if (gang.gang) build.gang = gang.gang;

    // the SampleSet watch, freed host ports or the PodGroup API bring the job back
    const canCreate = !(gate && !gate.open) && ports.table !== undefined && !gang.wait;
    if (intranetOf(job) === 'Service') {
      await this.children.ensureServices(job, jobKey);
      // endpoints are pod names, known before the pods: the ConfigMap is there when they start
      await this.configMapPhase.ensure(job, this.hostPorts.tableOf(jobKey));
    }
    if (canCreate) pass.createdPods = await this.children.createMissingPods(job, jobKey, build, ports.table ?? {});
    if (intranetOf(job) !== 'Service') await this.configMapPhase.ensure(job, this.hostPorts.tableOf(jobKey));
  }

  private async writeStatus(job: PaddleJob, next: PaddleJobStatus): Promise<void> {
    const prev = job.status;
    if (!statusChanged(prev, next)) return;
    const written = await this.patchStatus(job, statusPatch(prev, next));
    // the first phase (Pending) of a new job is no news; later transitions are
    if (!written || !next.phase || prev?.phase === next.phase || (!prev?.phase && next.phase === 'Pending')) return;
    if (next.phase === 'Failed') {
      void this.event(job, 'Warning', 'Failed', getCondition(next.conditions, CONDITION.Failed)?.message ?? 'job failed');
    } else {
      void this.event(job, 'Normal', next.phase, `Job is ${next.phase}`);
    }
  }
}
