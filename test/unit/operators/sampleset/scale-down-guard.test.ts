import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import {
  FORCE_SCALE_DOWN_ANNOTATION,
  scaleDownBlockers,
  scaleDownMessage,
  type ScaleDownInput,
} from '../../../../src/operators/sampleset/scale-down-guard.js';
import type { RuntimePod } from '../../../../src/operators/shared/runtime-pods.js';

const pod = (name: string, node: string, claim: string | undefined, phase = 'Running', ns = 'ns'): V1Pod => ({
  metadata: { name, namespace: ns },
  spec: { nodeName: node, containers: [], volumes: claim ? [{ name: 'd', persistentVolumeClaim: { claimName: claim } }] : [] },
  status: { phase },
});
const runtime = (i: number): RuntimePod => ({
  pod: pod(`ds-runtime-${i}`, `n${i}`, 'ds'),
  name: `ds-runtime-${i}`,
  ordinal: i,
  ready: true,
  nodeName: `n${i}`,
});

describe('sampleset/scale-down-guard', () => {
  const base: ScaleDownInput = {
    namespace: 'ns',
    claimName: 'ds',
    pods: [],
    runtimePods: [runtime(0), runtime(1), runtime(2)],
    partitions: 1,
  };

  it('waits for running pods that mount the claim on the nodes of the removed partitions only', () => {
    const pods = [
      pod('on-kept-node', 'n0', 'ds'),
      pod('on-removed', 'n2', 'ds'),
      pod('other-claim', 'n1', 'other'),
      pod('no-claim', 'n1', undefined),
      pod('finished', 'n1', 'ds', 'Succeeded'),
      pod('other-ns', 'n1', 'ds', 'Running', 'elsewhere'),
      ...base.runtimePods.map((r) => r.pod),
    ];
    expect(scaleDownBlockers({ ...base, pods }).map((u) => u.pod)).to.deep.equal(['on-removed']);
  });

  it('nothing waits when nothing is removed, or when the annotation forces it', () => {
    const pods = [pod('user', 'n2', 'ds')];
    expect(scaleDownBlockers({ ...base, pods, partitions: 3 })).to.deep.equal([]);
    expect(scaleDownBlockers({ ...base, pods, annotations: { [FORCE_SCALE_DOWN_ANNOTATION]: 'True' } })).to.deep.equal([]);
  });

  it('says what waits and how to force it', () => {
    const m = scaleDownMessage(3, 1, [{ pod: 'w-0', owner: { kind: 'PaddleJob', name: 'train' } }]);
    expect(m).to.contain('scaling from 3 to 1 partitions waits for pod w-0 (PaddleJob train)');
    expect(m).to.contain(`${FORCE_SCALE_DOWN_ANNOTATION}: "true"`);
  });
});
