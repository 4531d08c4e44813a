import { expect } from 'chai';
import { Container } from 'inversify';
import type { OperatorConfig } from '../../src/config/operator-config.js';
import { TYPES, type RunnableOperator } from '../../src/container.js';
import { LeaderElector } from '../../src/kube/leader-elector.js';
import { OperatorManager, SHUTDOWN_STEP_MS } from '../../src/manager.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { LeaseStore } from './support/lease-store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An operator whose start (its informers' first list) takes `ms`. */
class SlowStartingOperator implements RunnableOperator {
  started = false;
  constructor(private readonly ms: number) {}
  async start(): Promise<void> {
    await sleep(this.ms);
    this.started = true;
  }
  async stop(): Promise<void> {}
}

describe('OperatorManager with leader election', () => {
  const lease = { leaseDurationSeconds: 0.4, renewDeadlineSeconds: 0.25, retryPeriodSeconds: 0.1 };
  const log = createLogger({ silent: true });
  let manager: OperatorManager | undefined;
  let rival: LeaderElector | undefined;
  afterEach(async () => {
    rival?.stop();
    await manager?.stop(1000);
  });

  function container(
    store: LeaseStore,
    operator: RunnableOperator,
    stopAll: () => Promise<void> = () => Promise.resolve(),
    webhook?: { start(a: { host: string; port: number }): Promise<number>; stop(): Promise<void> },
  ): Container {
    const c = new Container();
    const config = {
      metricsAddress: '0',
      probeAddress: '0',
      leaderElect: true,
      leaderElectionNamespace: 'paddle-system',
      leaderElectionId: 'paddle-operator',
      shutdownTimeoutSeconds: 1,
      webhookAddress: '127.0.0.1:0',
      ...lease,
    };
    c.bind(TYPES.Config).toConstantValue(config as unknown as OperatorConfig);
    c.bind(TYPES.Logger).toConstantValue(log);
    c.bind(TYPES.Metrics).toConstantValue(new Metrics());
    c.bind(TYPES.KubeApi).toConstantValue(store.api());
    c.bind(TYPES.EventRecorder).toConstantValue({ record: () => Promise.resolve() } as never);
    c.bind(TYPES.InformerFactory).toConstantValue({ get: () => ({ list: () => [] }), allSynced: true, stopAll } as never);
    c.bind(TYPES.Operator).toConstantValue(operator);
    if (webhook) c.bind(TYPES.PodWebhook).toConstantValue(webhook as never);
    return c;
  }

  it('serves the admission webhook on a standby replica, before and without the lease, and closes it on stop', async () => {
    const store = new LeaseStore();
    rival = new LeaderElector(store.api(), { namespace: 'paddle-system', name: 'paddle-operator', identity: 'rival', ...lease }, log);
    expect(await rival.acquire()).to.equal(true);
    void rival.holdUntilLost();
    const calls: string[] = [];
    const webhook = {
      start: (a: { host: string; port: number }) => {
        calls.push(`start ${a.host}:${a.port}`);
        return Promise.resolve(9443);
      },
      stop: () => {
        calls.push('stop');
        return Promise.resolve();
      },
    };
    const operator = new SlowStartingOperator(0);
    manager = new OperatorManager(container(store, operator, undefined, webhook));
    await manager.start();
    expect(calls).to.deep.equal(['start 127.0.0.1:0']);
    expect(manager.ports.webhook).to.equal(9443);
    await sleep(300);
    expect(operator.started, 'the standby does not reconcile').to.equal(false);
    await manager.stop(1000);
    expect(calls).to.deep.equal(['start 127.0.0.1:0', 'stop']);
  });

  it('renews the Lease from the moment it is acquired, also while the operators are still starting', async () => {
    const store = new LeaseStore();
    const operator = new SlowStartingOperator(1200); // three lease durations
    manager = new OperatorManager(container(store, operator));
    await manager.start();
    while (!store.lease) await sleep(5);
    const holder = store.lease.spec?.holderIdentity;
    rival = new LeaderElector(store.api(), { namespace: 'paddle-system', name: 'paddle-operator', identity: 'rival', ...lease }, log);
    let rivalWon = false;
    void rival.acquire().then((won) => (rivalWon = won));
    while (!operator.started) await sleep(20);
    expect(rivalWon, 'a second replica took the lease while the first was starting its operators').to.equal(false);
    expect(store.lease?.spec?.holderIdentity).to.equal(holder);
  });

  it('stop() resolves and releases the Lease even when stopping the watches never finishes', async function () {
    this.timeout(15_000);
    const store = new LeaseStore();
    const operator = new SlowStartingOperator(0);
    manager = new OperatorManager(container(store, operator, () => new Promise<void>(() => undefined)));
    await manager.start();
    while (!operator.started) await sleep(5);
    const t0 = Date.now();
    await manager.stop(1000);
    expect(await manager.done).to.equal('stopped');
    expect(Date.now() - t0).to.be.below(SHUTDOWN_STEP_MS + 2000);
    expect(store.lease?.spec?.holderIdentity ?? '', 'lease released').to.equal('');
  });
});
