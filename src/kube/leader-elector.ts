import type { V1Lease } from '@kubernetes/client-node';
import { LEASE } from '../api/constants.js';
import { isAlreadyExists, isConflict } from './api-error.js';
import { KubeApi } from './kube-api.js';
import type { Logger } from '../observability/logger.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

function microTime(d: Date): string {
  return d.toISOString().replace('Z', '000Z');
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, like client-go's: a candidate takes the
 * lease when it is free or its holder has not renewed for leaseDuration (timed by this process's
 * own clock from when it last saw the lease change, so clock skew between nodes does not matter);
 * the leader renews every retryPeriod with a resourceVersion precondition and steps down when it
 * has not managed to renew for renewDeadline. `release()` hands the lease back on shutdown.
 *
 * Unlike client-go, a candidate also watches the Lease: it sees each renewal when it happens (not
 * up to a retryPeriod later, at its next poll) and tries again the moment the lease expires or is
 * released. So after the leader dies the standby takes over within leaseDuration of the kill, not
 * leaseDuration + retryPeriod. Polling every retryPeriod stays as the fallback if the watch fails.
 */
export class LeaderElector {
  private observedRv = '';
  private observedAt = 0;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private wake?: () => void;
  /** Holder and duration (ms) of the lease as last observed. */
  private observedHolder = '';
  private observedDurationMs = 0;
  private current?: V1Lease;

  constructor(
    private readonly api: KubeApi,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get identity(): string {
    return this.opts.identity;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The Lease as this process last wrote or read it. */
  get lease(): V1Lease | undefined {
    return this.current;
  }

  /** Resolves once this process is the leader (or never, if stopped first). */
  async acquire(): Promise<boolean> {
    const watching = new AbortController();
    void this.observe(watching.signal);
    try {
      while (!this.stopped) {
        let won = false;
        try {
          won = await this.tryAcquireOrRenew();
        } catch (e) {
          this.log.warn('could not read or take the lease', { error: (e as Error).message });
          await this.sleep(this.opts.retryPeriodSeconds * 1000);
          continue;
        }
        if (won) {
          this.leading = true;
          this.lastRenew = this.now();
          this.log.info('became leader', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity });
          return true;
        }
        await this.sleep(this.untilNextAttempt());
      }
      return false;
    } finally {
      watching.abort();
    }
  }

  /**
   * How long a candidate waits before trying again: until the observed lease expires, but never
   * longer than retryPeriod (the poll that keeps working when the watch does not).
   */
  untilNextAttempt(): number {
    const retry = this.opts.retryPeriodSeconds * 1000;
    if (this.observedHolder === '' || this.observedHolder === this.opts.identity) return Math.min(retry, 50);
    const left = this.observedAt + this.observedDurationMs - this.now();
    return Math.max(0, Math.min(retry, left + 1));
  }

  /** Follows the Lease while a candidate: notes every change when it happens, wakes on release. */
  private async observe(signal: AbortSignal): Promise<void> {
    const { namespace, name } = this.opts;
    while (!signal.aborted && !this.stopped) {
      try {
        await this.api.watch<V1Lease>(
          KubeApi.path(LEASE, namespace),
          { fieldSelector: `metadata.name=${name}`, timeoutSeconds: 300, allowWatchBookmarks: false },
          (ev) => {
            if (ev.type === 'DELETED') {
              this.observedHolder = '';
              this.wake?.();
            } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
              this.note(ev.object);
              // released: try now rather than at the next poll
              if (this.observedHolder === '') this.wake?.();
            }
          },
          signal,
        );
      } catch (e) {
        if (signal.aborted) return;
        this.log.debug('lease watch ended; polling until it is back', { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, this.opts.retryPeriodSeconds * 1000).unref());
      }
    }
  }

  /** Records what a read or watch said about the lease; the clock starts when its version changes. */
  private note(lease: V1Lease): void {
    const rv = lease.metadata?.resourceVersion ?? '';
    if (rv !== this.observedRv) {
      this.observedRv = rv;
      this.observedAt = this.now();
    }
    this.observedHolder = lease.spec?.holderIdentity ?? '';
    this.observedDurationMs = (lease.spec?.leaseDurationSeconds ?? this.opts.leaseDurationSeconds) * 1000;
    this.current = lease;
  }

  /** Renews until leadership is lost (resolves) or stop() is called. */
  async holdUntilLost(): Promise<void> {
    while (!this.stopped && this.leading) {
      await this.sleep(this.opts.retryPeriodSeconds * 1000);
      if (this.stopped) return;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (e) {
        this.log.warn('lease renewal failed', { error: (e as Error).message });
      }
      if (ok) this.lastRenew = this.now();
      else if (this.now() - this.lastRenew > this.opts.renewDeadlineSeconds * 1000) {
        this.leading = false;
        this.log.error('lost leadership: could not renew the lease before the deadline');
        return;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Gives the lease up (if held) so another replica takes over at once. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.get<V1Lease>(LEASE, this.opts.name, this.opts.namespace);
      if (lease?.spec?.holderIdentity !== this.opts.identity) return;
      lease.spec = {
        ...lease.spec,
        holderIdentity: undefined,
        leaseDurationSeconds: 1,
        renewTime: microTime(new Date(this.now())) as unknown as Date,
      };
      await this.api.replace(LEASE, lease);
      this.log.info('released leadership');
    } catch (e) {
      this.log.warn('could not release the lease', { error: (e as Error).message });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.opts;
    const nowIso = microTime(new Date(this.now()));
    const lease = await this.api.get<V1Lease>(LEASE, name, namespace);
    if (!lease) {
      try {
        const created = await this.api.create<V1Lease>(
          LEASE,
          {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds,
              acquireTime: nowIso as unknown as Date,
              renewTime: nowIso as unknown as Date,
              leaseTransitions: 0,
            },
          },
          namespace,
        );
        this.note(created);
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    this.note(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && this.observedAt + this.observedDurationMs > this.now()) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    lease.spec = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: (holder === identity ? spec.acquireTime : nowIso) as unknown as Date,
      renewTime: nowIso as unknown as Date,
      leaseTransitions: transitions,
    };
    try {
      const updated = await this.api.replace<V1Lease>(LEASE, lease);
      this.note(updated);
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}
