import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { type ResourceType } from '../api/constants.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { isConflict, isNotFound } from './api-error.js';
import { systemClock, type Clock } from './clock.js';
import { controllerSpecOf, watchSpecsOf, type ControllerSpec, type ObjectKey } from './decorators.js';
import { DotIOperator } from './dot-i-operator.js';
import type { EventRecorder, EventType } from './event-recorder.js';
import type { Informer } from './informer.js';
import type { InformerFactory } from './informer-factory.js';
import { KubeApi } from './kube-api.js';
import { controllerOf } from './owner-reference.js';
import { WorkQueue, type WorkResult } from './work-queue.js';
import { maskUriUserinfo, maskUriUserinfoDeep } from '../observability/scrub.js';

/** What a reconcile returns: nothing (done, wait for the next event) or "look again after N ms". */
export type ReconcileResult = WorkResult | void;

/** Everything a ReconcilingOperator needs, bound once in the container. */
export interface OperatorContext {
  api: KubeApi;
  informers: InformerFactory;
  events: EventRecorder;
  logger: Logger;
  metrics: Metrics;
  /** Parallel reconciles per operator (different objects). */
  concurrency: number;
  /** The time source (the system clock when absent). */
  clock?: Clock;
}

/**
 * After a write of its own, a key whose cached object still shows the replaced version waits for the
 * write's watch event (looked at again after OWN_WRITE_RECHECK_MS as a fallback), for at most
 * OWN_WRITE_LAG_MS: a watch that lags longer is not waited for.
 */
const OWN_WRITE_RECHECK_MS = 1_000;
const OWN_WRITE_LAG_MS = 10_000;

export function keyString(k: ObjectKey): string {
  return k.namespace ? `${k.namespace}/${k.name}` : k.name;
}
export function parseKey(s: string): ObjectKey {
  const i = s.indexOf('/');
  return i < 0 ? { name: s } : { namespace: s.slice(0, i), name: s.slice(i + 1) };
}

/**
 * Our base class for every operator. It keeps `@dot-i/k8s-operator`'s Operator as the parent and
 * replaces its event source and queue: informers (list + watch with resourceVersion, 410 relist,
 * reconnect with backoff) feed a keyed work queue (coalescing, one reconcile per object at a time,
 * N objects in parallel, backoff on errors, requeue-after). Which parent parts are used and which
 * are replaced, and why, is written once in src/kube/README.md. A subclass declares what it
 * manages with @controller/@owns/@watches and implements `reconcile`.
 */
export abstract class ReconcilingOperator<T extends KubernetesObject> extends DotIOperator {
  protected readonly spec: ControllerSpec;
  protected readonly api: KubeApi;
  private readonly baseLog: Logger;
  private readonly reconcileScope = new AsyncLocalStorage<Logger>();
  protected readonly metrics: Metrics;
  protected readonly recorder: EventRecorder;
  protected readonly primary: Informer<T>;
  protected readonly queue: WorkQueue;
  /** "Now" for every decision a reconcile makes (never Date.now() directly). */
  protected readonly clock: Clock;
  private readonly informerFactory: InformerFactory;
  private readonly informersOf = new Map<ResourceType, Informer>();
  /** Per key: the resourceVersion this process's last guarded write replaced, while the cache may not show the write yet. */
  private readonly ownWrites = new Map<string, { replaced: string; at: number }>();
  private started = false;

