import { expect } from 'chai';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import {
  canonicalJson,
  formatProgress,
  hashOfSyncId,
  submitRetry,
  syncSubmitBackoff,
  syncIdFor,
  syncJobStatusFrom,
  syncSpecHash,
} from '../../../../src/operators/sampleset/sync.js';
import { phaseOfRuntimeJob } from '../../../../src/operators/shared/runtime-job-phase.js';

const ss = (over: Partial<SampleSet['spec']> = {}, status?: SampleSet['status'], generation = 1): SampleSet => ({
  apiVersion: 'batch.paddlepaddle.org/v1alpha1',
  kind: 'SampleSet',
  metadata: { name: 'imagenet', namespace: 'ml', uid: '3f2a9c1e-0000-4000-8000-000000000001', generation },
  spec: { partitions: 2, secretRef: { name: 'jfs' }, source: { uri: 's3://bucket/prefix/', secretRef: { name: 'src' } }, ...over },
  status,
});

describe('sampleset/sync', () => {
  it('hashes canonically (key order and defaults do not matter)', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] })).to.equal('{"a":[1,{"d":2}],"b":1}');
    const a = ss();
    const b = ss({
      secretRef: { name: 'jfs', namespace: 'ml' },
      source: { secretRef: { namespace: 'ml', name: 'src' }, uri: 's3://bucket/prefix/' },
    });
    expect(syncSpecHash(a)).to.equal(syncSpecHash(b));
  });

  it('changes the hash only with sync-relevant fields', () => {
    const base = syncSpecHash(ss());
    expect(syncSpecHash(ss({ partitions: 5, noSync: false }))).to.equal(base);
    expect(syncSpecHash(ss({ source: { uri: 's3://other/prefix/', secretRef: { name: 'src' } } }))).to.not.equal(base);
    expect(syncSpecHash(ss({ source: { uri: 's3://bucket/prefix/', secretRef: { name: 'src2' } } }))).to.not.equal(base);
  });

  it('derives a deterministic id from uid, generation and hash', () => {
    const id = syncIdFor(ss({}, undefined, 3));
    expect(id).to.match(/^sync-3f2a9c1e-g3-[0-9a-f]{10}$/);
    expect(syncIdFor(ss({}, undefined, 3))).to.equal(id);
    expect(hashOfSyncId(id)).to.equal(syncSpecHash(ss()));
    expect(hashOfSyncId('foreign')).to.equal(undefined);
  });

  it('keeps the id in status while the sync-relevant spec is unchanged (restart → same id)', () => {
    const id = syncIdFor(ss({}, undefined, 1));
    // a later generation (e.g. partitions changed) keeps the recorded id
    expect(syncIdFor(ss({ partitions: 3 }, { syncJob: { id, phase: 'Running' } }, 2))).to.equal(id);
  });

  it('gives a new id when the source changes, and again when it changes back (a retry)', () => {
    const id1 = syncIdFor(ss({}, undefined, 1));
    const changed = ss({ source: { uri: 's3://fixed/', secretRef: { name: 'src' } } }, { syncJob: { id: id1, phase: 'Failed' } }, 2);
    const id2 = syncIdFor(changed);
    expect(id2).to.not.equal(id1);
    const back = ss({}, { syncJob: { id: id2, phase: 'Failed' } }, 3);
    const id3 = syncIdFor(back);
    expect(id3).to.not.equal(id1);
    expect(hashOfSyncId(id3)).to.equal(hashOfSyncId(id1));
  });

  it('maps runtime states to sync phases (the shared runtime-job phase)', () => {
    expect(phaseOfRuntimeJob('pending')).to.equal('Pending');
    expect(phaseOfRuntimeJob('running')).to.equal('Running');
    expect(phaseOfRuntimeJob('succeeded')).to.equal('Succeeded');
    expect(phaseOfRuntimeJob('failed')).to.equal('Failed');
    expect(phaseOfRuntimeJob('cancelled')).to.equal('Failed');
  });

  it('formats progress', () => {
    expect(formatProgress(undefined)).to.equal('');
    expect(formatProgress({ filesDone: 120, filesTotal: 300, bytesDone: 1.2 * 1024 ** 2, bytesTotal: 4 * 1024 ** 2 })).to.equal(
      '120/300 files, 1.2 MiB/4.0 MiB (30.0%)',
    );
    expect(formatProgress({ filesDone: 1500 })).to.equal('1,500 files');
    expect(formatProgress({ filesDone: 1, filesTotal: 4 })).to.equal('1/4 files (25.0%)');
  });

  it('builds status.syncJob from a runtime state', () => {
    const now = '2025-01-01T00:00:00Z';
    const running = syncJobStatusFrom(
      undefined,
      'id1',
      { id: 'id1', type: 'sync', status: 'running', progress: { filesDone: 1, filesTotal: 2 } },
      now,
    );
    expect(running).to.deep.equal({ id: 'id1', phase: 'Running', startTime: now, message: '1/2 files (50.0%)' });
    const failed = syncJobStatusFrom(
      running,
      'id1',
      { id: 'id1', type: 'sync', status: 'failed', message: 'bucket does not exist' },
      '2025-01-01T00:01:00Z',
    );
    expect(failed).to.deep.equal({
      id: 'id1',
      phase: 'Failed',
      startTime: now,
      message: 'bucket does not exist',
      completionTime: '2025-01-01T00:01:00Z',
    });
    const cancelled = syncJobStatusFrom(undefined, 'id1', { id: 'id1', type: 'sync', status: 'cancelled' }, now);
    expect(cancelled.phase).to.equal('Failed');
    expect(cancelled.message).to.match(/cancelled/);
  });
});

