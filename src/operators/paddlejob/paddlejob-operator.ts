/**
 * The PaddleJob operator: runs PaddlePaddle training jobs (PS, Collective, Single) as pods, next to
 * the cache of their SampleSet. Every reconcile reads the caches, moves the world one step toward
 * the spec (all missing pods in one pass), and writes status only when it changed.
 */
import type { KubernetesObject, V1ConfigMap, V1CustomResourceDefinition, V1Pod, V1Service } from '@kubernetes/client-node';
import { CONFIGMAP, CRD, PADDLE_JOB_NAME, PADDLEJOB, PADDLEJOB_FINALIZER, POD, PODGROUP, SAMPLESET, SERVICE } from '../../api/constants.js';
import { getCondition, setCondition, type Condition } from '../../api/conditions.js';
import type { PaddleJob, PaddleJobStatus, RoleName } from '../../api/paddlejob.js';
import type { SampleSet } from '../../api/sampleset.js';
import type { EngineRegistry } from '../../engines/registry.js';
import { isNotFound } from '../../kube/api-error.js';
import { createIfAbsent } from '../../kube/create-if-absent.js';
import { controller, owns, watches, type ObjectKey } from '../../kube/decorators.js';
import { isControlledBy } from '../../kube/owner-reference.js';
import { ReconcilingOperator, keyString, type OperatorContext, type ReconcileResult } from '../../kube/reconciling-operator.js';
import { ApiAvailability } from './api-availability.js';
import { defaultSampleSetNaming, engineSampleSetNaming, type SampleSetNaming } from './cache-affinity.js';
import { shouldCleanPods } from './clean-policy.js';
import { mapSettled } from './concurrency.js';
import { buildConfigMap, configMapData, type AddressOf } from './configmap-builder.js';
import { CONDITION, EVENT_REASON, HOST_PORTS_ANNOTATION, PADDLE_PORT, PODGROUP_CRD_NAME, REASON, VOLCANO_SCHEDULER_NAME } from './constants.js';
import { Expectations } from './expectations.js';
import { DEFAULT_HOST_PORT_RANGE, HostPortAllocator, formatHostPorts, parseHostPorts, type HostPortTable, type PortRange } from './host-ports.js';
import { isElastic, replicasOf, rolesOf } from './mode.js';
import { MAX_NAME_LENGTH, configMapName, longestPodName, memberKey, podGroupName, podIdentity, podName } from './names.js';
import { buildPod, intranetOf, type PodBuildOptions } from './pod-builder.js';
import { buildPodGroup, podGroupNeedsUpdate, type PodGroup } from './podgroup-builder.js';
import { checkSampleSet, sampleSetCondition, sampleSetNamespaceOf } from './sampleset-gate.js';
import { buildPodService } from './service-builder.js';
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
  /** Cache engines, to take claim and node-label names from the SampleSet's engine. */
  engines?: EngineRegistry;
  /** How long a created/deleted pod is awaited in the cache before it is looked at again. Default 30 s. */
  expectationTtlMs?: number;
}

type Settled = PromiseSettledResult<unknown>;

interface Pass {
  job: PaddleJob;
  jobKey: string;
  conditions: Condition[] | undefined;
  requeueAfterMs?: number;
  /** Pods were created in this pass: their events bring the job back at once. */
  createdPods?: boolean;
}

function withoutCondition(list: Condition[] | undefined, type: string): Condition[] | undefined {
  if (!list?.some((c) => c.type === type)) return list;
  return list.filter((c) => c.type !== type);
}

function summarize(names: string[], max = 8): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

function firstError(results: Settled[]): unknown {
  return results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
}

