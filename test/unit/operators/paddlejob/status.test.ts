import { expect } from 'chai';
import type { PaddleJob } from '../../../../src/api/paddlejob.js';
import {
  decidePhase,
  memberPods,
  nextStatus,
  podState,
  roleStatuses,
  statusChanged,
  statusPatch,
} from '../../../../src/operators/paddlejob/status.js';
import { collectiveJob, makeJob, memberPod, psJob, template } from './fixtures.js';

const NOW = new Date('2026-01-02T03:04:05.678Z');

function all(job: PaddleJob, phase: Parameters<typeof memberPod>[3] = 'Running') {
  const pods = [];
  for (const role of ['ps', 'worker', 'heter'] as const)
    for (let i = 0; i < (job.spec[role]?.replicas ?? 0); i++) pods.push(memberPod(job, role, i, phase));
  return pods;
}

describe('paddlejob status', () => {
  it('classifies pods: Running counts as running only when every container is ready', () => {
    const job = psJob();
    expect(podState(memberPod(job, 'ps', 0, 'Pending'))).to.equal('pending');
    expect(podState(memberPod(job, 'ps', 0, 'Running'))).to.equal('running');
    expect(podState(memberPod(job, 'ps', 0, 'Running', { ready: false }))).to.equal('starting');
    expect(podState(memberPod(job, 'ps', 0, 'Succeeded'))).to.equal('succeeded');
    expect(podState(memberPod(job, 'ps', 0, 'Failed'))).to.equal('failed');
    expect(podState(memberPod(job, 'ps', 0, 'Unknown'))).to.equal('unknown');
  });

  it('counts only pods controlled by this job, within the replicas, not being deleted', () => {
    const job = psJob(1, 2);
    const other = memberPod(psJob(1, 2), 'worker', 0);
    other.metadata!.ownerReferences![0].uid = 'someone-else';
    const surplus = memberPod(job, 'worker', 2);
    const deleting = memberPod(job, 'worker', 1);
    deleting.metadata!.deletionTimestamp = new Date();
    const pods = memberPods(job, [memberPod(job, 'worker', 0), memberPod(job, 'ps', 0), other, surplus, deleting]);
    expect(pods.map((p) => p.metadata!.name)).to.deep.equal(['job-ps-0', 'job-worker-0']);
  });

  it('per-role counts and refs, zeros included', () => {
    const job = psJob(2, 2);
    const roles = roleStatuses(job.spec, [
      memberPod(job, 'ps', 0),
      memberPod(job, 'ps', 1, 'Pending'),
      memberPod(job, 'worker', 0, 'Running', { ready: false }),
    ]);
    expect(roles.ps).to.deep.include({ pending: 1, starting: 0, running: 1, failed: 0, succeeded: 0, unknown: 0 });
    expect(roles.ps!.refs).to.deep.equal([
      { apiVersion: 'v1', kind: 'Pod', name: 'job-ps-0', namespace: 'ns', uid: 'uid-job-ps-0' },
      { apiVersion: 'v1', kind: 'Pod', name: 'job-ps-1', namespace: 'ns', uid: 'uid-job-ps-1' },
    ]);
    expect(roles.worker).to.deep.include({ starting: 1, running: 0 });
    expect(roles).to.not.have.property('heter');
  });

  describe('phase', () => {
    const phase = (job: PaddleJob, pods: ReturnType<typeof memberPod>[]) =>
      decidePhase(job.spec, roleStatuses(job.spec, memberPods(job, pods))).phase;

    it('Pending with no pods or a missing/pending member', () => {
      const job = psJob(1, 2);
      expect(phase(job, [])).to.equal('Pending');
      expect(phase(job, [memberPod(job, 'ps', 0), memberPod(job, 'worker', 0)])).to.equal('Pending');
      expect(phase(job, [memberPod(job, 'ps', 0), memberPod(job, 'worker', 0), memberPod(job, 'worker', 1, 'Pending')])).to.equal(
        'Pending',
      );
    });

    it('Starting while members exist but some are not ready', () => {
      const job = psJob(1, 1);
      expect(phase(job, [memberPod(job, 'ps', 0), memberPod(job, 'worker', 0, 'Running', { ready: false })])).to.equal('Starting');
    });

    it('Running when every member runs', () => {
      const job = psJob(2, 3);
      expect(phase(job, all(job))).to.equal('Running');
    });

    it('Completed when every worker succeeded, even with parameter servers still running', () => {
      const job = psJob(2, 2);
      expect(
        phase(job, [
          ...all(job).filter((p) => p.metadata!.name!.includes('ps')),
          memberPod(job, 'worker', 0, 'Succeeded'),
          memberPod(job, 'worker', 1, 'Succeeded'),
        ]),
      ).to.equal('Completed');
      expect(
        phase(job, [
          ...all(job).filter((p) => p.metadata!.name!.includes('ps')),
          memberPod(job, 'worker', 0, 'Succeeded'),
          memberPod(job, 'worker', 1),
        ]),
      ).to.equal('Running');
    });

    it('Completed for a job without workers when every pod succeeded', () => {
      const job = makeJob({ ps: { replicas: 2, template: template() } });
      expect(phase(job, all(job, 'Succeeded'))).to.equal('Completed');
    });

    it('Failed as soon as one member failed', () => {
      const job = collectiveJob(3);
      expect(
        phase(job, [memberPod(job, 'worker', 0), memberPod(job, 'worker', 1, 'Failed'), memberPod(job, 'worker', 2, 'Succeeded')]),
      ).to.equal('Failed');
    });
  });

  it('next status: mode, observedGeneration, startTime when Running', () => {
    const job = psJob(1, 2);
    job.metadata.generation = 4;
    const s = nextStatus(job, all(job), undefined, NOW);
    expect(s).to.deep.include({ phase: 'Running', mode: 'PS', observedGeneration: 4, startTime: '2026-01-02T03:04:05Z' });
    expect(s.worker).to.deep.include({ running: 2 });
    expect(s).to.not.have.property('completionTime');
    expect(nextStatus(collectiveJob(2), [], undefined, NOW)).to.deep.include({ phase: 'Pending', mode: 'Collective' });
    expect(nextStatus(collectiveJob(2), [], undefined, NOW)).to.not.have.property('startTime');
  });

  it('next status: completion time and a Completed condition; Failed names the failed pod and its exit code', () => {
    const job = collectiveJob(2);
    const done = nextStatus(job, all(job, 'Succeeded'), undefined, NOW);
    expect(done).to.deep.include({ phase: 'Completed', completionTime: '2026-01-02T03:04:05Z', startTime: '2026-01-02T03:04:05Z' });
    expect(done.conditions).to.deep.include({
      type: 'Completed',
      status: 'True',
      reason: 'WorkersSucceeded',
      message: 'all 2 workers succeeded',
      observedGeneration: 1,
      lastTransitionTime: '2026-01-02T03:04:05Z',
    });

    const failed = nextStatus(job, [memberPod(job, 'worker', 0), memberPod(job, 'worker', 1, 'Failed', { exitCode: 3 })], undefined, NOW);
    expect(failed.phase).to.equal('Failed');
    expect(failed.conditions!.find((c) => c.type === 'Failed')!.message).to.equal('pod(s) failed: job-worker-1 (exit code 3, Error)');
  });

  it('freezes an ended job: cleaned-up pods do not rewrite how it ended', () => {
    const job = collectiveJob(2);
    job.status = nextStatus(job, all(job, 'Succeeded'), undefined, NOW);
    job.metadata.generation = 2;
    const later = nextStatus(job, [], job.status.conditions, new Date('2027-01-01T00:00:00Z'));
    expect(later).to.deep.equal({ ...job.status, observedGeneration: 2 });
  });

  it('keeps startTime once set', () => {
    const job = collectiveJob(2);
    job.status = { phase: 'Running', startTime: '2025-01-01T00:00:00Z' };
    expect(nextStatus(job, [memberPod(job, 'worker', 0)], undefined, NOW).startTime).to.equal('2025-01-01T00:00:00Z');
  });

  it('detects change and builds a merge patch that removes vanished keys', () => {
    const job = psJob(1, 1);
    const s = nextStatus(job, all(job), undefined, NOW);
    expect(statusChanged(s, JSON.parse(JSON.stringify(s)) as typeof s)).to.equal(false);
    expect(statusChanged(s, { ...s, phase: 'Starting' })).to.equal(true);
    expect(statusChanged(undefined, s)).to.equal(true);
    const { ps: _ps, ...withoutPs } = s;
    expect(statusPatch(s, withoutPs)).to.deep.include({ ps: null, phase: 'Running' });
  });
});
