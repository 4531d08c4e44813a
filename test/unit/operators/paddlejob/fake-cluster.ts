/**
 * In-memory stand-ins for the operator's context: informers whose stores the test fills, and an API
 * that records every call and (optionally) reflects writes into those stores, like a watch would.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ResourceType } from '../../../../src/api/constants.js';
import { ApiError } from '../../../../src/kube/api-error.js';
import type { InformerEventType, InformerHandler } from '../../../../src/kube/informer.js';
import type { OperatorContext } from '../../../../src/kube/reconciling-operator.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { Metrics } from '../../../../src/observability/metrics.js';

export class FakeInformer<T extends KubernetesObject = KubernetesObject> {
  readonly store = new Map<string, T>();
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
  put(o: T): void {
    const k = this.key(o.metadata!.name!, o.metadata!.namespace);
    const old = this.store.get(k);
    this.store.set(k, o);
    this.emit(old ? 'update' : 'add', o, old);
  }
  remove(name: string, ns?: string): void {
    const k = this.key(name, ns);
    const old = this.store.get(k);
    if (!old) return;
    this.store.delete(k);
    this.emit('delete', old);
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

export class FakeInformers {
  readonly byPlural = new Map<string, FakeInformer>();
  get<T extends KubernetesObject>(type: ResourceType): FakeInformer<T> {
    let i = this.byPlural.get(type.plural);
    if (!i) this.byPlural.set(type.plural, (i = new FakeInformer(type)));
    return i as unknown as FakeInformer<T>;
  }
  of<T extends KubernetesObject = KubernetesObject>(plural: string): FakeInformer<T> {
    const i = this.byPlural.get(plural);
    if (!i) throw new Error(`no informer for ${plural}`);
    return i as unknown as FakeInformer<T>;
  }
  startAll(): void {}
  async waitForSync(): Promise<void> {}
  async stopAll(): Promise<void> {}
}

export interface Call {
  verb: 'get' | 'list' | 'create' | 'replace' | 'patch' | 'delete';
  plural: string;
  name?: string;
  namespace?: string;
  body?: unknown;
  subresource?: string;
}

let uidCounter = 0;

export class FakeApi {
  readonly calls: Call[] = [];
  /** Objects `get` answers from, by `<plural>/<ns>/<name>` (plural/name for cluster-scoped). */
  readonly objects = new Map<string, KubernetesObject>();
  /** Reflect creates/deletes/patches into the informers at once (a watch with no lag). */
  reflect = true;
  /** Make `create` of this plural fail with this error. */
  failCreate?: { plural: string; error: ApiError };

  constructor(private readonly informers: FakeInformers) {}

  private static key(t: ResourceType, name: string, ns?: string): string {
    return t.namespaced ? `${t.plural}/${ns}/${name}` : `${t.plural}/${name}`;
  }

  writes(): Call[] {
    return this.calls.filter((c) => c.verb !== 'get' && c.verb !== 'list');
  }

  async get<T extends KubernetesObject>(t: ResourceType, name: string, namespace?: string): Promise<T | undefined> {
    this.calls.push({ verb: 'get', plural: t.plural, name, namespace });
    return this.objects.get(FakeApi.key(t, name, namespace)) as T | undefined;
  }

  async create<T extends KubernetesObject>(t: ResourceType, obj: T, namespace?: string): Promise<T> {
    const ns = namespace ?? obj.metadata?.namespace;
    this.calls.push({ verb: 'create', plural: t.plural, name: obj.metadata?.name, namespace: ns, body: obj });
    if (this.failCreate?.plural === t.plural) throw this.failCreate.error;
    const k = FakeApi.key(t, obj.metadata!.name!, ns);
    if (this.objects.has(k)) throw new ApiError(409, 'AlreadyExists', `${t.plural} ${obj.metadata!.name} already exists`);
    const created = { ...obj, metadata: { ...obj.metadata, uid: `uid-${++uidCounter}`, resourceVersion: '1' } } as T;
    this.objects.set(k, created);
    if (this.reflect && this.informers.byPlural.has(t.plural)) this.informers.of<T>(t.plural).put(created);
    return created;
  }

  async patch<T extends KubernetesObject>(t: ResourceType, name: string, namespace: string | undefined, patch: unknown, _type = 'merge', opts: { subresource?: string } = {}): Promise<T> {
    this.calls.push({ verb: 'patch', plural: t.plural, name, namespace, body: patch, subresource: opts.subresource });
    const k = FakeApi.key(t, name, namespace);
    const current = (this.objects.get(k) ?? (this.informers.byPlural.has(t.plural) ? this.informers.of(t.plural).get(name, namespace) : undefined)) as T | undefined;
    if (!current) throw new ApiError(404, 'NotFound', `${t.plural} ${name} not found`);
    const next = mergePatch(structuredClone(current), patch) as T;
    next.metadata!.resourceVersion = String(Number(current.metadata?.resourceVersion ?? '1') + 1);
    this.objects.set(k, next);
    if (this.reflect && this.informers.byPlural.has(t.plural)) this.informers.of<T>(t.plural).put(next);
    return next;
  }

  async delete(t: ResourceType, name: string, namespace?: string): Promise<boolean> {
    this.calls.push({ verb: 'delete', plural: t.plural, name, namespace });
    this.objects.delete(FakeApi.key(t, name, namespace));
    if (this.reflect && this.informers.byPlural.has(t.plural)) this.informers.of(t.plural).remove(name, namespace);
    return true;
  }
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export interface RecordedEvent {
  type: string;
  reason: string;
  message: string;
}

export function fakeContext(): { ctx: OperatorContext; informers: FakeInformers; api: FakeApi; events: RecordedEvent[] } {
  const informers = new FakeInformers();
  const api = new FakeApi(informers);
  const events: RecordedEvent[] = [];
  const recorder = {
    record: async (_obj: KubernetesObject, type: string, reason: string, message: string) => {
      events.push({ type, reason, message });
    },
  };
  const ctx = {
    api,
    informers,
    events: recorder,
    logger: createLogger({ silent: true }),
    metrics: new Metrics(),
    concurrency: 1,
  } as unknown as OperatorContext;
  return { ctx, informers, api, events };
}
