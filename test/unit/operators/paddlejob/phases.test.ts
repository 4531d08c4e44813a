import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition } from '../../../../src/api/conditions.js';
import { applyConditionChange } from '../../../../src/operators/paddlejob/condition-change.js';
import { memberAddresses } from '../../../../src/operators/paddlejob/configmap-phase.js';
import { desiredMembers } from '../../../../src/operators/paddlejob/member-children.js';
import { nameProblem } from '../../../../src/operators/paddlejob/paddlejob-operator.js';
import { collectiveJob, makeJob, memberPod, psJob, template } from './fixtures.js';

/** The pure pieces the PaddleJob phases are built from. */
describe('PaddleJob phases (pure parts)', () => {
  const NOW = new Date('2026-01-01T00:00:00Z');
  const cond = (type: string, status: Condition['status'] = 'True'): Condition => ({ type, status, reason: 'R', message: 'm' });

  it('a condition change sets a condition or drops it, leaving the list as it is when there is nothing to drop', () => {
    const set = applyConditionChange(undefined, { set: cond('A') }, NOW)!;
    expect(set.map((c) => [c.type, c.status])).to.deep.equal([['A', 'True']]);
    const list = [cond('A'), cond('B')];
    expect(applyConditionChange(list, { remove: 'A' }, NOW)!.map((c) => c.type)).to.deep.equal(['B']);
    expect(applyConditionChange(list, { remove: 'C' }, NOW)).to.equal(list);
  });

  it('nameProblem: none for usual names, NameTooLong when a pod name would pass the limit', () => {
    expect(nameProblem(psJob())).to.equal(undefined);
    const long = makeJob({ worker: { replicas: 1, template: template() } }, 'x'.repeat(70));
    expect(nameProblem(long)?.reason).to.equal('NameTooLong');
  });

  it('desiredMembers lists every role and index', () => {
    expect(desiredMembers(psJob(1, 2)).map((m) => m.name)).to.deep.equal(['job-ps-0', 'job-worker-0', 'job-worker-1']);
  });

  it("memberAddresses: pod IPs of the job's own pods, host ports in Host intranet, nothing for a missing pod", () => {
    const job = collectiveJob(2);
    const pods = new Map<string, V1Pod>([['job-worker-0', memberPod(job, 'worker', 0, 'Running', { ip: '10.1.0.1' })]]);
    const at = memberAddresses(job, (name) => pods.get(name), {});
    expect(at('worker', 0)?.host).to.equal('10.1.0.1');
    expect(at('worker', 1)).to.equal(undefined);
    const host = collectiveJob(1, { intranet: 'Host' });
    const hostPods = new Map<string, V1Pod>([['job-worker-0', memberPod(host, 'worker', 0, 'Running', { ip: '10.1.0.2' })]]);
    expect(memberAddresses(host, (name) => hostPods.get(name), { 'worker-0': 35000 })('worker', 0)).to.deep.equal({
      host: '10.1.0.2',
      port: 35000,
    });
    const svc = collectiveJob(1, { intranet: 'Service' });
    expect(memberAddresses(svc, () => undefined, {})('worker', 0)?.host).to.equal('job-worker-0');
  });
});
