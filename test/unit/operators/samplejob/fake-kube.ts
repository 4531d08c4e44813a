/**
 * A small in-memory API server for the SampleJob operator's unit tests: objects per resource,
 * merge patches (null deletes), resourceVersion checks, finalizers and deletionTimestamp, uid
 * preconditions, generation bumps on spec changes — and informers that see every write at once,
 * like a watch. Enough for ReconcilingOperator, not a general fake.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ResourceType } from '../../../../src/api/constants.js';
import { ApiError } from '../../../../src/kube/api-error.js';
import type { InformerEventType, InformerHandler } from '../../../../src/kube/informer.js';
import type { OperatorContext } from '../../../../src/kube/reconciling-operator.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { Metrics } from '../../../../src/observability/metrics.js';

type Obj = KubernetesObject & { spec?: unknown; status?: unknown; [k: string]: unknown };

export class FakeInformer<T extends KubernetesObject = KubernetesObject> {
  readonly store = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  constructor(readonly type: ResourceType) {}
  key(name: string, ns?: string): string {
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
  emit(t: InformerEventType, o: T, old?: T): void {
    if (t === 'delete') this.store.delete(this.key(o.metadata!.name!, o.metadata!.namespace));
    else this.store.set(this.key(o.metadata!.name!, o.metadata!.namespace), o);
    for (const h of this.handlers) h(t, o, old);
  }
  get hasSynced(): boolean {
    return true;
  }
  start(): void {}
  async stop(): Promise<void> {}
  async waitForSync(): Promise<void> {}
}

export interface Call {
  verb: string;
  plural: string;
  name?: string;
  namespace?: string;
  body?: unknown;
  subresource?: string;
}

function clone<T>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else if (v === undefined) continue;
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class FakeKube {
  readonly informers = new Map<string, FakeInformer>();
  readonly calls: Call[] = [];
  readonly events: { type: string; reason: string; message: string; name?: string }[] = [];
  private rv = 1;
  private uid = 1;
  /** Make the next N writes matching this predicate fail (e.g. a status write). */
  failNext: { match: (c: Call) => boolean; count: number; error: () => Error } | undefined;

  informer<T extends KubernetesObject>(type: ResourceType): FakeInformer<T> {
    let i = this.informers.get(type.plural);
    if (!i) this.informers.set(type.plural, (i = new FakeInformer(type)));
    return i as unknown as FakeInformer<T>;
  }

  /** Puts an object as if a controller or user created/changed it (no API call recorded). */
  put<T extends KubernetesObject>(type: ResourceType, o: T): T {
    const inf = this.informer<T>(type);
    const old = inf.get(o.metadata!.name!, o.metadata!.namespace);
    const obj = clone(o);
    obj.metadata!.resourceVersion = String(this.rv++);
    obj.metadata!.uid ??= old?.metadata?.uid ?? `uid-${this.uid++}`;
    obj.metadata!.generation ??= old?.metadata?.generation ?? 1;
    obj.metadata!.creationTimestamp ??= (old?.metadata?.creationTimestamp ?? new Date().toISOString()) as unknown as Date;
    obj.apiVersion ??= type.group ? `${type.group}/${type.version}` : type.version;
    obj.kind ??= type.kind;
    inf.emit(old ? 'update' : 'add', obj, old);
    return obj;
  }

  remove(type: ResourceType, name: string, ns?: string): void {
    const inf = this.informer(type);
    const o = inf.get(name, ns);
    if (o) inf.emit('delete', o);
  }

  get<T extends KubernetesObject>(type: ResourceType, name: string, ns?: string): T | undefined {
    return this.informer<T>(type).get(name, ns);
  }

  private maybeFail(c: Call): void {
    const f = this.failNext;
    if (f && f.count > 0 && f.match(c)) {
      f.count--;
      throw f.error();
    }
  }

  /** The KubeApi subset the operators use. */
  readonly api = {
    get: async <T extends KubernetesObject>(t: ResourceType, name: string, namespace?: string): Promise<T | undefined> => {
      this.calls.push({ verb: 'get', plural: t.plural, name, namespace });
      const o = this.informer<T>(t).get(name, namespace);
      return o ? clone(o) : undefined;
    },
    list: async <T extends KubernetesObject>(t: ResourceType, namespace?: string) => {
      this.calls.push({ verb: 'list', plural: t.plural, namespace });
      return { items: this.informer<T>(t).list(namespace).map(clone), resourceVersion: String(this.rv) };
    },
    create: async <T extends KubernetesObject>(t: ResourceType, obj: T, namespace?: string): Promise<T> => {
      const ns = namespace ?? obj.metadata?.namespace;
      const c: Call = { verb: 'create', plural: t.plural, name: obj.metadata?.name, namespace: ns, body: obj };
      this.calls.push(c);
      this.maybeFail(c);
      if (this.informer(t).get(obj.metadata!.name!, ns)) throw new ApiError(409, 'AlreadyExists', `${t.plural} "${obj.metadata!.name}" already exists`);
      const o = clone(obj) as unknown as Obj;
      o.metadata!.namespace = ns;
      o.metadata!.creationTimestamp = new Date().toISOString() as unknown as Date;
      delete o.metadata!.uid;
      delete o.metadata!.generation;
      return clone(this.put(t, o as KubernetesObject)) as unknown as T;
    },
    patch: async <T extends KubernetesObject>(t: ResourceType, name: string, namespace: string | undefined, patch: unknown, _type = 'merge', opts: { subresource?: string } = {}): Promise<T> => {
      const c: Call = { verb: 'patch', plural: t.plural, name, namespace, body: patch, subresource: opts.subresource };
      this.calls.push(c);
      this.maybeFail(c);
      const inf = this.informer<Obj>(t);
      const cur = inf.get(name, namespace);
      if (!cur) throw new ApiError(404, 'NotFound', `${t.plural} "${name}" not found`);
      const p = clone(patch) as { metadata?: { resourceVersion?: string; finalizers?: string[] }; status?: unknown; spec?: unknown };
      if (p.metadata?.resourceVersion && p.metadata.resourceVersion !== cur.metadata!.resourceVersion) {
        throw new ApiError(409, 'Conflict', 'the object has been modified');
      }
      let next = clone(cur);
      if (opts.subresource === 'status') {
        next.status = mergePatch(cur.status, p.status ?? {});
      } else {
        if (p.metadata) {
          delete p.metadata.resourceVersion;
          next = mergePatch(next, { metadata: p.metadata }) as Obj;
        }
        if (p.spec !== undefined) {
          next.spec = mergePatch(cur.spec, p.spec);
          if (JSON.stringify(next.spec) !== JSON.stringify(cur.spec)) next.metadata!.generation = (cur.metadata!.generation ?? 1) + 1;
        }
      }
      if (next.metadata!.deletionTimestamp && (next.metadata!.finalizers ?? []).length === 0) {
        inf.emit('delete', next);
        return clone(next) as unknown as T;
      }
      return clone(this.put(t, next)) as unknown as T;
    },
    delete: async (t: ResourceType, name: string, namespace?: string, opts: { uid?: string } = {}): Promise<boolean> => {
      const c: Call = { verb: 'delete', plural: t.plural, name, namespace };
      this.calls.push(c);
      this.maybeFail(c);
      const inf = this.informer<Obj>(t);
      const cur = inf.get(name, namespace);
      if (!cur) return false;
      if (opts.uid && cur.metadata!.uid !== opts.uid) throw new ApiError(409, 'Conflict', 'precondition failed: uid');
      if ((cur.metadata!.finalizers ?? []).length > 0) {
        if (!cur.metadata!.deletionTimestamp) this.put(t, { ...clone(cur), metadata: { ...clone(cur.metadata!), deletionTimestamp: new Date().toISOString() as unknown as Date } });
        return true;
      }
      inf.emit('delete', cur);
      return true;
    },
  };

  /** A user's spec edit (bumps generation). */
  async editSpec(t: ResourceType, name: string, ns: string, spec: unknown): Promise<void> {
    const cur = this.informer<Obj>(t).get(name, ns)!;
    const next = clone(cur);
    next.spec = spec;
    next.metadata!.generation = (cur.metadata!.generation ?? 1) + 1;
    this.put(t, next);
  }

  context(concurrency = 4): OperatorContext {
    const informers = {
      get: (t: ResourceType) => this.informer(t),
      startAll: () => undefined,
      waitForSync: async () => undefined,
      stopAll: async () => undefined,
    };
    const events = {
      record: async (obj: KubernetesObject, type: string, reason: string, message: string) => {
        this.events.push({ type, reason, message, name: obj.metadata?.name });
      },
    };
    return {
      api: this.api as unknown as OperatorContext['api'],
      informers: informers as unknown as OperatorContext['informers'],
      events: events as unknown as OperatorContext['events'],
      logger: createLogger({ silent: true }),
      metrics: new Metrics(),
      concurrency,
    };
  }
}