  constructor(ctx: OperatorContext) {
    super(ctx.logger);
    this.spec = controllerSpecOf(new.target);
    this.api = ctx.api;
    this.clock = ctx.clock ?? systemClock;
    this.metrics = ctx.metrics;
    this.recorder = ctx.events;
    this.informerFactory = ctx.informers;
    this.baseLog = ctx.logger.child({ operator: this.spec.name });
    this.primary = ctx.informers.get<T>(this.spec.resource, this.spec.labelSelector);
    const name = this.spec.name;
    const clock = this.clock;
    this.queue = new WorkQueue((key) => this.handle(key), {
      concurrency: ctx.concurrency,
      now: clock.elapsed?.bind(clock) ?? (() => clock.now()),
      onDequeue: (_key, waitedMs) => this.metrics.queueLatency.observe({ operator: name }, waitedMs / 1000),
      onProcessed: (_key, outcome, ms) => {
        this.metrics.reconcileTotal.inc({ operator: name, outcome });
        if (outcome === 'error') this.metrics.reconcileErrors.inc({ operator: name });
        this.metrics.reconcileDuration.observe({ operator: name }, ms / 1000);
        this.metrics.queueDepth.set({ operator: name }, this.queue.depth);
      },
    });
    this.primary.addHandler((_t, o) => this.enqueue(o));
    for (const w of watchSpecsOf(new.target)) {
      const inf = ctx.informers.get(w.type, w.labelSelector);
      this.informersOf.set(w.type, inf);
      inf.addHandler((_t, o, old) => {
        if (old && w.changed && !w.changed(o, old)) return;
        for (const obj of old ? [o, old] : [o]) {
          if (w.owned) {
            const ref = controllerOf(obj);
            if (ref && ref.kind === this.spec.resource.kind && ref.apiVersion?.startsWith(this.spec.resource.group + '/')) {
              this.queue.add(keyString({ namespace: obj.metadata?.namespace, name: ref.name }));
            }
          } else if (w.map) {
            for (const k of w.map(obj, this)) this.queue.add(keyString(k));
          }
        }
      });
    }
  }

  /**
   * The shared cache of `type` as operator class `cls` declares it (@controller, @owns, @watches).
   * A subclass adds its indexes to it before `super()`: the base constructor attaches the handlers,
   * and a handler may map the objects already cached through an index at once.
   */
  static declaredCache<O extends KubernetesObject>(ctx: Pick<OperatorContext, 'informers'>, cls: object, type: ResourceType): Informer<O> {
    const spec = controllerSpecOf(cls);
    if (type === spec.resource) return ctx.informers.get<O>(type, spec.labelSelector);
    const w = watchSpecsOf(cls).find((x) => x.type === type);
    if (!w) throw new Error(`${spec.name} does not watch ${type.kind}; declare it with @owns or @watches`);
    return ctx.informers.get<O>(w.type, w.labelSelector);
  }

  /**
   * The logger: inside a reconcile (and whatever it starts) it carries `namespace`, `name` and a
   * `reconcileID` that tells one pass from the next; elsewhere just `operator`.
   */
  protected get log(): Logger {
    return this.reconcileScope.getStore() ?? this.baseLog;
  }

  /** Reconciles one object; `obj` is the cached object or undefined when it no longer exists. */
  protected abstract reconcile(key: ObjectKey, obj: T | undefined): Promise<ReconcileResult>;

  /** dot-i's hook, called by its start(): we register nothing with the parent. */
  protected init(): Promise<void> {
    this.informerFactory.startAll();
    return Promise.resolve();
  }