@controller({ resource: PADDLEJOB, name: 'paddlejob' })
@owns(POD, { labelSelector: PADDLE_JOB_NAME })
@owns(SERVICE, { labelSelector: PADDLE_JOB_NAME })
@owns(CONFIGMAP, { labelSelector: PADDLE_JOB_NAME })
@watches<PaddleJobOperator>(SAMPLESET, (obj, op) => op.jobsUsingSampleSet(obj as SampleSet))
export class PaddleJobOperator extends ReconcilingOperator<PaddleJob> {
  private readonly opts: Required<Omit<PaddleJobOperatorOptions, 'engines' | 'elasticServer'>> & Pick<PaddleJobOperatorOptions, 'elasticServer'>;
  private readonly naming: SampleSetNaming;
  private readonly hostPorts: HostPortAllocator;
  private readonly podGroupApi: ApiAvailability;
  private readonly creations: Expectations;
  private readonly deletions: Expectations;
  /** jobKey → the job (uid) and generation whose PodGroup is known to be in place. */
  private readonly podGroupsEnsured = new Map<string, { uid?: string; generation?: number }>();
  /**
   * jobKey → the terminal status this process wrote. The job cache may lag behind pod events: a
   * reconcile woken by cleanPodPolicy deleting pods could otherwise see the job still Running with
   * its pods gone, and create them again.
   */
  private readonly endedJobs = new Map<string, { uid: string; status: PaddleJobStatus }>();

  constructor(ctx: OperatorContext, options: PaddleJobOperatorOptions = {}) {
    super(ctx);
    this.opts = {
      hostPortRange: options.hostPortRange ?? DEFAULT_HOST_PORT_RANGE,
      podCreationConcurrency: Math.max(1, options.podCreationConcurrency ?? 16),
      gangScheduling: options.gangScheduling ?? true,
      requireGangScheduling: options.requireGangScheduling ?? false,
      volcanoSchedulerName: options.volcanoSchedulerName ?? VOLCANO_SCHEDULER_NAME,
      apiCheckTtlMs: options.apiCheckTtlMs ?? 60_000,
      expectationTtlMs: options.expectationTtlMs ?? 30_000,
      elasticServer: options.elasticServer,
    };
    this.naming = options.engines ? engineSampleSetNaming(options.engines) : defaultSampleSetNaming;
    this.hostPorts = new HostPortAllocator(this.opts.hostPortRange);
    this.podGroupApi = new ApiAvailability(() => this.podGroupApiInstalled(), this.opts.apiCheckTtlMs);
    this.creations = new Expectations(this.opts.expectationTtlMs);
    this.deletions = new Expectations(this.opts.expectationTtlMs);
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
    const ns = sampleSet.metadata?.namespace;
    const name = sampleSet.metadata?.name;
    return this.primary
      .list(undefined, (j) => j.spec?.sampleSetRef?.name === name && sampleSetNamespaceOf(j) === ns && !isTerminal(j.status?.phase))
      .map((j) => ({ namespace: j.metadata.namespace, name: j.metadata.name! }));
  }

  /** The allocator (for tests and diagnostics). */
  get hostPortAllocator(): HostPortAllocator {
    return this.hostPorts;
  }

  private trackHostPorts(deleted: boolean, job: PaddleJob): void {
    const key = keyString({ namespace: job.metadata?.namespace, name: job.metadata!.name! });
    if (deleted || isTerminal(job.status?.phase) || intranetOf(job) !== 'Host') {
      this.hostPorts.release(key);
      return;
    }
    const conflicts = this.hostPorts.reserve(key, parseHostPorts(job.metadata.annotations?.[HOST_PORTS_ANNOTATION]));
    if (conflicts.length) this.log.warn('host ports of a job overlap another job; they will be reallocated for pods not yet created', { job: key, members: conflicts });
  }

