import { expect } from 'chai';
import { buildPodGroup, podGroupNeedsUpdate, podGroupSpec, summedRequests } from '../../../../src/operators/paddlejob/podgroup-builder.js';
import { formatQuantity, parseQuantity } from '../../../../src/operators/paddlejob/quantity.js';
import { psJob } from './fixtures.js';

describe('paddlejob PodGroup', () => {
  it('parses and formats quantities exactly', () => {
    expect(parseQuantity('1')).to.equal(1000n);
    expect(parseQuantity('100m')).to.equal(100n);
    expect(parseQuantity('1.5')).to.equal(1500n);
    expect(parseQuantity(2)).to.equal(2000n);
    expect(parseQuantity('1Ki')).to.equal(1024000n);
    expect(parseQuantity('1Gi')).to.equal(1073741824000n);
    expect(parseQuantity('2k')).to.equal(2000000n);
    expect(parseQuantity('1e3')).to.equal(1000000n);
    expect(parseQuantity('1n')).to.equal(1n); // rounded up to a milli
    expect(() => parseQuantity('abc')).to.throw(/invalid quantity/);
    expect(formatQuantity(1500n)).to.equal('1500m');
    expect(formatQuantity(3000n)).to.equal('3');
  });

  it('minMember = all replicas, minResources = summed requests (limits standing in)', () => {
    const job = psJob(2, 3);
    job.spec.ps!.template!.spec!.containers[0].resources = { requests: { cpu: '500m', memory: '1Gi' } };
    job.spec.worker!.template!.spec!.containers[0].resources = { limits: { cpu: '2', 'nvidia.com/gpu': '1' }, requests: { cpu: '1' } };
    job.spec.worker!.template!.spec!.containers.push({ name: 's', image: 's', resources: { requests: { memory: '512Mi' } } });
    expect(summedRequests(job)).to.deep.equal({ cpu: '4', memory: String(2 * 2 ** 30 + 3 * 2 ** 29), 'nvidia.com/gpu': '3' });
    expect(podGroupSpec(job)).to.deep.include({ minMember: 5 });
  });

  it('takes minAvailable, minResources, queue and priority class from the scheduling policy', () => {
    const job = psJob(2, 3, {
      schedulingPolicy: { minAvailable: 3, queue: 'train', priorityClass: 'high', minResources: { cpu: '1500m', memory: '2Gi' } },
    });
    const pg = buildPodGroup(job);
    expect(pg).to.deep.include({ apiVersion: 'scheduling.volcano.sh/v1beta1', kind: 'PodGroup' });
    expect(pg.metadata!.name).to.equal('job');
    expect(pg.metadata!.ownerReferences![0]).to.include({ kind: 'PaddleJob', controller: true });
    expect(pg.spec).to.deep.equal({
      minMember: 3,
      minResources: { cpu: '1500m', memory: '2147483648' },
      queue: 'train',
      priorityClassName: 'high',
    });
  });

  it('needs an update only when a field we set differs', () => {
    const want = podGroupSpec(psJob(1, 1, { schedulingPolicy: {} }));
    expect(want).to.deep.equal({ minMember: 2 });
    const pg = { spec: { minMember: 2, queue: 'default' } };
    expect(podGroupNeedsUpdate(pg, want), 'a queue Volcano defaulted is not ours to change').to.equal(false);
    expect(podGroupNeedsUpdate({ spec: { minMember: 1 } }, want)).to.equal(true);
    expect(
      podGroupNeedsUpdate({ spec: { minMember: 2, minResources: { cpu: '1000m' } } }, { minMember: 2, minResources: { cpu: '1' } }),
    ).to.equal(false);
    expect(podGroupNeedsUpdate({ spec: { minMember: 2, queue: 'a' } }, { minMember: 2, queue: 'b' })).to.equal(true);
  });
});
