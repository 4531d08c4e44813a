import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { PADDLEJOB, POD, SAMPLESET } from '../../../../src/api/constants.js';
import type { PaddleJob } from '../../../../src/api/paddlejob.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { installedEngines } from '../../../../src/engines/installed.js';
import { ManualClock } from '../../../../src/kube/clock.js';
import { PaddleJobOperator } from '../../../../src/operators/paddlejob/paddlejob-operator.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { collectiveJob, makeSampleSet } from './fixtures.js';

/** The PaddleJob operator with a SampleSet that lost a cache node: it waits, says why, and fails after waitSeconds. */
describe('PaddleJobOperator: waiting for a SampleSet with a lost node', () => {
  function setup(waitSeconds?: number) {
    const f = new FakeCluster();
    const clock = new ManualClock(Date.parse('2026-12-03T10:00:00Z'));
    const op = new PaddleJobOperator(f.context(1, clock), { engines: installedEngines() });
    const ss = makeSampleSet('imagenet', 2, 'PartialReady');
    ss.status = {
      ...ss.status,
      conditions: [{ type: 'CacheNodesAvailable', status: 'False', reason: 'NodeLost', message: '…' }],
      nodes: [
        { partition: 0, pod: 'imagenet-runtime-0', node: 'n0', ready: true },
        { partition: 1, pod: 'imagenet-runtime-1', node: 'n1', ready: false, message: 'node lost: node n1 no longer exists' },
      ],
    };
    f.informer<SampleSet>(SAMPLESET).put(ss);
    f.put(
      PADDLEJOB,
      collectiveJob(2, { sampleSetRef: { name: 'imagenet', mountPath: '/data', ...(waitSeconds === undefined ? {} : { waitSeconds }) } }),
    );
    const job = (): PaddleJob => f.informer<PaddleJob>(PADDLEJOB).get('job', 'ns')!;
    const reconcile = () =>
      (op as unknown as { reconcile(k: object, o: PaddleJob | undefined): Promise<{ requeueAfterMs?: number } | undefined> }).reconcile(
        { namespace: 'ns', name: 'job' },
        job(),
      );
    return { f, clock, job, reconcile };
  }

  it('waits with SampleSetReady=False SampleSetNodeLost naming the partition and node; without waitSeconds it never fails', async () => {
    const h = setup();
    await h.reconcile();
    h.clock.advance(30 * 24 * 3600_000);
    await h.reconcile();
    const c = h.job().status!.conditions!.find((x) => x.type === 'SampleSetReady')!;
    expect(c).to.include({ status: 'False', reason: 'SampleSetNodeLost' });
    expect(c.message).to.include('partitions not ready: 1 (pod imagenet-runtime-1 on node n1: node lost: node n1 no longer exists)');
    expect(h.job().status!.phase).to.equal('Pending');
    expect(h.f.informer<V1Pod>(POD).list()).to.have.length(0);
  });

  it('with waitSeconds: a requeue when it expires, then Failed with SampleSetWaitExpired and a Warning', async () => {
    const h = setup(600);
    expect((await h.reconcile())?.requeueAfterMs).to.equal(600_000);
    h.clock.advance(599_000);
    expect((await h.reconcile())?.requeueAfterMs).to.equal(1_000);
    expect(h.job().status!.phase).to.equal('Pending');
    h.clock.advance(1_000);
    await h.reconcile();
    expect(h.job().status!.phase).to.equal('Failed');
    expect(h.job().status!.conditions!.find((x) => x.type === 'Failed')).to.include({ status: 'True', reason: 'SampleSetWaitExpired' });
    expect(h.f.events.filter((e) => e.reason === 'Failed').map((e) => e.message)[0]).to.match(/^the SampleSet was not Ready within 600s/);
    expect(h.f.informer<V1Pod>(POD).list()).to.have.length(0);
  });
});