  protected async reconcile(key: ObjectKey, job: PaddleJob | undefined): Promise<ReconcileResult> {
    const jobKey = keyString(key);
    if (!job) {
      // ownerReferences let the garbage collector delete pods, Services, the ConfigMap and the PodGroup
      this.hostPorts.release(jobKey);
      this.creations.forget(jobKey);
      this.deletions.forget(jobKey);
      this.podGroupsEnsured.delete(jobKey);
      this.endedJobs.delete(jobKey);
      return;
    }
    if (job.metadata.deletionTimestamp) {
      // we add no finalizer; jobs created by the original operator may still carry its one
      await this.removeFinalizer(job, PADDLEJOB_FINALIZER);
      return;
    }

    const ended = this.endedJobs.get(jobKey);
    if (isTerminal(job.status?.phase)) this.endedJobs.delete(jobKey); // the cache has caught up
    else if (ended && ended.uid === job.metadata.uid) job = { ...job, status: ended.status };

    const pass: Pass = { job, jobKey, conditions: job.status?.conditions };
    if (!isTerminal(job.status?.phase)) await this.converge(pass);

    const next = nextStatus(job, this.podsOf(job), pass.conditions);
    // The pods just created are not in the cache yet, so this status would be stale at once; their
    // events run the next pass within moments, which writes it (one write per job instead of two).
    if (pass.createdPods && !isTerminal(next.phase)) return this.result(pass);
    // status first: pods are deleted only once the outcome is recorded
    await this.writeStatus(job, next);
    if (isTerminal(next.phase)) {
      if (!isTerminal(job.status?.phase)) this.endedJobs.set(jobKey, { uid: job.metadata.uid!, status: next });
      this.hostPorts.release(jobKey);
      await this.cleanUp(job, next);
    }
    return this.result(pass);
  }

  private result(pass: Pass): ReconcileResult {
    return pass.requeueAfterMs !== undefined ? { requeueAfterMs: pass.requeueAfterMs } : undefined;
  }

  // ---- one pass toward the spec -------------------------------------------------------------

  private async converge(pass: Pass): Promise<void> {
    const { job } = pass;
    if (!this.validate(pass)) return;
    await this.scaleDown(job);

    let canCreate = true;
    const build: PodBuildOptions = { elasticServer: this.opts.elasticServer };

    const gate = checkSampleSet(job, (n, ns) => this.cacheOf<SampleSet>(SAMPLESET).get(n, ns), this.naming);
    pass.conditions = gate ? setCondition(pass.conditions, sampleSetCondition(gate, job.metadata.generation)) : withoutCondition(pass.conditions, CONDITION.SampleSetReady);
    if (gate && !gate.open) canCreate = false; // the SampleSet watch brings the job back
    if (gate?.open) build.sampleSet = gate.binding;

    const ports = await this.ensureHostPorts(pass);
    if (ports === undefined) canCreate = false;

    const gang = await this.ensureGangScheduling(pass);
    if (gang === 'wait') canCreate = false;
    else if (gang) build.gang = gang;

    if (intranetOf(job) === 'Service') {
      await this.ensureServices(job);
      // endpoints are pod names, known before the pods: the ConfigMap is there when they start
      await this.ensureConfigMap(job);
    }
    if (canCreate) pass.createdPods = await this.createMissingPods(job, build, ports ?? {});
    if (intranetOf(job) !== 'Service') await this.ensureConfigMap(job);
  }

  private validate(pass: Pass): boolean {
    const { job } = pass;
    const name = job.metadata.name!;
    const replicas = Object.fromEntries(rolesOf(job.spec).map((r) => [r, replicasOf(job.spec, r)]));
    const longest = longestPodName(name, replicas);
    let problem: { reason: string; message: string } | undefined;
    if (longest.length > MAX_NAME_LENGTH) {
      problem = {
        reason: REASON.NameTooLong,
        message: `pod name ${longest} is ${longest.length} characters; pod names are label values and Service names, limited to ${MAX_NAME_LENGTH}: shorten the job name`,
      };
    }
    if (!problem) {
      pass.conditions = withoutCondition(pass.conditions, CONDITION.SpecValid);
      return true;
    }
    pass.conditions = setCondition(pass.conditions, { type: CONDITION.SpecValid, status: 'False', ...problem, observedGeneration: job.metadata.generation });
    void this.event(job, 'Warning', problem.reason, problem.message);
    return false;
  }

  /** The names of the pods the spec wants, by role and index. */
  private desiredMembers(job: PaddleJob): { role: RoleName; index: number; name: string }[] {
    const out: { role: RoleName; index: number; name: string }[] = [];
    for (const role of rolesOf(job.spec)) {
      for (let i = 0; i < replicasOf(job.spec, role); i++) out.push({ role, index: i, name: podName(job.metadata.name!, role, i) });
    }
    return out;
  }

