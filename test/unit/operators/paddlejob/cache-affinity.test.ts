import { expect } from 'chai';
import type { V1Affinity } from '@kubernetes/client-node';
import { andRequiredNodeAffinity, mountSampleSet, sampleSetBinding } from '../../../../src/operators/paddlejob/cache-affinity.js';
import type { CacheEngine } from '../../../../src/engines/cache-engine.js';
import { JuiceFsEngine } from '../../../../src/engines/juicefs/juicefs-engine.js';
import { makeSampleSet } from './fixtures.js';

const req = { key: 'paddlepaddle.org/juicefs-imagenet', operator: 'In', values: ['imagenet-runtime-0'] };
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

  it('creates one term when the user has none', () => {
    expect(andRequiredNodeAffinity(undefined, req)).to.deep.equal({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [req] }] } },
    });
  });

  it('ANDs the requirement into EVERY user term, never adding an ORed term of its own', () => {
    const user: V1Affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'gpu', operator: 'In', values: ['a100'] }] },
            {
              matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }],
              matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n9'] }],
            },
            { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
          ],
        },
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } },
        ],
      },
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] },
    };
    const before = JSON.stringify(user);
    const out = andRequiredNodeAffinity(user, req);
    const terms = out.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
    expect(terms).to.have.length(3);
    expect(terms[0].matchExpressions).to.deep.equal([{ key: 'gpu', operator: 'In', values: ['a100'] }, req]);
    expect(terms[1].matchExpressions).to.deep.equal([{ key: 'zone', operator: 'In', values: ['z1'] }, req]);
    expect(terms[1].matchFields).to.deep.equal([{ key: 'metadata.name', operator: 'NotIn', values: ['n9'] }]);
    expect(terms[2].matchExpressions).to.deep.equal([req]);
    expect(terms[2].matchFields).to.deep.equal([{ key: 'metadata.name', operator: 'In', values: ['n1'] }]);
    expect(out.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution).to.deep.equal(
      user.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution,
    );
    expect(out.podAntiAffinity).to.deep.equal(user.podAntiAffinity);
    expect(JSON.stringify(user), 'input untouched').to.equal(before);
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
