import type { V1Lease } from '@kubernetes/client-node';
import { LEASE } from '../api/constants.js';
import { isAlreadyExists, isConflict } from './api-error.js';
import type { KubeApi } from './kube-api.js';
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
 */
export class LeaderElector {
  private observedRv = '';
  private observedAt = 0;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private wake?: () => void;

  constructor(private readonly api: KubeApi, private readonly opts: LeaderElectionOptions, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this process is the leader (or never, if stopped first). */
  async acquire(): Promise<boolean> {
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.lastRenew = this.now();
        this.log.info('became leader', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity });
        return true;
      }
      await this.sleep(this.opts.retryPeriodSeconds * 1000);
    }
    return false;
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
      lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microTime(new Date(this.now())) as unknown as Date };
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
        await this.api.create<V1Lease>(LEASE, {
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: nowIso as unknown as Date, renewTime: nowIso as unknown as Date, leaseTransitions: 0 },
        }, namespace);
        return true;
      } catch (e) {
        if (isAlreadyExists(e)) return false;
        throw e;
      }
    }
    const rv = lease.metadata?.resourceVersion ?? '';
    if (rv !== this.observedRv) {
      this.observedRv = rv;
      this.observedAt = this.now();
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && this.observedAt + duration > this.now()) return false;
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
      this.observedRv = updated.metadata?.resourceVersion ?? '';
      this.observedAt = this.now();
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}
