/**
 * An in-memory cluster for the operators' unit tests: what an OperatorContext reaches and nothing
 * more. FakeApi stands for the API server (the KubeApi subset the operators call), FakeInformer for
 * one resource's informer cache, and FakeCluster ties them together with an event recorder and
 * hands out the context. Pure in-memory logic: no server, no timers, no network.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { apiVersionOf, type ResourceType } from '../../../src/api/constants.js';
import { ApiError } from '../../../src/kube/api-error.js';
import type { Clock } from '../../../src/kube/clock.js';
import { IndexedStore, type IndexKeys } from '../../../src/kube/indexed-store.js';
import type { InformerEventType, InformerHandler } from '../../../src/kube/informer.js';
import type { OperatorContext } from '../../../src/kube/reconciling-operator.js';
import { createLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';

type Obj = KubernetesObject & { spec?: unknown; status?: unknown; [k: string]: unknown };

/** A copy as the wire makes it: JSON, so undefined fields vanish and Dates become strings. */
function clone<T>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

/** A JSON merge patch (RFC 7386): objects merge key by key, null deletes a key, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else if (v === undefined) continue;
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * One resource's informer cache: the store an operator reads and the handlers that hear of each
 * change. The API fills it as a watch would; a test may also `put`/`remove` here directly to show
 * the operator a cache that differs from the API server (a stale or lagging watch).
 */
export class FakeInformer<T extends KubernetesObject = KubernetesObject> {
  /** The real informer's store, indexes included. */
  readonly store = new IndexedStore<T>();
  private readonly handlers: InformerHandler<T>[] = [];
  constructor(readonly type: ResourceType) {}
  private key(name: string, ns?: string): string {
    return this.type.namespaced && ns ? `${ns}/${name}` : name;
  }
  addHandler(h: InformerHandler<T>): void {
    this.handlers.push(h);
    for (const o of this.store.values()) h('add', o);
  }
  get(name: string, ns?: string): T | undefined {
    return this.store.get(this.key(name, ns));
  }
  list(ns?: string, filter?: (o: T) => boolean): T[] {
    return [...this.store.values()].filter((o) => (!ns || o.metadata?.namespace === ns) && (!filter || filter(o)));
  }
  addIndex(name: string, keysOf: IndexKeys<T>): void {
    this.store.addIndex(name, keysOf);
  }
  byIndex(name: string, key: string): T[] {
    if (!this.store.hasIndex(name)) throw new Error(`${this.type.kind} cache has no index ${name}`);
    return this.store.byIndex(name, key);
  }
  /** An add or update event: `o` replaces what the cache held under its name. */
  put(o: T): void {
    const k = this.key(o.metadata!.name!, o.metadata!.namespace);
    const old = this.store.get(k);
    this.store.set(k, o);
    this.emit(old ? 'update' : 'add', o, old);
  }
  /** A delete event, if the cache holds the object; `last` is its final state (the cached one by default). */
  remove(name: string, ns?: string, last?: T): void {
    const k = this.key(name, ns);
    const old = this.store.get(k);
    if (!old) return;
    this.store.delete(k);
    this.emit('delete', last ?? old);
  }
  private emit(t: InformerEventType, o: T, old?: T): void {
    for (const h of this.handlers) h(t, o, old);
  }
  get hasSynced(): boolean {
    return true;
  }
  start(): void {}
  async stop(): Promise<void> {}
  async waitForSync(): Promise<void> {}
}

/** One call an operator made to the API, as FakeApi recorded it. */
export interface Call {
  verb: 'get' | 'list' | 'create' | 'patch' | 'delete';
  plural: string;
  name?: string;
  namespace?: string;
  body?: unknown;
  subresource?: string;
}

/** An Event the operator recorded about an object. */
export interface RecordedEvent {
  type: string;
  reason: string;
  message: string;
  name?: string;
}

/**
 * The API server, as the KubeApi subset the operators call. It holds the objects, records every
 * call, and behaves like the real one where the operators care: merge patches (null deletes),
 * resourceVersion preconditions, the status subresource, generation bumps on spec changes,
 * finalizers and deletionTimestamp, uid preconditions. Its writes reach the informer caches at
 * once (a watch with no lag) unless `reflect` is off.
 */
