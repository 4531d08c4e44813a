import { expect } from 'chai';
import { isReady, nextPhase, phaseWhenStopped, readyCondition, type PhaseInputs } from '../../../../src/operators/sampleset/phase.js';

const base: PhaseInputs = {
  volumeBound: true,
  partitions: 2,
  readyPartitions: 2,
  distinctNodes: true,
  replicasMatch: true,
  sync: 'Succeeded',
};
const at = (over: Partial<PhaseInputs>): PhaseInputs => ({ ...base, ...over });

describe('sampleset/phase', () => {
  it('walks "" → Bound → Mount → Syncing → PartialReady → Ready', () => {
    expect(nextPhase(at({ volumeBound: false, readyPartitions: 0, sync: 'NotStarted' }))).to.equal('');
    expect(nextPhase(at({ readyPartitions: 0, sync: 'NotStarted' }))).to.equal('Bound');
    expect(nextPhase(at({ readyPartitions: 1, sync: 'NotStarted' }))).to.equal('Mount');
    expect(nextPhase(at({ readyPartitions: 1, sync: 'Pending' }))).to.equal('Syncing');
    expect(nextPhase(at({ readyPartitions: 1, sync: 'Running' }))).to.equal('Syncing');
    expect(nextPhase(at({ readyPartitions: 1, sync: 'Succeeded' }))).to.equal('PartialReady');
    expect(nextPhase(at({}))).to.equal('Ready');
  });

  it('goes SyncFailed on a failed sync, whatever the pods do', () => {
    expect(nextPhase(at({ sync: 'Failed' }))).to.equal('SyncFailed');
    expect(nextPhase(at({ sync: 'Failed', readyPartitions: 0 }))).to.equal('SyncFailed');
  });

  it('skips the sync with noSync', () => {
    expect(nextPhase(at({ sync: 'Skipped', readyPartitions: 0 }))).to.equal('Bound');
    expect(nextPhase(at({ sync: 'Skipped', readyPartitions: 1 }))).to.equal('PartialReady');
    expect(nextPhase(at({ sync: 'Skipped' }))).to.equal('Ready');
  });

  it('keeps showing Syncing while the runtime is away', () => {
    expect(nextPhase(at({ sync: 'Running', readyPartitions: 0 }))).to.equal('Syncing');
  });

  it('is PartialReady while rescaling or when pods share a node', () => {
    expect(nextPhase(at({ partitions: 3, readyPartitions: 2 }))).to.equal('PartialReady');
    expect(nextPhase(at({ replicasMatch: false }))).to.equal('PartialReady');
    expect(nextPhase(at({ distinctNodes: false }))).to.equal('PartialReady');
    expect(isReady(at({ distinctNodes: false }))).to.equal(false);
    expect(isReady(at({ volumeBound: false }))).to.equal(false);
  });

  it('explains why it is not Ready', () => {
    expect(readyCondition(at({ volumeBound: false }), { volume: 'PVC is Pending' })).to.deep.equal({
      status: 'False',
      reason: 'VolumeNotBound',
      message: 'PVC is Pending',
    });
    expect(readyCondition(at({ sync: 'Failed' }), { sync: 'no such bucket' }).reason).to.equal('SyncFailed');
    expect(readyCondition(at({ sync: 'Failed' }), { sync: 'no such bucket' }).message).to.contain('no such bucket');
    expect(readyCondition(at({ sync: 'Running' }), { sync: '1/2 files' }).message).to.contain('1/2 files');
    expect(readyCondition(at({ readyPartitions: 0, sync: 'Skipped' })).reason).to.equal('RuntimeNotReady');
    const partial = readyCondition(at({ partitions: 3 }), { pods: ['x-runtime-2: not scheduled yet'] });
    expect(partial).to.deep.equal({
      status: 'False',
      reason: 'PartitionsNotReady',
      message: '2/3 runtime pods ready: x-runtime-2: not scheduled yet',
    });
    expect(readyCondition(at({ distinctNodes: false })).reason).to.equal('PartitionsShareNode');
    expect(readyCondition(at({}))).to.deep.equal({ status: 'True', reason: 'Ready', message: '2/2 cache nodes ready' });
  });

  it('a pass stopped by a spec error or a blocked state never keeps a phase that admits SampleJobs', () => {
    expect(phaseWhenStopped('Ready')).to.equal('');
    expect(phaseWhenStopped('PartialReady')).to.equal('');
    for (const p of ['', 'Bound', 'Mount', 'Syncing', 'SyncFailed'] as const) expect(phaseWhenStopped(p)).to.equal(p);
    expect(phaseWhenStopped(undefined)).to.equal('');
  });
});