  private podsOf(job: PaddleJob): V1Pod[] {
    return this.cacheOf<V1Pod>(POD).list(job.metadata.namespace, (p) => isControlledBy(p, job));
  }

  private isSurplus(job: PaddleJob, o: KubernetesObject): boolean {
    const id = podIdentity(o as V1Pod);
    return !id || !job.spec[id.role] || id.index >= replicasOf(job.spec, id.role);
  }

  /** Deletes the pods (and their Services) beyond the replicas of their role, all in one pass. */
  private async scaleDown(job: PaddleJob): Promise<void> {
    const jobKey = keyString({ namespace: job.metadata.namespace, name: job.metadata.name! });
    const pods = this.podsOf(job).filter((p) => !p.metadata?.deletionTimestamp && this.isSurplus(job, p));
    const services = this.cacheOf<V1Service>(SERVICE).list(job.metadata.namespace, (s) => isControlledBy(s, job) && this.isSurplus(job, s));
    await this.deleteChildren(job, jobKey, pods, services, 'scaled down');
  }

  private async deleteChildren(job: PaddleJob, jobKey: string, pods: V1Pod[], services: V1Service[], why: string): Promise<void> {
    const todo: { type: typeof POD | typeof SERVICE; obj: KubernetesObject }[] = [
      ...pods.filter((p) => !this.deletions.pending(jobKey, p.metadata!.uid!)).map((obj) => ({ type: POD, obj })),
      ...services.filter((s) => !this.deletions.pending(jobKey, s.metadata!.uid!)).map((obj) => ({ type: SERVICE, obj })),
    ];
    if (!todo.length) return;
    const results = await mapSettled(todo, this.opts.podCreationConcurrency, async ({ type, obj }) => {
      await this.api.delete(type, obj.metadata!.name!, obj.metadata!.namespace, { uid: obj.metadata!.uid });
      this.deletions.expect(jobKey, [obj.metadata!.uid!]);
    });
    const done = todo.filter((_, i) => results[i].status === 'fulfilled');
    const podNames = done.filter((t) => t.type === POD).map((t) => t.obj.metadata!.name!);
    const svcNames = done.filter((t) => t.type === SERVICE).map((t) => t.obj.metadata!.name!);
    if (podNames.length) void this.event(job, 'Normal', EVENT_REASON.Deleted, `Deleted pods (${why}): ${summarize(podNames)}`);
    if (svcNames.length) void this.event(job, 'Normal', EVENT_REASON.Deleted, `Deleted Services (${why}): ${summarize(svcNames)}`);
    const err = firstError(results);
    if (err && !isNotFound(err)) {
      void this.event(job, 'Warning', EVENT_REASON.FailedDelete, `Could not delete some children: ${(err as Error).message}`);
      throw err;
    }
  }

