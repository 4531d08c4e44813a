/**
 * Creations and deletions the operator has made but its caches have not shown yet. Without this a
 * reconcile triggered by the first new pod's event would see the other pods "missing" and create
 * them again (harmless AlreadyExists, but one wasted API call per pod). Entries expire, so a lost
 * watch event can never block a job for long.
 */
export class Expectations {
  private readonly byKey = new Map<string, Map<string, number>>();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  expect(key: string, names: Iterable<string>): void {
    let m = this.byKey.get(key);
    if (!m) this.byKey.set(key, (m = new Map<string, number>()));
    const until = this.now() + this.ttlMs;
    for (const n of names) m.set(n, until);
  }

  /** True while `name` is expected (and not expired). */
  pending(key: string, name: string): boolean {
    const m = this.byKey.get(key);
    const until = m?.get(name);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    m!.delete(name);
    if (!m!.size) this.byKey.delete(key);
    return false;
  }

  /** The cache now shows what was expected. */
  observed(key: string, name: string): void {
    const m = this.byKey.get(key);
    if (!m) return;
    m.delete(name);
    if (!m.size) this.byKey.delete(key);
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
