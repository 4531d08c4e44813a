import { expect } from 'chai';
import { LeaderElector, type LeaderElectionOptions } from '../../../src/kube/leader-elector.js';
import { createLogger } from '../../../src/observability/logger.js';
import { LeaseStore } from '../support/lease-store.js';

const opts = (identity: string, o: Partial<LeaderElectionOptions> = {}): LeaderElectionOptions => ({
  namespace: 'paddle-system',
  name: 'paddle-operator',
  identity,
  leaseDurationSeconds: 0.4,
  renewDeadlineSeconds: 0.25,
  retryPeriodSeconds: 0.1,
  ...o,
});
const log = createLogger({ silent: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LeaderElector', () => {
  const started: LeaderElector[] = [];
  const elector = (store: LeaseStore, identity: string, o: Partial<LeaderElectionOptions> = {}) => {
    const e = new LeaderElector(store.api(), opts(identity, o), log);
    started.push(e);
    return e;
  };
  afterEach(() => {
    for (const e of started.splice(0)) e.stop();
  });

  it('creates the Lease when there is none and leads', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'a');
    expect(await a.acquire()).to.equal(true);
    expect(a.isLeader).to.equal(true);
    expect(store.lease?.spec?.holderIdentity).to.equal('a');
    expect(store.lease?.spec?.leaseTransitions).to.equal(0);
    expect(a.lease?.metadata?.uid).to.equal('u1');
  });

  it('does not take a lease its holder keeps renewing', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'a');
    await a.acquire();
    void a.holdUntilLost();
    const b = elector(store, 'b');
    let bWon = false;
    void b.acquire().then((w) => (bWon = w));
    await sleep(1000); // 2.5 lease durations
    expect(bWon).to.equal(false);
    expect(store.lease?.spec?.holderIdentity).to.equal('a');
  });

  it('takes over within the lease duration after the holder stops renewing, counting the transition', async () => {
    const store = new LeaseStore();
    // a long retry period: only the watch and the expiry timer can make the takeover this quick
    const o = { leaseDurationSeconds: 0.5, retryPeriodSeconds: 2, renewDeadlineSeconds: 1 };
    const a = elector(store, 'a', o);
    await a.acquire();
    const b = elector(store, 'b', o);
    const won = b.acquire();
    await sleep(150);
    store.write({ ...store.lease!.spec, renewTime: new Date().toISOString() as unknown as Date }); // a's last renewal
    const diedAt = Date.now();
    expect(await won).to.equal(true);
    const took = Date.now() - diedAt;
    expect(took).to.be.within(450, 900);
    expect(store.lease?.spec?.holderIdentity).to.equal('b');
    expect(store.lease?.spec?.leaseTransitions).to.equal(1);
    expect(store.watchStarts).to.be.greaterThan(0);
  });

  it('tries at once when the holder releases the lease', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'a', { leaseDurationSeconds: 30, retryPeriodSeconds: 5 });
    await a.acquire();
    const b = elector(store, 'b', { leaseDurationSeconds: 30, retryPeriodSeconds: 5 });
    const won = b.acquire();
    await sleep(100);
    const t0 = Date.now();
    await a.release();
    expect(await won).to.equal(true);
    expect(Date.now() - t0).to.be.below(500);
    expect(store.lease?.spec?.holderIdentity).to.equal('b');
  });

  it('waits no longer than the retry period, and no longer than until the observed lease expires', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'a', { leaseDurationSeconds: 10, retryPeriodSeconds: 2 });
    await a.acquire();
    let now = 1_000_000;
    const b = new LeaderElector(store.api(), opts('b', { leaseDurationSeconds: 10, retryPeriodSeconds: 2 }), log, () => now);
    started.push(b);
    void b.acquire();
    await sleep(20);
    expect(b.untilNextAttempt()).to.equal(2000);
    now += 9000;
    expect(b.untilNextAttempt()).to.be.within(1000, 1001);
    now += 5000;
    expect(b.untilNextAttempt()).to.equal(0);
  });

  it('keeps polling through an unreachable apiserver and leads once it is back', async () => {
    const store = new LeaseStore();
    store.down = true;
    const a = elector(store, 'a');
    let won = false;
    void a.acquire().then((w) => (won = w));
    await sleep(350);
    expect(won).to.equal(false);
    store.down = false;
    await sleep(400);
    expect(won).to.equal(true);
  });

  it('steps down when it cannot renew before the deadline', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'a');
    await a.acquire();
    const t0 = Date.now();
    store.down = true;
    await a.holdUntilLost();
    expect(a.isLeader).to.equal(false);
    expect(Date.now() - t0).to.be.within(250, 900);
  });

  it('steps down when another replica holds the lease', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'a', { renewDeadlineSeconds: 0.3 });
    await a.acquire();
    // someone else took the lease (e.g. after a long pause of this process)
    store.write({ holderIdentity: 'z', leaseDurationSeconds: 60, renewTime: new Date().toISOString() as unknown as Date });
    await a.holdUntilLost();
    expect(a.isLeader).to.equal(false);
    expect(store.lease?.spec?.holderIdentity).to.equal('z');
  });

  it('release hands the lease back with a one-second duration', async () => {
    const store = new LeaseStore();
    const a = elector(store, 'a');
    await a.acquire();
    await a.release();
    expect(store.lease?.spec?.holderIdentity ?? '').to.equal('');
    expect(store.lease?.spec?.leaseDurationSeconds).to.equal(1);
  });
});
