import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { SampleJob, SampleJobSpec, SampleJobStatus } from '../../../../src/api/samplejob.js';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { rewarmJobId, rewarmReason, rewarmSource, rewarmsWanted } from '../../../../src/operators/sampleset/rewarm-plan.js';
import type { RuntimePod } from '../../../../src/operators/shared/runtime-pods.js';

const ss: SampleSet = { metadata: { name: 'ds', namespace: 'ns', uid: 'ss-uid-1' }, spec: { partitions: 2 } } as SampleSet;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function job(name: string, type: SampleJobSpec['type'], status: SampleJobStatus, more: Partial<SampleJob['metadata']> = {}): SampleJob {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...more },
    spec: { type, sampleSetRef: { name: 'ds' } },
    status: { sampleSetUID: 'ss-uid-1', ...status },
  } as SampleJob;
}
const warmedOn = (nodes: string[]): SampleJobStatus['nodes'] =>
  nodes.map((node, i) => ({ pod: `ds-runtime-${i}`, node, phase: 'Succeeded' }));
const succeeded = (name: string, endMs: number, nodes = ['n0', 'n1']): SampleJob =>
  job(name, 'warmup', { phase: 'Succeeded', completionTime: at(endMs), nodes: warmedOn(nodes) });

function pod(i: number, node: string, createdMs = -60_000, uid = `pod-${i}`): RuntimePod {
  const v1: V1Pod = { metadata: { name: `ds-runtime-${i}`, uid, creationTimestamp: at(createdMs) as unknown as Date } };
  return { pod: v1, name: `ds-runtime-${i}`, ordinal: i, ready: true, nodeName: node, podIP: `10.0.0.${i}`, uid };
}

describe('rewarm plan: which partitions get their shard warmed again', () => {
  describe('rewarmSource', () => {
    it('the warmup that succeeded last, among this SampleSet runs only (same namespace, name and UID)', () => {
      const jobs = [
        succeeded('old', 1000),
        succeeded('new', 5000),
        job('other-uid', 'warmup', { phase: 'Succeeded', completionTime: at(9000), sampleSetUID: 'someone-else' }),
        { ...succeeded('other-ns', 9000), metadata: { name: 'other-ns', namespace: 'elsewhere', uid: 'x' } } as SampleJob,
        job('failed', 'warmup', { phase: 'Failed', completionTime: at(9000) }),
        job('rmr', 'rmr', { phase: 'Succeeded', completionTime: at(9000) }),
      ];
      const s = rewarmSource(ss, jobs);
      expect(s.warmup?.metadata.name).to.equal('new');
    });
    it('none while a warmup or clear of this SampleSet runs; a scheduled parent is not a run', () => {
      expect(rewarmSource(ss, [succeeded('w', 1000), job('c', 'clear', { phase: 'Running' })])).to.deep.equal({
        waiting: 'clear SampleJob c is running',
      });
      const parent = { ...succeeded('p', 0), spec: { type: 'warmup', sampleSetRef: { name: 'ds' }, schedule: '@hourly' } } as SampleJob;
      parent.status = { phase: 'Pending', sampleSetUID: 'ss-uid-1' };
      expect(rewarmSource(ss, [succeeded('w', 1000), parent]).warmup?.metadata.name).to.equal('w');
    });
    it('none after a clear that succeeded later than the warmup (the cache was emptied on purpose)', () => {
      const cleared = job('c', 'clear', { phase: 'Succeeded', completionTime: at(2000) });
      expect(rewarmSource(ss, [succeeded('w', 1000), cleared]).warmup).to.equal(undefined);
      expect(rewarmSource(ss, [succeeded('w', 3000), cleared]).warmup?.metadata.name).to.equal('w');
    });
  });

  describe('rewarmReason', () => {
    const w = succeeded('w', 0);
    it('nothing when the warmup warmed this pod on this node with these partitions', () => {
      expect(rewarmReason(w, T0, pod(1, 'n1'), 2)).to.equal(undefined);
    });
    it('a pod created after the warmup finished (replaced, added or restarted)', () => {
      expect(rewarmReason(w, T0, pod(1, 'n1', 1000), 2)).to.equal('runtime pod ds-runtime-1 started after warmup w finished');
    });
    it('the partitions changed since (the shards moved)', () => {
      expect(rewarmReason(w, T0, pod(0, 'n0'), 3)).to.equal('warmup w ran on 2 partition(s), the SampleSet now has 3');
    });
    it('another node, or its part there did not succeed', () => {
      expect(rewarmReason(w, T0, pod(1, 'n7'), 2)).to.equal('warmup w warmed partition 1 on node n1');
      const partial = job('p', 'warmup', {
        phase: 'Succeeded',
        completionTime: at(0),
        nodes: [
          { pod: 'ds-runtime-0', node: 'n0', phase: 'Succeeded' },
          { pod: 'ds-runtime-1', node: 'n1', phase: 'Removed' },
        ],
      });
      expect(rewarmReason(partial, T0, pod(1, 'n1'), 2)).to.equal('warmup p did not warm partition 1');
    });
  });

  describe('rewarmsWanted', () => {
    it('only the pods that need it, each as its own shard of the current partitions', () => {
      const source = rewarmSource(ss, [succeeded('w', 0)]);
      const wanted = rewarmsWanted(ss, source, [pod(0, 'n0'), pod(1, 'n2', 5000, 'pod-1-new')], 2);
      expect(wanted.map((x) => [x.partition, x.shard, x.shards, x.pod.name])).to.deep.equal([[1, 1, 2, 'ds-runtime-1']]);
      expect(wanted[0].id).to.match(/^rewarm-ssuid1-p1-[0-9a-f]{10}$/);
    });
    it('after a scale-up every pod is warmed again for the new sharding; nothing without a source', () => {
      const source = rewarmSource(ss, [succeeded('w', 0)]);
      const wanted = rewarmsWanted(ss, source, [pod(0, 'n0'), pod(1, 'n1'), pod(2, 'n2', 5000)], 3);
      expect(wanted.map((x) => `${x.shard}/${x.shards}`)).to.deep.equal(['0/3', '1/3', '2/3']);
      expect(rewarmsWanted(ss, {}, [pod(2, 'n2', 5000)], 3)).to.deep.equal([]);
    });
    it('the job id is the same for the same warmup, pod and sharding, and differs when any changes', () => {
      const w = succeeded('w', 0);
      const id = rewarmJobId(ss, w, 'pod-1', 1, 2);
      expect(rewarmJobId(ss, w, 'pod-1', 1, 2)).to.equal(id);
      expect(rewarmJobId(ss, w, 'pod-1b', 1, 2)).to.not.equal(id);
      expect(rewarmJobId(ss, w, 'pod-1', 1, 3)).to.not.equal(id);
      expect(rewarmJobId(ss, succeeded('w2', 0), 'pod-1', 1, 2)).to.not.equal(id);
    });
  });
});
