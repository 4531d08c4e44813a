import { expect } from 'chai';
import { jsonEqual, mergePatch } from '../../../src/kube/merge-patch.js';

describe('sampleset/status-diff', () => {
  it('compares JSON deeply, ignoring undefined members', () => {
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).to.equal(true);
    expect(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).to.equal(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).to.equal(false);
    expect(jsonEqual({ a: 1 }, { a: '1' })).to.equal(false);
    expect(jsonEqual(undefined, {})).to.equal(false);
  });

  it('builds a minimal merge patch with nulls for removed members', () => {
    const from = {
      phase: 'Syncing',
      syncJob: { id: 'x', phase: 'Running', message: '1/2' },
      cacheStatus: { totalSize: '1 B', errorMassage: 'x' },
      nodes: [{ pod: 'a' }],
    };
    const to = {
      phase: 'Ready',
      syncJob: { id: 'x', phase: 'Succeeded' },
      cacheStatus: { totalSize: '1 B' },
      nodes: [{ pod: 'a' }, { pod: 'b' }],
    };
    expect(mergePatch(from, to)).to.deep.equal({
      phase: 'Ready',
      syncJob: { phase: 'Succeeded', message: null },
      cacheStatus: { errorMassage: null },
      nodes: [{ pod: 'a' }, { pod: 'b' }],
    });
    expect(mergePatch({ syncJob: { id: 'x' } }, {})).to.deep.equal({ syncJob: null });
    expect(mergePatch(to, JSON.parse(JSON.stringify(to)) as Record<string, unknown>)).to.deep.equal({});
    expect(mergePatch(undefined, { phase: '' })).to.deep.equal({ phase: '' });
  });
});
