import type { KubernetesObject } from '@kubernetes/client-node';
import type { ResourceType } from '../api/constants.js';
import { ApiError, isGone } from './api-error.js';
import { IndexedStore, type IndexKeys } from './indexed-store.js';
import { KubeApi, type WatchEvent } from './kube-api.js';

export type InformerEventType = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (type: InformerEventType, obj: T, old?: T) => void;

export interface InformerOptions<T extends KubernetesObject = KubernetesObject> {
  namespace?: string;
  labelSelector?: string;
  /** e.g. `metadata.name=x`: one object, which RBAC can then grant by resourceNames. */
  fieldSelector?: string;
  /** Backoff for reconnecting after an error: starts here, doubles, capped at maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout; the informer then simply re-watches from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  onRestart?: (reason: string) => void;
  onError?: (err: unknown) => void;
  /**
   * Applied to every object as it arrives (list items and watch events), before it is cached and
   * handed to handlers: what the cache keeps (cached-objects.ts). May change the object in place.
   */
  transform?: (o: T) => T;
}

export function objectKey(o: KubernetesObject): string {
  return o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : `${o.metadata?.name}`;
}

/**
 * List-then-watch cache of one resource type. Watches from the list's resourceVersion with
 * bookmarks; on 410 Gone relists and emits `delete` for objects that vanished meanwhile; on any
 * other error or a closed stream reconnects with capped exponential backoff. Never exits the process.
 *
 * An informer can also `follow` another informer of the same kind instead of watching: it then
 * keeps (references to) the objects of that one that `matches` accepts, with the same events, so a
 * kind watched whole and by a label selector costs one watch and one copy of each object.
 */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  private readonly store = new IndexedStore<T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private resourceVersion = '';
  private synced = false;
  private running = false;
  private abort?: AbortController;
  private loop?: Promise<void>;
  private readonly syncWaiters: Array<() => void> = [];
  private wakeSleep?: () => void;
  private following = false;

  constructor(
    private readonly api: KubeApi,
    readonly type: ResourceType,
    private readonly opts: InformerOptions<T> = {},
  ) {}

  addHandler(h: InformerHandler<T>): void {
    this.handlers.push(h);
    // late subscribers see the current state as adds
    for (const o of this.store.values()) h('add', o);
  }

  /** Started, or following another informer. */
  get hasStarted(): boolean {
    return this.running || this.following;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.store.get(this.type.namespaced && namespace ? `${namespace}/${name}` : name);
  }

  /** The cached objects (of one namespace when given; through its index, not a scan), filtered. */
  list(namespace?: string, filter?: (o: T) => boolean): T[] {
    const all = namespace && this.type.namespaced ? this.store.inNamespace(namespace) : [...this.store.values()];
    return filter ? all.filter(filter) : all;
  }

  /**
   * Adds a named index (`keysOf` gives the keys an object is filed under); adding a name that
   * exists keeps the first. Operators sharing this informer may each add the ones they read.
   */
  addIndex(name: string, keysOf: IndexKeys<T>): void {
    this.store.addIndex(name, keysOf);
  }

  /** The cached objects filed under `key` in index `name`. */
  byIndex(name: string, key: string): T[] {
    if (!this.store.hasIndex(name)) throw new Error(`${this.type.kind} informer has no index ${name}`);
    return this.store.byIndex(name, key);
  }

  /**
   * Takes this informer's objects and events from `source` (a superset: the same kind, namespace or
   * all namespaces, no selector) filtered by `matches`, instead of its own list and watch.
   */
  follow(source: Informer<T>, matches: (o: T) => boolean): void {
    if (this.running || this.following) throw new Error('follow() must be called once, before start()');
    this.following = true;
    source.addHandler((type, o) => {
      const k = objectKey(o);
      const had = this.store.get(k);
      if (type !== 'delete' && matches(o) && (!this.opts.namespace || o.metadata?.namespace === this.opts.namespace)) {
        this.store.set(k, o);
        this.emit(had ? 'update' : 'add', o, had);
      } else if (had) {
        this.store.delete(k);
        // deleted: its last state; no longer matching: the last state that matched (as a watch with the selector would say)
        this.emit('delete', type === 'delete' ? o : had);
      }
    });
    void source.waitForSync().then(() => this.markSynced());
  }

  start(): void {
    if (this.running || this.following) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    this.wakeSleep?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let backoff = this.opts.minBackoffMs ?? 250;
    const maxBackoff = this.opts.maxBackoffMs ?? 30_000;
    let needList = true;
    while (this.running) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const started = Date.now();
        await this.watchOnce();
        // the server closed the stream (timeout): re-watch from the last resourceVersion at once
        if (Date.now() - started > 1000) {
          backoff = this.opts.minBackoffMs ?? 250;
        } else {
          await this.sleep(backoff);
          backoff = Math.min(maxBackoff, backoff * 2);
        }
        if (this.running) this.opts.onRestart?.('closed');
      } catch (e) {
        if (!this.running) break;
        if (isGone(e)) {
          needList = true;
          this.opts.onRestart?.('gone');
          continue;
        }
        this.opts.onError?.(e);
        this.opts.onRestart?.(e instanceof ApiError ? `http_${e.code}` : 'error');
        await this.sleep(backoff);
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wakeSleep = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.api.list<T>(this.type, this.opts.namespace, {
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
    });
    const seen = new Set<string>();
    for (const item of items) {
      const o = this.opts.transform ? this.opts.transform(item) : item;
      const k = objectKey(o);
      seen.add(k);
      const old = this.store.get(k);
      this.store.set(k, o);
      if (!old) this.emit('add', o);
      else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emit('update', o, old);
    }
    for (const [k, o] of [...this.store.entries()]) {
      if (!seen.has(k)) {
        this.store.delete(k);
        this.emit('delete', o);
      }
    }
    this.resourceVersion = resourceVersion;
    this.markSynced();
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private async watchOnce(): Promise<void> {
    this.abort = new AbortController();
    const timeout = this.opts.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
    await this.api.watch<T>(
      KubeApi.path(this.type, this.opts.namespace),
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: timeout,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
      },
      (ev) => this.apply(ev),
      this.abort.signal,
    );
  }

  private apply(ev: WatchEvent<T>): void {
    const rv = ev.object.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const o = this.opts.transform ? this.opts.transform(ev.object) : ev.object;
    const k = objectKey(o);
    const old = this.store.get(k);
    if (ev.type === 'DELETED') {
      this.store.delete(k);
      this.emit('delete', o);
    } else {
      this.store.set(k, o);
      this.emit(old ? 'update' : 'add', o, old);
    }
    if (rv) this.resourceVersion = rv;
  }

  private emit(type: InformerEventType, o: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(type, o, old);
      } catch (e) {
        this.opts.onError?.(e);
      }
    }
  }
}
