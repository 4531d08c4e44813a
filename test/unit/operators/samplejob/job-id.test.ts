import { expect } from 'chai';
import type { SampleJob, SampleJobSpec } from '../../../../src/api/samplejob.js';
import { canonicalJson, jobId, jobIdOf, specHash } from '../../../../src/operators/samplejob/job-id.js';

const spec = (over: Partial<SampleJobSpec> = {}): SampleJobSpec => ({
  type: 'rmr',
  sampleSetRef: { name: 'ds' },
  rmrOptions: { paths: ['/a'] },
  ...over,
});

function job(name = 'clean-a', uid = 'u-1', generation = 1, s = spec()): SampleJob {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleJob',
    metadata: { name, uid, generation, namespace: 'ns' },
    spec: s,
  };
}

describe('samplejob run id', () => {
  it('canonical JSON ignores key order and undefined members', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined, b: 'x' }] })).to.equal('{"a":[1,{"b":"x","d":2}],"b":1}');
  });
  it('hashes the spec stably regardless of key order', () => {
    const a = specHash({ type: 'rmr', sampleSetRef: { name: 'ds' }, rmrOptions: { paths: ['/a'] } });
    const b = specHash({ rmrOptions: { paths: ['/a'] }, sampleSetRef: { name: 'ds' }, type: 'rmr' });
    expect(a)
      .to.equal(b)
      .and.to.match(/^[0-9a-f]{16}$/);
  });
  it('changes the hash when the work changes, not when only schedule fields do', () => {
    const base = specHash(spec());
    expect(specHash(spec({ rmrOptions: { paths: ['/b'] } }))).to.not.equal(base);
    expect(specHash(spec({ terminate: true }))).to.not.equal(base);
    expect(
      specHash(
        spec({
          suspend: true,
          concurrencyPolicy: 'Forbid',
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 1,
          startingDeadlineSeconds: 5,
        }),
      ),
    ).to.equal(base);
  });
  it('derives the same id for the same (uid, spec hash, generation) — a retried reconcile reuses it', () => {
    expect(jobIdOf(job())).to.equal(jobIdOf(job()));
    expect(jobIdOf(job())).to.match(/^clean-a-[0-9a-f]{20}$/);
  });
  it('derives a different id for another object, another spec, or another generation (a rerun)', () => {
    const base = jobIdOf(job());
    expect(jobIdOf(job('clean-a', 'u-2'))).to.not.equal(base);
    expect(jobIdOf(job('clean-a', 'u-1', 1, spec({ rmrOptions: { paths: ['/b'] } })))).to.not.equal(base);
    expect(jobIdOf(job('clean-a', 'u-1', 3))).to.not.equal(base);
  });
  it('produces ids the runtime accepts (URL and file-name safe, bounded length)', () => {
    const id = jobId('My.Job_With.Dots-' + 'x'.repeat(300), 'uid', 'hash', 1);
    expect(id).to.match(/^[a-z0-9][a-z0-9-]*$/);
    expect(id.length).to.be.at.most(61);
    expect(jobId('...', 'uid', 'hash', 1)).to.match(/^[0-9a-f]{20}$/);
  });
});
