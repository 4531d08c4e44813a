import { expect } from 'chai';
import { jobMode, rolesOf, totalReplicas, trainingRole } from '../../../../src/operators/paddlejob/mode.js';
import { longestPodName, podIdentity, podName } from '../../../../src/operators/paddlejob/names.js';
import { collectiveJob, memberPod, psJob, template } from './fixtures.js';

describe('paddlejob mode and names', () => {
  it('is PS when ps is set, Collective with more than one worker, else Single', () => {
    expect(jobMode(psJob(1, 1).spec)).to.equal('PS');
    expect(jobMode(psJob(2, 0).spec)).to.equal('PS');
    expect(jobMode(collectiveJob(2).spec)).to.equal('Collective');
    expect(jobMode(collectiveJob(1).spec)).to.equal('Single');
    expect(jobMode({ heter: { replicas: 1, template: template() } })).to.equal('Single');
  });

  it('maps roles to PSERVER, TRAINER and HETER', () => {
    expect(trainingRole('ps')).to.equal('PSERVER');
    expect(trainingRole('worker')).to.equal('TRAINER');
    expect(trainingRole('heter')).to.equal('HETER');
  });

  it('lists roles in ps, worker, heter order and sums replicas', () => {
    const spec = {
      heter: { replicas: 1, template: template() },
      worker: { replicas: 3, template: template() },
      ps: { replicas: 2, template: template() },
    };
    expect(rolesOf(spec)).to.deep.equal(['ps', 'worker', 'heter']);
    expect(totalReplicas(spec)).to.equal(6);
  });

  it('names pods <job>-<role>-<index> and reads role and index back from the labels', () => {
    const job = psJob();
    expect(podName('train', 'worker', 3)).to.equal('train-worker-3');
    expect(podIdentity(memberPod(job, 'worker', 2))).to.deep.equal({ role: 'worker', index: 2 });
    const foreign = memberPod(job, 'ps', 0);
    foreign.metadata!.labels = {};
    expect(podIdentity(foreign)).to.equal(undefined);
  });

  it('finds the longest pod name (label values and Service names are limited to 63)', () => {
    expect(longestPodName('j', { ps: 2, worker: 12 })).to.equal('j-worker-11');
    expect(longestPodName('j', { ps: 0 })).to.equal('');
  });
});
