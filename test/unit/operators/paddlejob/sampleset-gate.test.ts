import { expect } from 'chai';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { installedEngines } from '../../../../src/engines/installed.js';
import { checkSampleSet, sampleSetCondition } from '../../../../src/operators/paddlejob/sampleset-gate.js';
import { collectiveJob, makeSampleSet } from './fixtures.js';

function lookupOf(...sets: SampleSet[]) {
  return (name: string, ns: string) => sets.find((s) => s.metadata.name === name && s.metadata.namespace === ns);
}

const engines = installedEngines();

describe('paddlejob SampleSet gate', () => {
  it('is absent without sampleSetRef', () => {
    expect(checkSampleSet(collectiveJob(2), lookupOf(), engines)).to.equal(undefined);
  });

  it('opens for a Ready SampleSet in the job namespace, with its binding', () => {
    const job = collectiveJob(2, { sampleSetRef: { name: 'imagenet', mountPath: '/data' } });
    const gate = checkSampleSet(job, lookupOf(makeSampleSet('imagenet', 2)), engines)!;
    expect(gate.open).to.equal(true);
    if (!gate.open) return;
    expect(gate.binding.claimName).to.equal('imagenet');
    expect(gate.binding.runtimePods).to.deep.equal(['imagenet-runtime-0', 'imagenet-runtime-1']);
    expect(sampleSetCondition(gate, 1)).to.include({ type: 'SampleSetReady', status: 'True', reason: 'SampleSetReady' });
  });

  it("accepts an explicit namespace equal to the job's", () => {
    const job = collectiveJob(2, { sampleSetRef: { name: 'imagenet', namespace: 'ns', mountPath: '/data' } });
    expect(checkSampleSet(job, lookupOf(makeSampleSet('imagenet')), engines)!.open).to.equal(true);
  });

  it('waits for a missing SampleSet', () => {
    const job = collectiveJob(2, { sampleSetRef: { name: 'imagenet', mountPath: '/data' } });
    expect(checkSampleSet(job, lookupOf(), engines)).to.deep.include({ open: false, reason: 'SampleSetNotFound' });
  });

  it('waits for a SampleSet that is not Ready', () => {
    const job = collectiveJob(2, { sampleSetRef: { name: 'imagenet', mountPath: '/data' } });
    const gate = checkSampleSet(job, lookupOf(makeSampleSet('imagenet', 2, 'Syncing')), engines)!;
    expect(gate).to.deep.include({ open: false, reason: 'SampleSetNotReady' });
    expect(gate.message).to.match(/Syncing/);
    expect(sampleSetCondition(gate, 1)).to.include({ status: 'False', reason: 'SampleSetNotReady' });
  });

  it("holds the job when the SampleSet's cache engine is not installed, before looking at its phase", () => {
    const job = collectiveJob(2, { sampleSetRef: { name: 'imagenet', mountPath: '/data' } });
    for (const phase of ['Ready', 'Syncing']) {
      const gate = checkSampleSet(job, lookupOf(makeSampleSet('imagenet', 2, phase, 'ns', 'alluxio')), engines)!;
      expect(gate).to.deep.include({ open: false, reason: 'CacheEngineNotInstalled' });
      expect(gate.message).to.equal(
        'SampleSet ns/imagenet uses cache engine "alluxio", which this operator does not have installed (installed: juicefs); the job waits until it runs with that engine',
      );
      expect(sampleSetCondition(gate, 1)).to.include({ type: 'SampleSetReady', status: 'False', reason: 'CacheEngineNotInstalled' });
    }
  });

  it('rejects a SampleSet in another namespace with a clear reason', () => {
    const job = collectiveJob(2, { sampleSetRef: { name: 'imagenet', namespace: 'data', mountPath: '/data' } });
    const gate = checkSampleSet(job, lookupOf(makeSampleSet('imagenet', 2, 'Ready', 'data')), engines)!;
    expect(gate).to.deep.include({ open: false, reason: 'SampleSetNamespaceMismatch' });
    expect(gate.message).to.match(/PersistentVolumeClaim is namespaced/);
  });
});
