import { expect } from 'chai';
import type { SampleJob, SampleJobNodeStatus } from '../../../../src/api/samplejob.js';
import type { RuntimePod } from '../../../../src/operators/shared/runtime-pods.js';
import { applySteps, initialNodes, nextLookMs } from '../../../../src/operators/samplejob/run-nodes.js';
import {
  announcement,
  failedStatus,
  rerunPatch,
  runStatus,
  significantChange,
  waitingStatus,
} from '../../../../src/operators/samplejob/run-status.js';

/** The pure parts of a SampleJob run's pass: its nodes, its status and the Events it announces. */
describe('SampleJob run (pure parts)', () => {
  const NOW = Date.parse('2026-01-01T00:00:00Z');
  const job = (status: SampleJob['status'] = {}): SampleJob =>
    ({
      metadata: { name: 'j', namespace: 'ns', generation: 2 },
      spec: { type: 'warmup', sampleSetRef: { name: 'ds' } },
      status,
    }) as SampleJob;
  const pod = (i: number, ready = true): RuntimePod => ({
    pod: {},
    name: `ds-runtime-${i}`,
    ordinal: i,
    ready,
    podIP: `10.0.0.${i}`,
    nodeName: `n${i}`,
  });

  it('initialNodes: every partition for fan-out all; the ready ordinal 0 (else another ready pod) for one', () => {
    expect(initialNodes('all', 2, 'ds-runtime', []).map((n) => n.pod)).to.deep.equal(['ds-runtime-0', 'ds-runtime-1']);
    expect(initialNodes('one', 2, 'ds-runtime', [pod(0, false), pod(1)])[0].pod).to.equal('ds-runtime-1');
    expect(initialNodes('one', 2, 'ds-runtime', [])[0]).to.deep.equal({ pod: 'ds-runtime-0', phase: 'Waiting', attempts: 0 });
  });

  it('applySteps: a submission counts an attempt, a failure is recorded, a resubmission and a busy runtime are announced', () => {
    const nodes: SampleJobNodeStatus[] = [
      { pod: 'ds-runtime-0', phase: 'Waiting', attempts: 0 },
      { pod: 'ds-runtime-1', phase: 'Running', attempts: 1 },
      { pod: 'ds-runtime-2', phase: 'Pending', attempts: 1 },
    ];
    const byName = new Map([pod(0), pod(1), pod(2)].map((p) => [p.name, p]));
    const out = applySteps(
      nodes,
      [
        { action: 'submit', resubmit: true, message: 'the runtime lost the run' },
        { action: 'fail', reason: 'RuntimeLost', message: 'gone' },
        { action: 'observe', phase: 'Pending', busy: true, message: 'RuntimeBusy: queue full', waiting: false },
      ],
      byName,
      () => undefined,
    );
    expect(nodes[0]).to.deep.include({ attempts: 1, phase: 'Pending', node: 'n0' });
    expect(nodes[1].phase).to.equal('Failed');
    expect(out.events.map((e) => e.reason)).to.deep.equal(['Resubmitted', 'RuntimeBusy']);
    expect(out.progressOf.get('ds-runtime-1')?.phase).to.equal('Failed');
  });

  it('runStatus and significantChange: progress alone is not significant, a phase change is', () => {
    const nodes: SampleJobNodeStatus[] = [{ pod: 'ds-runtime-0', phase: 'Running', attempts: 1 }];
    const a = runStatus({
      job: job(),
      jobId: 'id',
      specHash: 'h',
      fresh: true,
      nodes,
      progressOf: new Map([['ds-runtime-0', { phase: 'Running', progress: { filesDone: 1, filesTotal: 4 } }]]),
      now: NOW,
    });
    expect(a).to.deep.include({
      phase: 'Running',
      jobName: 'id',
      specHash: 'h',
      attempts: 1,
      observedGeneration: 2,
      startTime: '2026-01-01T00:00:00Z',
    });
    const b = runStatus({
      job: job(a),
      jobId: 'id',
      specHash: 'h',
      fresh: false,
      nodes,
      progressOf: new Map([['ds-runtime-0', { phase: 'Running', progress: { filesDone: 2, filesTotal: 4 } }]]),
      now: NOW + 1000,
    });
    expect(significantChange(a, b)).to.equal(false);
    expect(significantChange(a, { ...b, phase: 'Succeeded' })).to.equal(true);
  });

  it('announcement: one Event per phase change, none without one', () => {
    const next = {
      phase: 'Failed' as const,
      conditions: [{ type: 'Succeeded', status: 'False' as const, reason: 'RuntimeLost', message: 'gone' }],
    };
    expect(announcement(job(), 'Running', next)).to.deep.equal({
      type: 'Warning',
      reason: 'RuntimeLost',
      message: 'Warmup job failed: gone',
    });
    expect(announcement(job(), 'Failed', next)).to.equal(undefined);
  });

  it('failed, waiting and re-run statuses', () => {
    const f = failedStatus(
      job({
        jobName: 'id',
        nodes: [
          { pod: 'p', phase: 'Running' },
          { pod: 'q', phase: 'Succeeded' },
        ],
      }),
      'h',
      'SampleSetNotFound',
      'gone',
      NOW,
    );
    expect(f).to.deep.include({ phase: 'Failed', specHash: 'h', jobName: 'id', completionTime: '2026-01-01T00:00:00Z' });
    expect(f.nodes?.map((n) => n.phase)).to.deep.equal(['Failed', 'Succeeded']);
    const w = waitingStatus(job(), 'SampleSetNotReady', 'waiting', NOW);
    expect(w.changed).to.equal(true);
    expect(waitingStatus(job(w.status), 'SampleSetNotReady', 'waiting', NOW + 1000).changed).to.equal(false);
    expect(rerunPatch(job(), NOW)).to.deep.include({ phase: '', jobName: null, nodes: null });
  });

  it('nextLookMs: the earliest of the resync, a throttled write, a pod wait deadline and a submission retry; 2 s without a token', () => {
    const nodes: SampleJobNodeStatus[] = [{ pod: 'a' }, { pod: 'b' }];
    const base = {
      nodes,
      now: NOW,
      resyncMs: 60_000,
      podWaitTimeoutMs: 10_000,
      noToken: false,
      waitingSince: () => undefined,
      tracked: () => undefined,
    };
    expect(nextLookMs(base)).to.equal(60_000);
    expect(nextLookMs({ ...base, throttledMs: 300 })).to.equal(300);
    expect(nextLookMs({ ...base, waitingSince: (p) => (p === 'b' ? NOW - 4_000 : undefined) })).to.equal(6_100);
    expect(nextLookMs({ ...base, tracked: () => ({ submitPending: true, submitting: false, nextSubmitAt: NOW + 50 }) })).to.equal(50);
    expect(nextLookMs({ ...base, noToken: true })).to.equal(2000);
  });
});
