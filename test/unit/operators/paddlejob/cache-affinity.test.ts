import { expect } from 'chai';
import { mountSampleSet, sampleSetBinding } from '../../../../src/operators/paddlejob/cache-affinity.js';
import type { CacheEngine } from '../../../../src/engines/cache-engine.js';
import { JuiceFsEngine } from '../../../../src/engines/juicefs/juicefs-engine.js';
import { makeSampleSet } from './fixtures.js';

const juicefs = new JuiceFsEngine();

describe('paddlejob cache affinity', () => {
  it("takes the claim, the cache-node label and the runtime pods from the SampleSet's engine (JuiceFS)", () => {
    const b = sampleSetBinding(makeSampleSet('imagenet', 3), '/data', juicefs);
    expect(b).to.deep.equal({
      name: 'imagenet',
      claimName: 'imagenet',
      mountPath: '/data',
      nodeLabelKey: 'paddlepaddle.org/juicefs-imagenet',
      runtimePods: ['imagenet-runtime-0', 'imagenet-runtime-1', 'imagenet-runtime-2'],
    });
  });

  it('takes names from any engine: nothing of JuiceFS is assumed', () => {
    const engine = {
      name: 'other',
      persistentVolumeClaimName: (s: { metadata: { name?: string } }) => `${s.metadata.name}-pvc`,
      nodeLabelKey: () => 'example.org/cache',
      statefulSetName: (s: { metadata: { name?: string } }) => `${s.metadata.name}-rt`,
    } as unknown as CacheEngine;
    const b = sampleSetBinding(makeSampleSet('imagenet', 2, 'Ready', 'ns', 'other'), '/d', engine);
    expect(b.claimName).to.equal('imagenet-pvc');
    expect(b.nodeLabelKey).to.equal('example.org/cache');
    expect(b.runtimePods).to.deep.equal(['imagenet-rt-0', 'imagenet-rt-1']);
  });

  it('prefers the runtime pod names the SampleSet reports in status.nodes', () => {
    const ss = makeSampleSet('a-very-long-sampleset-name', 3);
    ss.status!.nodes = [
      { partition: 1, pod: 'a-very-long-sample-1234abcd-rt-1', node: 'n2' },
      { partition: 0, pod: 'a-very-long-sample-1234abcd-rt-0', node: 'n1' },
    ];
    expect(sampleSetBinding(ss, '/d', juicefs).runtimePods).to.deep.equal([
      'a-very-long-sample-1234abcd-rt-0',
      'a-very-long-sample-1234abcd-rt-1',
      'a-very-long-sampleset-name-runtime-2',
    ]);
  });

  it('mounts the claim once, keeps user volumes, and leaves a user mount at the same path alone', () => {
    const b = sampleSetBinding(makeSampleSet(), '/data', juicefs);
    const spec = mountSampleSet(
      {
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [
          { name: 'a', image: 'a', volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }] },
          { name: 'b', image: 'b', volumeMounts: [{ name: 'scratch', mountPath: '/data' }] },
        ],
      },
      b,
    );
    const again = mountSampleSet(spec, b);
    expect(again.volumes).to.deep.equal([
      { name: 'scratch', emptyDir: {} },
      { name: 'paddle-sampleset', persistentVolumeClaim: { claimName: 'imagenet' } },
    ]);
    expect(again.containers[0].volumeMounts).to.deep.equal([
      { name: 'scratch', mountPath: '/tmp' },
      { name: 'paddle-sampleset', mountPath: '/data' },
    ]);
    expect(again.containers[1].volumeMounts).to.deep.equal([{ name: 'scratch', mountPath: '/data' }]);
  });
});
