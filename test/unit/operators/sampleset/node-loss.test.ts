import { expect } from 'chai';
import type { V1Node } from '@kubernetes/client-node';
import {
  findLostPartitions,
  markLost,
  nodeLoss,
  nodesAvailableCondition,
  replacementPlan,
  UNREACHABLE_TAINT,
  type LostPartition,
} from '../../../../src/operators/sampleset/node-loss.js';
import type { RuntimePod } from '../../../../src/operators/shared/runtime-pods.js';

const T0 = Date.parse('2026-12-03T10:00:00Z');

function node(name: string, ready?: 'True' | 'False' | 'Unknown', taint?: string): V1Node {
  return {
    metadata: { name },
    spec: taint ? { taints: [{ key: taint, effect: 'NoExecute' }] } : {},
    status: ready
      ? { conditions: [{ type: 'Ready', status: ready, reason: 'NodeStatusUnknown', lastTransitionTime: new Date(T0 - 60_000) }] }
      : {},
  };
}

const pod = (i: number, nodeName?: string): RuntimePod => ({
  pod: { metadata: { name: `ds-runtime-${i}` } },
  name: `ds-runtime-${i}`,
  ordinal: i,
  ready: true,
  nodeName,
  uid: `u${i}`,
});

describe('sampleset/node-loss', () => {
  describe('nodeLoss', () => {
    it('a Ready node, or one that never reported a Ready condition, is not lost', () => {
      expect(nodeLoss('n', node('n', 'True'))).to.equal(undefined);
      expect(nodeLoss('n', node('n'))).to.equal(undefined);
    });

    it('a deleted node, an unreachable taint, Ready=False or Unknown is lost, with the reason', () => {
      expect(nodeLoss('n', undefined)).to.deep.equal({ reason: 'NodeDeleted', detail: 'node n no longer exists' });
      expect(nodeLoss('n', node('n', 'True', UNREACHABLE_TAINT))?.reason).to.equal('NodeUnreachable');
      expect(nodeLoss('n', node('n', 'False'))?.reason).to.equal('NodeNotReady');
      expect(nodeLoss('n', node('n', 'Unknown'))).to.deep.equal({
        reason: 'NodeNotReady',
        detail: 'node n is Ready=Unknown (NodeStatusUnknown) since 2026-12-03T09:59:00Z',
      });
    });
  });

  describe('findLostPartitions', () => {
    const nodes: Record<string, V1Node> = { a: node('a', 'True'), b: node('b', 'Unknown') };
    const nodeOf = (n: string): V1Node | undefined => nodes[n];

    it('finds the pods on lost nodes (not unscheduled ones), first seen now', () => {
      const lost = findLostPartitions([pod(0, 'a'), pod(1, 'b'), pod(2, 'gone'), pod(3)], nodeOf, undefined, T0);
      expect(lost.map((l) => [l.partition, l.node, l.reason, l.since, l.firstSeen])).to.deep.equal([
        [1, 'b', 'NodeNotReady', '2026-12-03T10:00:00Z', true],
        [2, 'gone', 'NodeDeleted', '2026-12-03T10:00:00Z', true],
      ]);
    });

    it('keeps the time status showed for the same pod on the same node (a restart does not reset it), not for another node', () => {
      const shown = [
        { partition: 1, pod: 'ds-runtime-1', node: 'b', nodeLostSince: '2026-12-03T09:00:00Z' },
        { partition: 2, pod: 'ds-runtime-2', node: 'other', nodeLostSince: '2026-12-03T09:00:00Z' },
      ];
      const lost = findLostPartitions([pod(1, 'b'), pod(2, 'gone')], nodeOf, shown, T0);
      expect(lost.map((l) => [l.since, l.firstSeen])).to.deep.equal([
        ['2026-12-03T09:00:00Z', false],
        ['2026-12-03T10:00:00Z', true],
      ]);
    });
  });

  describe('replacementPlan', () => {
    const lost = (reason: LostPartition['reason'], since: string, partition = 1): LostPartition => ({
      reason,
      detail: 'x',
      partition,
      pod: `ds-runtime-${partition}`,
      node: 'b',
      since,
      firstSeen: false,
    });

    it('without a policy nothing is ever replaced, not even on a deleted node', () => {
      expect(
        replacementPlan([lost('NodeNotReady', '2020-01-01T00:00:00Z'), lost('NodeDeleted', '2020-01-01T00:00:00Z')], undefined, T0),
      ).to.deep.equal({
        due: [],
      });
      expect(replacementPlan([lost('NodeNotReady', '2020-01-01T00:00:00Z')], {}, T0)).to.deep.equal({ due: [] });
    });

    it('replaces once replaceAfterSeconds have passed since the loss was seen, and says when the next one is due', () => {
      const early = lost('NodeNotReady', '2026-12-03T09:59:58Z', 1);
      const later = lost('NodeUnreachable', '2026-12-03T09:59:57Z', 2);
      expect(replacementPlan([early, later], { replaceAfterSeconds: 5 }, T0)).to.deep.equal({ due: [], nextInMs: 2000 });
      expect(replacementPlan([early, later], { replaceAfterSeconds: 5 }, T0 + 2000)).to.deep.equal({ due: [later], nextInMs: 1000 });
      expect(replacementPlan([early, later], { replaceAfterSeconds: 5 }, T0 + 3000).due).to.deep.equal([early, later]);
    });

    it('a deleted Node counts at once', () => {
      const gone = lost('NodeDeleted', '2026-12-03T10:00:00Z');
      expect(replacementPlan([gone], { replaceAfterSeconds: 3600 }, T0).due).to.deep.equal([gone]);
    });
  });

  describe('status', () => {
    const l: LostPartition = {
      reason: 'NodeNotReady',
      detail: 'node b is Ready=Unknown',
      partition: 1,
      pod: 'ds-runtime-1',
      node: 'b',
      since: '2026-12-03T10:00:00Z',
      firstSeen: true,
    };

    it('CacheNodesAvailable: True without losses, False NodeLost naming partition, pod, node and what happens next', () => {
      expect(nodesAvailableCondition([], undefined).status).to.equal('True');
      const c = nodesAvailableCondition([l], undefined);
      expect(c).to.include({ status: 'False', reason: 'NodeLost' });
      expect(c.message).to.match(/^partition 1 \(pod ds-runtime-1\) on node b: node b is Ready=Unknown, lost since 2026-12-03T10:00:00Z; /);
      expect(c.message).to.include('not replaced automatically');
      expect(nodesAvailableCondition([l], { replaceAfterSeconds: 30 }).message).to.include('replaced 30s after');
    });

    it('the node entry: not ready, why, since when', () => {
      expect(markLost({ partition: 1, pod: 'ds-runtime-1', node: 'b', ready: true, cacheHits: 3 }, l)).to.deep.equal({
        partition: 1,
        pod: 'ds-runtime-1',
        node: 'b',
        ready: false,
        cacheHits: 3,
        message: 'node lost: node b is Ready=Unknown',
        nodeLostSince: '2026-12-03T10:00:00Z',
      });
    });
  });
});
