import { expect } from 'chai';
import type { SampleJobNodeStatus } from '../../../../src/api/samplejob.js';
import {
  decideNode,
  jobPhaseOf,
  nodeFailureMessage,
  nodeFailureReason,
  type NodeContext,
  type TrackView,
} from '../../../../src/operators/samplejob/run-state.js';

const NOW = 1_000_000;
const readyPod = { name: 'ds-runtime-0', uid: 'pod-a', ready: true, podIP: '10.0.0.1', nodeName: 'n1' };

function ctx(entry: Partial<SampleJobNodeStatus>, more: Partial<NodeContext> = {}): NodeContext {
  return { entry: { pod: 'ds-runtime-0', ...entry }, pod: readyPod, now: NOW, maxAttempts: 3, podWaitTimeoutMs: 60_000, ...more };
}
function track(t: Partial<TrackView>): TrackView {
  return { unknown: false, submitPending: false, submitFailures: 0, podUid: 'pod-a', ...t };
}

describe('samplejob run state', () => {
  describe('decideNode', () => {
    it('submits a never-submitted node as soon as its pod is ready', () => {
      expect(decideNode(ctx({ attempts: 0 }))).to.deep.equal({ action: 'submit', resubmit: false });
    });
    it('waits for a pod that is not ready, and fails after the wait deadline', () => {
      const notReady = { ...readyPod, ready: false };
      expect(decideNode(ctx({ attempts: 0 }, { pod: notReady }))).to.include({ action: 'observe', phase: 'Waiting', waiting: true });
      expect(decideNode(ctx({ attempts: 0 }, { pod: undefined, waitingSince: NOW - 10_000 }))).to.include({ action: 'observe' });
      expect(decideNode(ctx({ attempts: 0 }, { pod: undefined, waitingSince: NOW - 61_000 }))).to.include({
        action: 'fail',
        reason: 'RuntimeUnavailable',
      });
    });
    it('is done with terminal nodes', () => {
      expect(decideNode(ctx({ attempts: 1, phase: 'Succeeded' }))).to.deep.equal({ action: 'done' });
      expect(decideNode(ctx({ attempts: 1, phase: 'Failed' }))).to.deep.equal({ action: 'done' });
    });
    it('follows a submitted node it does not track yet (operator restart)', () => {
      expect(decideNode(ctx({ attempts: 1, phase: 'Running' }))).to.deep.equal({ action: 'track' });
    });
    it('reports the runtime state of a tracked node', () => {
      const st = { id: 'j', type: 'warmup' as const, status: 'running' as const, progress: { filesDone: 3, filesTotal: 9 } };
      expect(decideNode(ctx({ attempts: 1, phase: 'Pending' }, { track: track({ state: st }) }))).to.deep.equal({
        action: 'observe',
        phase: 'Running',
        message: undefined,
        progress: { filesDone: 3, filesTotal: 9 },
      });
      expect(decideNode(ctx({ attempts: 1 }, { track: track({ state: { ...st, status: 'succeeded' } }) }))).to.include({
        action: 'observe',
        phase: 'Succeeded',
      });
    });
    it('turns a runtime failure or cancellation into a node failure with a reason', () => {
      const st = { id: 'j', type: 'rmr' as const, status: 'failed' as const, message: 'juicefs exited with 1' };
      expect(decideNode(ctx({ attempts: 1 }, { track: track({ state: st }) }))).to.deep.equal({
        action: 'fail',
        reason: 'JobFailed',
        message: 'juicefs exited with 1',
      });
      expect(decideNode(ctx({ attempts: 1 }, { track: track({ state: { ...st, status: 'cancelled', message: undefined } }) }))).to.include({
        action: 'fail',
        reason: 'Cancelled',
      });
      expect(
        decideNode(ctx({ attempts: 1 }, { track: track({ state: { ...st, message: 'rm: "/link/x" resolves outside its root' } }) })),
      ).to.include({ action: 'fail', reason: 'UnsafePath' });
      expect(
        decideNode(
          ctx(
            { attempts: 1 },
            { track: track({ state: { ...st, message: 'refused: "a/b": "a" is a symlink on the way (rmr never follows a symlink)' } }) },
          ),
        ),
      ).to.include({ action: 'fail', reason: 'UnsafePath' });
    });
    it('resubmits a run its pod lost (unknown job) while attempts remain', () => {
      expect(decideNode(ctx({ attempts: 1 }, { track: track({ unknown: true }) }))).to.include({ action: 'submit', resubmit: true });
      expect(decideNode(ctx({ attempts: 2 }, { track: track({ unknown: true }) }))).to.include({ action: 'submit', resubmit: true });
    });
    it('after a pod replacement, resubmits once the runtime there does not know the job, waiting for the pod to be ready', () => {
      const replaced = { ...readyPod, uid: 'pod-b' };
      // the old process may still answer on a reused address: its word counts until it says otherwise
      expect(
        decideNode(
          ctx(
            { attempts: 1, phase: 'Running' },
            { pod: replaced, track: track({ state: { id: 'j', type: 'warmup', status: 'running' } }) },
          ),
        ),
      ).to.include({ action: 'observe', phase: 'Running' });
      expect(decideNode(ctx({ attempts: 1 }, { pod: replaced, track: track({ unknown: true }) }))).to.include({
        action: 'submit',
        resubmit: true,
      });
      expect(decideNode(ctx({ attempts: 1 }, { pod: { ...replaced, ready: false }, track: track({ unknown: true }) }))).to.include({
        action: 'observe',
        waiting: true,
      });
    });
    it("treats a job the runtime cancelled while shutting down as lost (resubmit), not as the user's cancel", () => {
      const st = { id: 'j', type: 'warmup' as const, status: 'cancelled' as const, message: 'runtime shutting down before it started' };
      expect(decideNode(ctx({ attempts: 1 }, { track: track({ state: st }) }))).to.include({ action: 'submit', resubmit: true });
      expect(decideNode(ctx({ attempts: 3 }, { track: track({ state: st }) }))).to.include({ action: 'fail', reason: 'RuntimeLost' });
    });
    it('fails with RuntimeLost after maxAttempts submissions to the pod', () => {
      const s = decideNode(ctx({ attempts: 3 }, { track: track({ unknown: true }) }));
      expect(s).to.include({ action: 'fail', reason: 'RuntimeLost' });
    });
    it('retries a failed POST (same attempt) until the deadline, then fails as unreachable', () => {
      expect(
        decideNode(ctx({ attempts: 1 }, { track: track({ submitPending: true, submitError: 'ECONNREFUSED' }), waitingSince: NOW - 1000 })),
      ).to.deep.equal({ action: 'retry-submit' });
      expect(
        decideNode(
          ctx({ attempts: 1 }, { track: track({ submitPending: true, submitError: 'ECONNREFUSED' }), waitingSince: NOW - 70_000 }),
        ),
      ).to.include({
        action: 'fail',
        reason: 'RuntimeUnreachable',
      });
    });
    it('keeps a node whose poll errors briefly, and fails it when the runtime stays unreachable', () => {
      const st = { id: 'j', type: 'warmup' as const, status: 'running' as const };
      expect(
        decideNode(ctx({ attempts: 1, phase: 'Running' }, { track: track({ state: st, error: 'ECONNRESET', errorSince: NOW - 1000 }) })),
      ).to.include({ action: 'observe', phase: 'Running' });
      expect(
        decideNode(ctx({ attempts: 1, phase: 'Running' }, { track: track({ state: st, error: 'ECONNRESET', errorSince: NOW - 61_000 }) })),
      ).to.include({ action: 'fail', reason: 'RuntimeUnreachable' });
    });
  });

  describe('jobPhaseOf', () => {
    const n = (pod: string, phase: string, message?: string): SampleJobNodeStatus => ({ pod, phase, message, attempts: 1 });
    it('is Pending until a node runs', () => {
      expect(jobPhaseOf([n('a', 'Pending'), n('b', 'Waiting')]).phase).to.equal('Pending');
      expect(jobPhaseOf([n('a', 'Waiting')]).reason).to.equal('WaitingForRuntime');
    });
    it('is Running while any node runs or some have finished', () => {
      expect(jobPhaseOf([n('a', 'Running'), n('b', 'Pending')]).phase).to.equal('Running');
      expect(jobPhaseOf([n('a', 'Succeeded'), n('b', 'Pending')]).phase).to.equal('Running');
      expect(jobPhaseOf([n('a', 'Failed'), n('b', 'Running')]).phase).to.equal('Running');
    });
    it('is Succeeded when all nodes succeeded', () => {
      expect(jobPhaseOf([n('a', 'Succeeded'), n('b', 'Succeeded')])).to.include({ phase: 'Succeeded', reason: 'Succeeded' });
    });
    it('is Failed once all nodes are terminal and one failed, with the most specific reason', () => {
      const lost = n('b', 'Failed', nodeFailureMessage('RuntimeLost', 'pod b lost the job 3 times'));
      expect(nodeFailureReason(lost)).to.equal('RuntimeLost');
      const r = jobPhaseOf([n('a', 'Failed', 'juicefs: exit 1'), lost]);
      expect(r).to.include({ phase: 'Failed', reason: 'RuntimeLost' });
      expect(r.message).to.contain('a: juicefs: exit 1').and.to.contain('b: RuntimeLost: pod b lost');
      expect(jobPhaseOf([n('a', 'Succeeded'), n('b', 'Failed', 'Cancelled: by terminate')]).reason).to.equal('Cancelled');
      expect(jobPhaseOf([n('a', 'Failed', 'boom')]).reason).to.equal('JobFailed');
    });
  });
});