  /**
   * Host intranet: a block of ports per member, persisted in the job's annotation before any pod
   * uses it. Returns the table, or undefined when the range is exhausted (the job waits).
   */
  private async ensureHostPorts(pass: Pass): Promise<HostPortTable | undefined> {
    const { job, jobKey } = pass;
    if (intranetOf(job) !== 'Host') {
      pass.conditions = withoutCondition(pass.conditions, CONDITION.HostPortsAllocated);
      return {};
    }
    const members = this.desiredMembers(job).map((m) => memberKey(m.role, m.index));
    const surplus = Object.keys(this.hostPorts.tableOf(jobKey)).filter((m) => !members.includes(m));
    // a surplus member's pod is deleted by scaleDown in this same pass
    this.hostPorts.release(jobKey, surplus);
    const table = this.hostPorts.allocate(jobKey, members);
    const gen = job.metadata.generation;
    if (!table) {
      const message = `no free block of host ports left in ${this.opts.hostPortRange.min}-${this.opts.hostPortRange.max} for ${members.length} pod(s); the job waits for other Host-intranet jobs to end`;
      pass.conditions = setCondition(pass.conditions, { type: CONDITION.HostPortsAllocated, status: 'False', reason: REASON.HostPortsExhausted, message, observedGeneration: gen });
      pass.requeueAfterMs = 30_000;
      void this.event(job, 'Warning', REASON.HostPortsExhausted, message);
      return undefined;
    }
    const annotation = formatHostPorts(table);
    if (job.metadata.annotations?.[HOST_PORTS_ANNOTATION] !== annotation) {
      try {
        await this.api.patch(PADDLEJOB, job.metadata.name!, job.metadata.namespace, { metadata: { annotations: { [HOST_PORTS_ANNOTATION]: annotation } } });
      } catch (e) {
        // not persisted: give back what this pass took, so a retry starts from the annotation
        this.hostPorts.release(jobKey);
        this.hostPorts.reserve(jobKey, parseHostPorts(job.metadata.annotations?.[HOST_PORTS_ANNOTATION]));
        throw e;
      }
    }
    const ports = Object.values(table);
    pass.conditions = setCondition(pass.conditions, {
      type: CONDITION.HostPortsAllocated,
      status: 'True',
      reason: REASON.PortsAllocated,
      message: ports.length ? `host ports ${Math.min(...ports)}-${Math.max(...ports) + 19} in blocks of 20 per pod` : 'no pods',
      observedGeneration: gen,
    });
    return table;
  }

  private async podGroupApiInstalled(): Promise<boolean> {
    const crd = await this.api.get<V1CustomResourceDefinition>(CRD, PODGROUP_CRD_NAME);
    return !!crd?.spec?.versions?.some((v) => v.name === PODGROUP.version && v.served);
  }

  /**
   * Gang scheduling for jobs with spec.schedulingPolicy. Returns the pod settings when a PodGroup is
   * in place, 'wait' when the job must not create pods yet, undefined for the default scheduler.
   */
  private async ensureGangScheduling(pass: Pass): Promise<PodBuildOptions['gang'] | 'wait' | undefined> {
    const { job, jobKey } = pass;
    const gen = job.metadata.generation;
    const policy = job.spec.schedulingPolicy;
    if (!policy || !this.opts.gangScheduling) {
      pass.conditions = withoutCondition(pass.conditions, CONDITION.GangScheduling);
      return undefined;
    }
    const custom = rolesOf(job.spec)
      .map((r) => job.spec[r]?.template?.spec?.schedulerName)
      .find((s) => s && s !== this.opts.volcanoSchedulerName);
    if (custom) {
      pass.conditions = setCondition(pass.conditions, {
        type: CONDITION.GangScheduling,
        status: 'False',
        reason: REASON.CustomScheduler,
        message: `a role template sets schedulerName ${custom}; no Volcano PodGroup is used`,
        observedGeneration: gen,
      });
      return undefined;
    }
    if (!(await this.podGroupApi.available())) {
      const wait = this.opts.requireGangScheduling;
      const message =
        `spec.schedulingPolicy asks for gang scheduling but the Volcano PodGroup API (${PODGROUP_CRD_NAME}) is not installed; ` +
        (wait ? 'the job waits until it is' : 'pods are scheduled one by one by the default scheduler');
      pass.conditions = setCondition(pass.conditions, { type: CONDITION.GangScheduling, status: 'False', reason: REASON.GangSchedulingUnavailable, message, observedGeneration: gen });
      void this.event(job, 'Warning', REASON.GangSchedulingUnavailable, message);
      if (wait) pass.requeueAfterMs = Math.min(pass.requeueAfterMs ?? Infinity, this.opts.apiCheckTtlMs);
      return wait ? 'wait' : undefined;
    }
    const gang = { schedulerName: this.opts.volcanoSchedulerName, queue: policy.queue };
    // the PodGroup is read once per generation of the job (and after a restart), not on every pass
    const ensured = this.podGroupsEnsured.get(jobKey);
    if (ensured?.uid !== job.metadata.uid || ensured?.generation !== gen) {
      await this.ensurePodGroup(job);
      this.podGroupsEnsured.set(jobKey, { uid: job.metadata.uid, generation: gen });
    }
    const want = buildPodGroup(job).spec;
    pass.conditions = setCondition(pass.conditions, {
      type: CONDITION.GangScheduling,
      status: 'True',
      reason: REASON.PodGroupCreated,
      message: `PodGroup ${podGroupName(job.metadata.name!)} with minMember ${want.minMember}${want.queue ? ` in queue ${want.queue}` : ''}`,
      observedGeneration: gen,
    });
    return gang;
  }

