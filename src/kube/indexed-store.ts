/**
 * The objects of an informer by key, with secondary indexes (as client-go's indexers): by
 * namespace always, and any named index an operator adds (e.g. pods by the SampleSet label, jobs by
 * the SampleSet they name). A lookup through an index costs what it returns, not the size of the
 * cache, so no reconcile or event mapping has to scan every object of a kind.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { shared } from './shared-strings.js';

export type IndexKeys<T> = (o: T) => readonly string[];

interface Index<T> {
  keysOf: IndexKeys<T>;
  /** index key → object key → object */
  entries: Map<string, Map<string, T>>;
  /** object key → the index keys it was filed under (so a changed object is unfiled exactly) */
  filed: Map<string, readonly string[]>;
}

const NAMESPACE_INDEX = '\u0000namespace';

export class IndexedStore<T extends KubernetesObject> {
  private readonly items = new Map<string, T>();
  private readonly indexes = new Map<string, Index<T>>();

  constructor() {
    this.addIndex(NAMESPACE_INDEX, (o) => (o.metadata?.namespace ? [o.metadata.namespace] : []));
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  entries(): IterableIterator<[string, T]> {
    return this.items.entries();
  }

  set(key: string, o: T): void {
    shared(key); // each event brings a new copy of the key; the maps below keep one
    if (this.items.has(key)) this.unfile(key);
    this.items.set(key, o);
    for (const index of this.indexes.values()) this.file(index, key, o);
  }

  delete(key: string): boolean {
    if (!this.items.has(key)) return false;
    this.unfile(key);
    return this.items.delete(key);
  }

  /** Adds (or keeps, when the name is taken) an index; existing objects are filed at once. */
  addIndex(name: string, keysOf: IndexKeys<T>): void {
    if (this.indexes.has(name)) return;
    const index: Index<T> = { keysOf, entries: new Map(), filed: new Map() };
    this.indexes.set(name, index);
    for (const [key, o] of this.items) this.file(index, key, o);
  }

  hasIndex(name: string): boolean {
    return this.indexes.has(name);
  }

  /** The objects filed under `key` in index `name` (empty for an unknown index or key). */
  byIndex(name: string, key: string): T[] {
    const m = this.indexes.get(name)?.entries.get(key);
    return m ? [...m.values()] : [];
  }

  inNamespace(namespace: string): T[] {
    return this.byIndex(NAMESPACE_INDEX, namespace);
  }

  private file(index: Index<T>, key: string, o: T): void {
    const keys = [...new Set(index.keysOf(o))];
    if (!keys.length) return;
    index.filed.set(key, keys);
    for (const k of keys) {
      shared(k);
      let m = index.entries.get(k);
      if (!m) index.entries.set(k, (m = new Map<string, T>()));
      m.set(key, o);
    }
  }

  private unfile(key: string): void {
    for (const index of this.indexes.values()) {
      const keys = index.filed.get(key);
      if (!keys) continue;
      index.filed.delete(key);
      for (const k of keys) {
        const m = index.entries.get(k);
        m?.delete(key);
        if (m?.size === 0) index.entries.delete(k);
      }
    }
  }
}