export class FakeApi {
  readonly calls: Call[] = [];
  /** The objects, by `<plural>/<ns>/<name>` (`<plural>/<name>` when cluster-scoped). */
  readonly objects = new Map<string, KubernetesObject>();
  /** Deliver the API's writes to the informer caches at once; off, the caches miss them (a watch that lags). */
  reflect = true;
  /** Delete an object as soon as it is being deleted and has no finalizer left, as the API server does. */
  reapDeleted = true;
  /** Make the next `count` calls matching `match` fail with `error()` (they are still recorded). */
  failNext: { match: (c: Call) => boolean; count: number; error: () => Error } | undefined;
  private rv = 1;
  private uid = 1;

  constructor(private readonly cacheOf: (t: ResourceType) => FakeInformer) {}

  static key(t: ResourceType, name: string, ns?: string): string {
    return t.namespaced ? `${t.plural}/${ns}/${name}` : `${t.plural}/${name}`;
  }

  /** The calls that change something (all but get and list). */
  writes(): Call[] {
    return this.calls.filter((c) => c.verb !== 'get' && c.verb !== 'list');
  }

  /**
   * Stores `o` as the API server would: a new resourceVersion; uid, generation, creation time,
   * apiVersion and kind kept or filled in. With `toCache` the informer sees it too.
   */
  save<T extends KubernetesObject>(t: ResourceType, o: T, toCache: boolean): T {
    const k = FakeApi.key(t, o.metadata!.name!, o.metadata!.namespace);
    const old = this.objects.get(k);
    const obj = clone(o);
    obj.metadata!.resourceVersion = String(this.rv++);
    obj.metadata!.uid ??= old?.metadata?.uid ?? `uid-${this.uid++}`;
    obj.metadata!.generation ??= old?.metadata?.generation ?? 1;
    obj.metadata!.creationTimestamp ??= (old?.metadata?.creationTimestamp ?? new Date().toISOString()) as unknown as Date;
    obj.apiVersion ??= apiVersionOf(t);
    obj.kind ??= t.kind;
    this.objects.set(k, obj);
    if (toCache) this.cacheOf(t).put(obj);
    return obj;
  }

  /** Removes an object; with `toCache` the informer sees `last` deleted. */
  drop(t: ResourceType, last: KubernetesObject, toCache: boolean): void {
    const { name, namespace } = last.metadata!;
    this.objects.delete(FakeApi.key(t, name!, namespace));
    if (toCache) this.cacheOf(t).remove(name!, namespace, last);
  }

  private record(c: Call): void {
    this.calls.push(c);
    const f = this.failNext;
    if (f && f.count > 0 && f.match(c)) {
      f.count--;
      throw f.error();
    }
  }

  async get<T extends KubernetesObject>(t: ResourceType, name: string, namespace?: string): Promise<T | undefined> {
    this.record({ verb: 'get', plural: t.plural, name, namespace });
    const o = this.objects.get(FakeApi.key(t, name, namespace));
    return o ? (clone(o) as T) : undefined;
  }

  async list<T extends KubernetesObject>(t: ResourceType, namespace?: string): Promise<{ items: T[]; resourceVersion: string }> {
    this.record({ verb: 'list', plural: t.plural, namespace });
    const items = [...this.objects]
      .filter(([k, o]) => k.startsWith(`${t.plural}/`) && (!namespace || o.metadata?.namespace === namespace))
      .map(([, o]) => clone(o) as T);
    return { items, resourceVersion: String(this.rv) };
  }

  async create<T extends KubernetesObject>(t: ResourceType, obj: T, namespace?: string): Promise<T> {
    const ns = namespace ?? obj.metadata?.namespace;
    this.record({ verb: 'create', plural: t.plural, name: obj.metadata?.name, namespace: ns, body: obj });
    if (this.objects.has(FakeApi.key(t, obj.metadata!.name!, ns)))
      throw new ApiError(409, 'AlreadyExists', `${t.plural} "${obj.metadata!.name}" already exists`);
    const o = clone(obj);
    o.metadata!.namespace = ns;
    o.metadata!.creationTimestamp = new Date().toISOString() as unknown as Date;
    delete o.metadata!.uid;
    delete o.metadata!.generation;
    return clone(this.save(t, o, this.reflect));
  }