  private async ensurePodGroup(job: PaddleJob): Promise<void> {
    const want = buildPodGroup(job);
    const name = want.metadata!.name!;
    const existing = await this.api.get<PodGroup>(PODGROUP, name, job.metadata.namespace);
    if (!existing) {
      try {
        if (await createIfAbsent(this.api, PODGROUP, want)) void this.event(job, 'Normal', EVENT_REASON.Created, `Created PodGroup ${name} (minMember ${want.spec.minMember})`);
      } catch (e) {
        if (isNotFound(e)) this.podGroupApi.invalidate();
        throw e;
      }
      return;
    }
    if (!isControlledBy(existing, job)) {
      void this.event(job, 'Warning', EVENT_REASON.FailedCreate, `PodGroup ${name} exists and is not owned by this job; using it as it is`);
      return;
    }
    if (podGroupNeedsUpdate(existing, want.spec)) {
      await this.api.patch(PODGROUP, name, job.metadata.namespace, { spec: want.spec });
    }
  }

  private async ensureServices(job: PaddleJob): Promise<void> {
    const ns = job.metadata.namespace;
    const cache = this.cacheOf<V1Service>(SERVICE);
    const jobKey = keyString({ namespace: ns, name: job.metadata.name! });
    const missing = this.desiredMembers(job).filter((m) => !cache.get(m.name, ns) && !this.creations.pending(jobKey, `service/${m.name}`));
    if (!missing.length) return;
    const results = await mapSettled(missing, this.opts.podCreationConcurrency, async (m) => {
      await createIfAbsent(this.api, SERVICE, buildPodService(job, m.role, m.index));
      this.creations.expect(jobKey, [`service/${m.name}`]);
    });
    const created = missing.filter((_, i) => results[i].status === 'fulfilled').map((m) => m.name);
    if (created.length) void this.event(job, 'Normal', EVENT_REASON.Created, `Created Services: ${summarize(created)}`);
    const err = firstError(results);
    if (err) {
      void this.event(job, 'Warning', EVENT_REASON.FailedCreate, `Could not create Services: ${(err as Error).message}`);
      throw err;
    }
  }

  /** Creates every missing member pod in one pass, `podCreationConcurrency` at a time. */
  private async createMissingPods(job: PaddleJob, build: PodBuildOptions, ports: HostPortTable): Promise<boolean> {
    const ns = job.metadata.namespace;
    const jobKey = keyString({ namespace: ns, name: job.metadata.name! });
    const cache = this.cacheOf<V1Pod>(POD);
    const missing = this.desiredMembers(job).filter((m) => {
      if (cache.get(m.name, ns)) {
        this.creations.observed(jobKey, `pod/${m.name}`);
        return false;
      }
      return !this.creations.pending(jobKey, `pod/${m.name}`);
    });
    if (!missing.length) return false;
    const results = await mapSettled(missing, this.opts.podCreationConcurrency, async (m) => {
      const pod = buildPod(job, m.role, m.index, { ...build, hostPort: ports[memberKey(m.role, m.index)] });
      await createIfAbsent(this.api, POD, pod);
      this.creations.expect(jobKey, [`pod/${m.name}`]);
    });
    const created = missing.filter((_, i) => results[i].status === 'fulfilled').map((m) => m.name);
    if (created.length) void this.event(job, 'Normal', EVENT_REASON.Created, `Created pods: ${summarize(created)}`);
    const err = firstError(results);
    if (err) {
      void this.event(job, 'Warning', EVENT_REASON.FailedCreate, `Could not create pods: ${(err as Error).message}`);
      throw err;
    }
    return created.length > 0;
  }