describe('initial sync submission retries', () => {
  it('a full runtime queue waits for Retry-After (bounded) and is not a failure', () => {
    const r = submitRetry({ busy: true, retryAfterMs: 7000, queueLimit: 100, message: 'x' }, 25, 'ds-runtime-0', 500);
    expect(r).to.include({ reason: 'RuntimeBusy', retryMs: 7000, countsAsFailure: false });
    expect(r.message).to.equal('runtime pod ds-runtime-0 has a full job queue (100 pending); the sync is submitted again in 7 s');
    expect(submitRetry({ busy: true, message: 'x' }, 0, 'p', 500).retryMs).to.equal(5000);
    expect(submitRetry({ busy: true, retryAfterMs: 3_600_000, message: 'x' }, 0, 'p', 500).retryMs).to.equal(60_000);
  });

  it('other failures poll briefly, then back off, and name the cause', () => {
    const first = submitRetry({ busy: false, message: 'connection refused' }, 0, 'p', 500);
    expect(first).to.include({ reason: 'SyncSubmitFailed', retryMs: 500, countsAsFailure: true });
    expect(first.message).to.match(/connection refused$/);
    expect(submitRetry({ busy: false, message: 'x' }, 21, 'p', 500).retryMs).to.equal(2000);
    expect(submitRetry({ busy: false, message: 'x' }, 100, 'p', 500).retryMs).to.equal(30_000);
  });

  it("are the runtime job watcher's backoff for the sync (the same waits)", () => {
    const backoff = syncSubmitBackoff(500);
    expect(backoff({ busy: true, retryAfterMs: 7000, refusals: 3, failures: 25, message: 'x' })).to.equal(7000);
    expect(backoff({ busy: true, refusals: 1, failures: 0, message: 'x' })).to.equal(5000);
    // `failures` counts this one: the 22nd failure waits as submitRetry's after 21
    expect(backoff({ busy: false, refusals: 0, failures: 1, message: 'x' })).to.equal(500);
    expect(backoff({ busy: false, refusals: 0, failures: 22, message: 'x' })).to.equal(
      submitRetry({ busy: false, message: 'x' }, 21, 'p', 500).retryMs,
    );
  });
});
