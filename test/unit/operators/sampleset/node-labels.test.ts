import { expect } from 'chai';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { desiredNodeLabels, diffNodeLabels } from '../../../../src/operators/sampleset/node-labels.js';
import type { RuntimePod } from '../../../../src/operators/shared/runtime-pods.js';

const KEY = 'paddlepaddle.org/juicefs-imagenet';
const rp = (ordinal: number, node: string | undefined, opts: { phase?: string; deleting?: boolean } = {}): RuntimePod => {
  const name = `imagenet-runtime-${ordinal}`;
  const pod: V1Pod = {
    metadata: { name, deletionTimestamp: opts.deleting ? new Date() : undefined },
    spec: { nodeName: node, containers: [] },
    status: { phase: opts.phase ?? 'Running' },
  };
  return { pod, name, ordinal, ready: true, nodeName: node };
};
const node = (name: string, value?: string): V1Node => ({ metadata: { name, labels: value === undefined ? {} : { [KEY]: value } } });

describe('sampleset/node-labels', () => {
  it('labels the node of each partition pod with the pod name', () => {
    const d = desiredNodeLabels([rp(0, 'n0'), rp(1, 'n1')], 2);
    expect([...d]).to.deep.equal([
      ['n0', 'imagenet-runtime-0'],
      ['n1', 'imagenet-runtime-1'],
    ]);
  });

  it('skips pods beyond partitions, unscheduled, not running or terminating pods; lower ordinal wins a shared node', () => {
    const d = desiredNodeLabels(
      [rp(2, 'n2'), rp(1, 'n0'), rp(0, 'n0'), rp(3, undefined), rp(4, 'n4', { phase: 'Pending' }), rp(5, 'n5', { deleting: true })],
      10,
    );
    expect([...d]).to.deep.equal([
      ['n0', 'imagenet-runtime-0'],
      ['n2', 'imagenet-runtime-2'],
    ]);
    expect([...desiredNodeLabels([rp(0, 'n0'), rp(1, 'n1')], 1)]).to.deep.equal([['n0', 'imagenet-runtime-0']]);
  });

  it('sets missing and wrong labels and removes stale ones', () => {
    const nodes = [node('n0'), node('n1', 'imagenet-runtime-0'), node('n2', 'imagenet-runtime-2'), node('n3')];
    const desired = new Map([
      ['n0', 'imagenet-runtime-0'],
      ['n1', 'imagenet-runtime-1'],
    ]);
    expect(diffNodeLabels(KEY, nodes, desired)).to.deep.equal({
      set: [
        { node: 'n0', value: 'imagenet-runtime-0' },
        { node: 'n1', value: 'imagenet-runtime-1' },
      ],
      remove: ['n2'],
    });
  });

  it('changes nothing when the labels are right', () => {
    const nodes = [node('n0', 'imagenet-runtime-0'), node('n1')];
    expect(diffNodeLabels(KEY, nodes, new Map([['n0', 'imagenet-runtime-0']]))).to.deep.equal({ set: [], remove: [] });
  });

  it('ignores desired nodes that do not exist', () => {
    expect(diffNodeLabels(KEY, [node('n0')], new Map([['gone', 'imagenet-runtime-0']]))).to.deep.equal({ set: [], remove: [] });
  });

  it('never removes or overwrites labels another SampleSet with the same key wants', () => {
    const nodes = [node('n0', 'imagenet-runtime-1'), node('n1', 'imagenet-runtime-0')];
    const others = new Map([
      ['n0', 'imagenet-runtime-1'],
      ['n1', 'imagenet-runtime-0'],
    ]);
    expect(diffNodeLabels(KEY, nodes, new Map([['n0', 'imagenet-runtime-0']]), others)).to.deep.equal({ set: [], remove: [] });
  });
});