  /** Where peers reach each member, from the pods in the cache (or their names in Service intranet). */
  private addresses(job: PaddleJob): AddressOf {
    const ns = job.metadata.namespace;
    const jobName = job.metadata.name!;
    const intranet = intranetOf(job);
    const table = this.hostPorts.tableOf(keyString({ namespace: ns, name: jobName }));
    const cache = this.cacheOf<V1Pod>(POD);
    return (role, index) => {
      const name = podName(jobName, role, index);
      if (intranet === 'Service') return { host: name, port: PADDLE_PORT };
      const pod = cache.get(name, ns);
      const ip = pod && isControlledBy(pod, job) && !pod.metadata?.deletionTimestamp ? pod.status?.podIP : undefined;
      if (!ip) return undefined;
      if (intranet === 'Host') {
        const port = table[memberKey(role, index)];
        return port === undefined ? undefined : { host: ip, port };
      }
      return { host: ip, port: PADDLE_PORT };
    };
  }

  /** Creates or updates the ConfigMap once every member has an address (elastic jobs use none). */
  private async ensureConfigMap(job: PaddleJob): Promise<void> {
    if (isElastic(job)) return;
    const data = configMapData(job, this.addresses(job));
    if (!data) return;
    const ns = job.metadata.namespace;
    const name = configMapName(job.metadata.name!);
    const existing = this.cacheOf<V1ConfigMap>(CONFIGMAP).get(name, ns);
    if (!existing) {
      if (await createIfAbsent(this.api, CONFIGMAP, buildConfigMap(job, data))) void this.event(job, 'Normal', EVENT_REASON.Created, `Created ConfigMap ${name}`);
      return;
    }
    if (!isControlledBy(existing, job)) {
      // e.g. the ConfigMap of a deleted job of the same name, not yet garbage-collected
      this.log.debug('ConfigMap is not controlled by the job; waiting', { namespace: ns, name });
      return;
    }
    const have = existing.data ?? {};
    const keys = new Set([...Object.keys(have), ...Object.keys(data)]);
    const changed = [...keys].filter((k) => have[k] !== data[k]);
    if (!changed.length) return;
    const patch = Object.fromEntries(changed.map((k) => [k, data[k] ?? null]));
    await this.api.patch(CONFIGMAP, name, ns, { metadata: { resourceVersion: existing.metadata?.resourceVersion }, data: patch });
    void this.event(job, 'Normal', 'Updated', `Updated ConfigMap ${name}: ${changed.join(', ')}`);
  }

  // ---- the end of a job ---------------------------------------------------------------------

  private async cleanUp(job: PaddleJob, status: PaddleJobStatus): Promise<void> {
    if (!shouldCleanPods(job.spec.cleanPodPolicy, status.phase)) return;
    const jobKey = keyString({ namespace: job.metadata.namespace, name: job.metadata.name! });
    const pods = this.podsOf(job).filter((p) => !p.metadata?.deletionTimestamp);
    const services = this.cacheOf<V1Service>(SERVICE).list(job.metadata.namespace, (s) => isControlledBy(s, job));
    await this.deleteChildren(job, jobKey, pods, services, `job ${status.phase}, cleanPodPolicy ${job.spec.cleanPodPolicy ?? 'OnCompletion'}`);
  }

  private async writeStatus(job: PaddleJob, next: PaddleJobStatus): Promise<void> {
    const prev = job.status;
    if (!statusChanged(prev, next)) return;
    const written = await this.patchStatus(job, statusPatch(prev, next) as Record<string, unknown>);
    // the first phase (Pending) of a new job is no news; later transitions are
    if (!written || !next.phase || prev?.phase === next.phase || (!prev?.phase && next.phase === 'Pending')) return;
    if (next.phase === 'Failed') {
      void this.event(job, 'Warning', 'Failed', getCondition(next.conditions, CONDITION.Failed)?.message ?? 'job failed');
    } else {
      void this.event(job, 'Normal', next.phase, `Job is ${next.phase}`);
    }
  }
}
