/**
 * Whether an optional API (the Volcano PodGroup CRD) is installed, asked at most once per TTL. A
 * failed check counts as "not installed" until the next one.
 */
export class ApiAvailability {
  private answer?: { available: boolean; at: number };
  private inflight?: Promise<boolean>;

  constructor(
    private readonly check: () => Promise<boolean>,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async available(): Promise<boolean> {
    if (this.answer && this.now() - this.answer.at < this.ttlMs) return this.answer.available;
    this.inflight ??= this.check()
      .catch(() => false)
      .then((available) => {
        this.answer = { available, at: this.now() };
        this.inflight = undefined;
        return available;
      });
    return this.inflight;
  }

  /** Forget the cached answer (e.g. after a create said the kind does not exist). */
  invalidate(): void {
    this.answer = undefined;
  }
}