  /** Starts the informers (shared) and the workers; resolves once the caches are synced. */
  override async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.init();
    await this.informerFactory.waitForSync();
    this.queue.start();
    this.log.info('operator started');
  }

  /** Stops taking work and waits for in-flight reconciles; never exits the process. */
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- dot-i declares stop(): void but never calls it; our callers await the drain
  override async stop(timeoutMs = 25_000): Promise<void> {
    await this.queue.stop(timeoutMs);
    this.log.info('operator stopped');
  }

  enqueue(o: KubernetesObject | ObjectKey): void {
    const k = 'metadata' in o ? { namespace: o.metadata?.namespace, name: o.metadata!.name! } : (o as ObjectKey);
    this.queue.add(keyString(k));
  }

  /** The shared cache of another kind this operator declared with @owns/@watches. */
  protected cacheOf<O extends KubernetesObject>(type: ResourceType): Informer<O> {
    const inf = this.informersOf.get(type);
    if (!inf) throw new Error(`${this.spec.name} does not watch ${type.kind}; declare it with @owns or @watches`);
    return inf as unknown as Informer<O>;
  }

  private async handle(key: string): Promise<WorkResult | void> {
    const k = parseKey(key);
    const obj = this.primary.get(k.name, k.namespace);
    const own = this.ownWrites.get(key);
    if (own) {
      // the cache still shows the version our own write replaced: a pass now would work from it
      // and its guarded write would fail with a conflict; the write's watch event brings the key back
      if (obj && obj.metadata?.resourceVersion === own.replaced && performance.now() - own.at < OWN_WRITE_LAG_MS) {
        return { requeueAfterMs: OWN_WRITE_RECHECK_MS };
      }
      this.ownWrites.delete(key);
    }
    const log = this.baseLog.child({ namespace: k.namespace, name: k.name, reconcileID: randomUUID().slice(0, 8) });
    try {
      return await this.reconcileScope.run(log, () => this.reconcile(k, obj));
    } catch (e) {
      if (isConflict(e)) {
        log.debug('conflict, will retry');
      } else {
        log.error('reconcile failed', { error: (e as Error).message });
      }
      throw e;
    }
  }

  // ---- helpers every operator needs -------------------------------------------------------

  /**
   * Writes `status` on the status subresource as a merge patch carrying the object's
   * resourceVersion (an optimistic lock). A conflict means the status was computed from an object
   * that has changed since: it is thrown, so the work queue runs the reconcile again (after a
   * short backoff) on the fresh object instead of writing a stale view over a newer one. Returns
   * the new object, or undefined when the object is gone. No string in it ever carries a URI's
   * userinfo (statuses quote runtime messages, which may quote an engine's errors, which quote URIs).
   */
  protected async patchStatus(obj: T, status: Record<string, unknown>): Promise<T | undefined> {
    status = maskUriUserinfoDeep(status);
    try {
      const written = await this.api.patch<T>(
        this.spec.resource,
        obj.metadata!.name!,
        obj.metadata!.namespace,
        { metadata: { resourceVersion: obj.metadata!.resourceVersion }, status },
        'merge',
        { subresource: 'status' },
      );
      this.wrote(obj);
      return written;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Adds `finalizer` unless present, guarded by resourceVersion. Returns the updated object. */
  protected async addFinalizer(obj: T, finalizer: string): Promise<T> {
    const list = obj.metadata?.finalizers ?? [];
    if (list.includes(finalizer)) return obj;
    const written = await this.api.patch<T>(this.spec.resource, obj.metadata!.name!, obj.metadata!.namespace, {
      metadata: { resourceVersion: obj.metadata!.resourceVersion, finalizers: [...list, finalizer] },
    });
    this.wrote(obj);
    return written;
  }

  /** Removes `finalizer` if present, guarded by resourceVersion. A vanished object is fine. */
  protected async removeFinalizer(obj: T, finalizer: string): Promise<void> {
    const list = obj.metadata?.finalizers ?? [];
    if (!list.includes(finalizer)) return;
    try {
      await this.api.patch<T>(this.spec.resource, obj.metadata!.name!, obj.metadata!.namespace, {
        metadata: { resourceVersion: obj.metadata!.resourceVersion, finalizers: list.filter((f) => f !== finalizer) },
      });
      this.wrote(obj);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Remembers that a write guarded by `obj`'s resourceVersion replaced that version (see `handle`). */
  private wrote(obj: T): void {
    const rv = obj.metadata?.resourceVersion;
    if (!rv) return;
    this.ownWrites.set(keyString({ namespace: obj.metadata?.namespace, name: obj.metadata!.name! }), {
      replaced: rv,
      at: performance.now(),
    });
  }

  /** Records an Event about `obj` (deduplicated; never throws; no URI userinfo in the message). */
  protected event(obj: KubernetesObject, type: EventType, reason: string, message: string): Promise<void> {
    return this.recorder.record(obj, type, reason, maskUriUserinfo(message));
  }
}
