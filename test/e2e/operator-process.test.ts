/**
 * The paddle-operator process as it runs in production (on the ServiceAccount kustomize/default
 * creates): health, readiness and metrics endpoints, leader election between two replicas (kill -9
 * of the leader → the other takes over within the lease duration), and SIGTERM → clean exit 0 with
 * the Lease released.
 */
import { expect } from 'chai';
import type { V1Lease } from '@kubernetes/client-node';
import { EVENT, LEASE } from '../../src/api/constants.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { operatorKubeConfig, operatorKubeConfigPath } from './operator-context.js';
import { soleLeader, startOperator, type OperatorProcess } from './operator-processes.js';

type Replica = OperatorProcess;

const NS = 'paddle-system';
const LEASE_NAME = 'paddle-operator-e2e-leader';
const LEASE_SECONDS = 6;

function startReplica(kubeconfig: string, name: string): Promise<Replica> {
  return startOperator(name, kubeconfig, [
    '--leader-elect=true',
    `--leader-election-namespace=${NS}`,
    `--leader-election-id=${LEASE_NAME}`,
    `--lease-duration=${LEASE_SECONDS}`,
    '--renew-deadline=4',
    '--retry-period=1',
    '--log-level=debug',
  ]);
}

async function get(port: number, p: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.text() };
}

describe('paddle-operator process (real apiserver)', function () {
  this.timeout(180_000);
  const replicas: Replica[] = [];
  let api: KubeApi;

  before(async () => {
    const cluster = testCluster();
    await cluster.ensureNamespace(NS);
    api = new KubeApi(cluster.kubeConfig());
    await operatorKubeConfig();
    replicas.push(await startReplica(operatorKubeConfigPath(), 'replica-a'));
    replicas.push(await startReplica(operatorKubeConfigPath(), 'replica-b'));
  });

  after(async () => {
    for (const r of replicas) await r.kill();
  });

  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    for (const r of replicas) {
      expect((await get(r.ports.health, '/healthz')).status).to.equal(200);
      await waitFor('readyz', async () => ((await get(r.ports.health, '/readyz')).status === 200 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      const m = await get(r.ports.metrics, '/metrics');
      expect(m.status).to.equal(200);
      expect(m.body).to.match(/^# TYPE paddle_operator_reconcile_total counter$/m);
      expect(m.body).to.match(/^# TYPE paddle_operator_watch_restarts_total counter$/m);
      expect(m.body).to.match(/^paddle_operator_process_cpu_seconds_total /m);
      expect((await get(r.ports.health, '/nope')).status).to.equal(404);
    }
  });

  it('elects exactly one leader, and the other takes over within the lease duration after kill -9', async () => {
    const leader = await waitFor('a leader', () => soleLeader(replicas), { timeoutMs: 30_000, intervalMs: 200 });
    const other = replicas.find((r) => r !== leader)!;
    const lease = await api.get<V1Lease>(LEASE, LEASE_NAME, NS);
    expect(lease?.spec?.holderIdentity).to.match(leader === replicas[0] ? /^replica-a_/ : /^replica-b_/);

    const killedAt = Date.now();
    await leader.kill();
    await waitFor('the standby to lead', async () => ((await other.isLeader()) ? true : undefined), {
      timeoutMs: (LEASE_SECONDS + 10) * 1000,
      intervalMs: 200,
    });
    const after = await api.get<V1Lease>(LEASE, LEASE_NAME, NS);
    expect(after?.spec?.holderIdentity).to.not.equal(lease?.spec?.holderIdentity);
    expect(after?.spec?.leaseTransitions).to.be.greaterThan(lease?.spec?.leaseTransitions ?? 0);
    // the standby saw the last renewal through its watch and took the lease when it expired:
    // within the lease duration of the kill (plus request latency), not a retry period later
    const tookOverMs = Date.parse(String(after!.spec!.acquireTime)) - killedAt;
    process.stderr.write(`      [leader] took over ${tookOverMs} ms after kill -9 (lease ${LEASE_SECONDS} s, retry 1 s)\n`);
    expect(tookOverMs).to.be.below(LEASE_SECONDS * 1000 + 500);
    // and said so on the Lease, for `kubectl get events -n paddle-system`
    await waitFor(
      'a LeaderElected Event on the Lease',
      async () => {
        const evs = await api.list<{ reason?: string; regarding?: { name?: string }; note?: string } & { metadata?: object }>(EVENT, NS);
        return evs.items.some(
          (e) => e.reason === 'LeaderElected' && e.regarding?.name === LEASE_NAME && e.note?.startsWith(after!.spec!.holderIdentity!),
        )
          ? true
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  it('on SIGTERM stops cleanly, exits 0 and releases the lease', async () => {
    const live = replicas.find((r) => r.alive())!;
    const t0 = Date.now();
    live.proc.kill('SIGTERM');
    // a process that does not exit fails here with its last log lines (not at mocha's timeout)
    const code = await Promise.race([
      live.exit,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no exit 60 s after SIGTERM; last lines:\n${live.lines.slice(-40).join('\n')}`)), 60_000).unref(),
      ),
    ]);
    expect(code, live.lines.slice(-20).join('\n')).to.equal(0);
    expect(Date.now() - t0).to.be.below(25_000);
    const lease = await api.get<V1Lease>(LEASE, LEASE_NAME, NS);
    expect(lease?.spec?.holderIdentity ?? '').to.equal('');
    expect(live.json().some((o) => o.msg === 'released leadership')).to.equal(true);
  });
});
