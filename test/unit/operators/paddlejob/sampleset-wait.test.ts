import { expect } from 'chai';
import type { Condition } from '../../../../src/api/conditions.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { installedEngines } from '../../../../src/engines/installed.js';
import { checkSampleSet } from '../../../../src/operators/paddlejob/sampleset-gate.js';
import { sampleSetWait } from '../../../../src/operators/paddlejob/sampleset-wait.js';
import { nextStatus } from '../../../../src/operators/paddlejob/status.js';
import { collectiveJob, makeSampleSet } from './fixtures.js';

const engines = installedEngines();
const T0 = Date.parse('2026-12-03T10:00:00Z');

/** A SampleSet that lost partition 1's node (as the SampleSet operator reports it). */
function lostOne(): SampleSet {
  const ss = makeSampleSet('imagenet', 2, 'PartialReady');
  ss.status = {
    ...ss.status,
    conditions: [{ type: 'CacheNodesAvailable', status: 'False', reason: 'NodeLost', message: 'partition 1 …' }],
    nodes: [
      { partition: 0, pod: 'imagenet-runtime-0', node: 'n0', ready: true },
      { partition: 1, pod: 'imagenet-runtime-1', node: 'n1', ready: false, message: 'node lost: node n1 is Ready=Unknown' },
    ],
  };
  return ss;
}

const jobWith = (waitSeconds?: number) =>
  collectiveJob(2, { sampleSetRef: { name: 'imagenet', mountPath: '/data', ...(waitSeconds === undefined ? {} : { waitSeconds }) } });

describe('paddlejob: waiting for a SampleSet', () => {
  it('the gate names the partitions that are not ready, says NodeLost when a node is lost, and what the limit is', () => {
    const gate = checkSampleSet(jobWith(), (n) => (n === 'imagenet' ? lostOne() : undefined), engines)!;
    expect(gate).to.deep.include({ open: false, reason: 'SampleSetNodeLost' });
    expect(gate.message).to.equal(
      'SampleSet ns/imagenet is in phase PartialReady; partitions not ready: 1 (pod imagenet-runtime-1 on node n1: node lost: node n1 is Ready=Unknown); ' +
        'the job waits until it is Ready (no limit: set spec.sampleSetRef.waitSeconds to fail instead)',
    );
    const limited = checkSampleSet(jobWith(600), () => lostOne(), engines)!;
    expect(limited.message).to.match(/fails if it has not started within 600s \(spec\.sampleSetRef\.waitSeconds\)$/);
  });

  it('without waitSeconds a job waits as long as it takes', () => {
    const gate = checkSampleSet(jobWith(), () => lostOne(), engines);
    const prev: Condition = {
      type: 'SampleSetReady',
      status: 'False',
      reason: 'SampleSetNodeLost',
      message: '',
      lastTransitionTime: '2020-01-01T00:00:00Z',
    };
    expect(sampleSetWait(jobWith(), gate, prev, T0)).to.deep.equal({});
  });

  it('with waitSeconds: looks again when the wait expires, counted from when the condition turned False; then fails with SampleSetWaitExpired', () => {
    const job = jobWith(600);
    const gate = checkSampleSet(job, () => lostOne(), engines);
    // first pass: no condition yet, the wait starts now
    expect(sampleSetWait(job, gate, undefined, T0)).to.deep.equal({ requeueAfterMs: 600_000 });
    const prev: Condition = {
      type: 'SampleSetReady',
      status: 'False',
      reason: 'SampleSetNodeLost',
      message: '',
      lastTransitionTime: '2026-12-03T10:00:00Z',
    };
    expect(sampleSetWait(job, gate, prev, T0 + 599_000)).to.deep.equal({ requeueAfterMs: 1000 });
    const expired = sampleSetWait(job, gate, prev, T0 + 600_000);
    expect(expired.failure?.reason).to.equal('SampleSetWaitExpired');
    expect(expired.failure?.message).to.equal(
      'the SampleSet was not Ready within 600s (spec.sampleSetRef.waitSeconds): SampleSet ns/imagenet is in phase PartialReady; ' +
        'partitions not ready: 1 (pod imagenet-runtime-1 on node n1: node lost: node n1 is Ready=Unknown)',
    );
    // a condition that was True (the gate just closed) starts the wait now
    expect(sampleSetWait(job, gate, { ...prev, status: 'True' }, T0 + 600_000)).to.deep.equal({ requeueAfterMs: 600_000 });
  });

  it('never fails a job that started, nor one whose gate is open', () => {
    const prev: Condition = {
      type: 'SampleSetReady',
      status: 'False',
      reason: 'x',
      message: '',
      lastTransitionTime: '2020-01-01T00:00:00Z',
    };
    const started = { ...jobWith(1), status: { startTime: '2026-12-03T09:00:00Z' } };
    expect(
      sampleSetWait(
        started,
        checkSampleSet(started, () => lostOne(), engines),
        prev,
        T0,
      ),
    ).to.deep.equal({});
    const ready = makeSampleSet('imagenet', 2);
    expect(
      sampleSetWait(
        jobWith(1),
        checkSampleSet(jobWith(1), () => ready, engines),
        prev,
        T0,
      ),
    ).to.deep.equal({});
  });

  it('nextStatus with a failure: Failed, the Failed condition carries its reason and message', () => {
    const s = nextStatus(jobWith(1), [], undefined, new Date(T0), { reason: 'SampleSetWaitExpired', message: 'waited' });
    expect(s.phase).to.equal('Failed');
    expect(s.conditions?.find((c) => c.type === 'Failed')).to.include({
      status: 'True',
      reason: 'SampleSetWaitExpired',
      message: 'waited',
    });
    expect(s.completionTime).to.equal('2026-12-03T10:00:00Z');
  });
});