  async patch<T extends KubernetesObject>(
    t: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    _type = 'merge',
    opts: { subresource?: string } = {},
  ): Promise<T> {
    this.record({ verb: 'patch', plural: t.plural, name, namespace, body: patch, subresource: opts.subresource });
    const cur = this.objects.get(FakeApi.key(t, name, namespace)) as Obj | undefined;
    if (!cur) throw new ApiError(404, 'NotFound', `${t.plural} "${name}" not found`);
    const p = clone(patch) as Obj;
    if (p.metadata?.resourceVersion && p.metadata.resourceVersion !== cur.metadata!.resourceVersion) {
      throw new ApiError(409, 'Conflict', 'the object has been modified');
    }
    let next = clone(cur);
    if (opts.subresource === 'status') {
      next.status = mergePatch(cur.status, p.status ?? {});
    } else {
      delete p.status;
      if (p.metadata) delete p.metadata.resourceVersion;
      next = mergePatch(next, p) as Obj;
      if (JSON.stringify(next.spec) !== JSON.stringify(cur.spec)) next.metadata!.generation = (cur.metadata!.generation ?? 1) + 1;
    }
    if (this.reapDeleted && next.metadata!.deletionTimestamp && (next.metadata!.finalizers ?? []).length === 0) {
      this.drop(t, next, this.reflect);
      return clone(next) as unknown as T;
    }
    return clone(this.save(t, next, this.reflect)) as unknown as T;
  }

  async delete(t: ResourceType, name: string, namespace?: string, opts: { uid?: string } = {}): Promise<boolean> {
    this.record({ verb: 'delete', plural: t.plural, name, namespace });
    const cur = this.objects.get(FakeApi.key(t, name, namespace));
    if (!cur) return false;
    if (opts.uid && cur.metadata!.uid !== opts.uid) throw new ApiError(409, 'Conflict', 'precondition failed: uid');
    if ((cur.metadata!.finalizers ?? []).length > 0) {
      if (!cur.metadata!.deletionTimestamp)
        this.save(
          t,
          { ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date().toISOString() as unknown as Date } },
          this.reflect,
        );
      return true;
    }
    this.drop(t, cur, this.reflect);
    return true;
  }
}

/**
 * The cluster an operator under test sees: the API server, one informer cache per resource
 * (made on first use), and the Events recorded. `put`/`remove`/`editSpec` are changes by someone
 * else (a user, another controller): no API call is recorded and the caches always see them.
 */
export class FakeCluster {
  readonly informers = new Map<string, FakeInformer>();
  readonly api = new FakeApi((t) => this.informer(t));
  readonly events: RecordedEvent[] = [];

  informer<T extends KubernetesObject>(type: ResourceType): FakeInformer<T> {
    let i = this.informers.get(type.plural);
    if (!i) this.informers.set(type.plural, (i = new FakeInformer(type)));
    return i as unknown as FakeInformer<T>;
  }

  /** Creates or replaces an object (a new resourceVersion, uid and generation kept). */
  put<T extends KubernetesObject>(type: ResourceType, o: T): T {
    return this.api.save(type, o, true);
  }

  remove(type: ResourceType, name: string, ns?: string): void {
    const o = this.get(type, name, ns);
    if (o) this.api.drop(type, o, true);
  }

  /** The API server's copy of an object (not a clone). */
  get<T extends KubernetesObject>(type: ResourceType, name: string, ns?: string): T | undefined {
    return this.api.objects.get(FakeApi.key(type, name, ns)) as T | undefined;
  }

  /** A user's spec edit (bumps generation). */
  editSpec(t: ResourceType, name: string, ns: string, spec: unknown): Promise<void> {
    const cur = this.get<Obj>(t, name, ns)!;
    const next = clone(cur);
    next.spec = spec;
    next.metadata!.generation = (cur.metadata!.generation ?? 1) + 1;
    this.put(t, next);
    return Promise.resolve();
  }

  /** The OperatorContext to build an operator with: this API, these caches, this event list (and `clock`, else the system's). */
  context(concurrency = 4, clock?: Clock): OperatorContext {
    const informers = {
      get: (t: ResourceType) => this.informer(t),
      startAll: () => undefined,
      waitForSync: () => Promise.resolve(),
      stopAll: () => Promise.resolve(),
    };
    const events = {
      record: (obj: KubernetesObject, type: string, reason: string, message: string) => {
        this.events.push({ type, reason, message, name: obj.metadata?.name });
        return Promise.resolve();
      },
    };
    return {
      api: this.api as unknown as OperatorContext['api'],
      informers: informers as unknown as OperatorContext['informers'],
      events: events as unknown as OperatorContext['events'],
      logger: createLogger({ silent: true }),
      metrics: new Metrics(),
      concurrency,
      clock,
    };
  }
}
