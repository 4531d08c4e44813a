import { expect } from 'chai';
import { aggregateCacheStats, isFullyCached, withoutReads } from '../../../../src/operators/sampleset/stats.js';
import type { NodeCacheStats } from '../../../../src/api/runtime-protocol.js';

const GiB = 1024 ** 3;
const node = (
  cached: number,
  tiers: Array<[number, number, number]> = [[10 * GiB, 4 * GiB, 6 * GiB]],
  extra: Partial<NodeCacheStats> = {},
): NodeCacheStats => ({
  totalBytes: 4 * GiB,
  totalFiles: 128660,
  cachedBytes: cached,
  tiers: tiers.map(([sizeBytes, usedBytes, availBytes], i) => ({ path: `/cache/t${i}`, sizeBytes, usedBytes, availBytes })),
  ...extra,
});

describe('sampleset/stats', () => {
  it('takes totals from the first pod, sums cache and disks, renders strings', () => {
    const agg = aggregateCacheStats([
      { pod: 'x-runtime-0', stats: node(1 * GiB) },
      {
        pod: 'x-runtime-1',
        stats: node(0.5 * GiB, [
          [10 * GiB, 2 * GiB, 8 * GiB],
          [1 * GiB, 0, 1 * GiB],
        ]),
      },
    ]);
    const cs = agg.cacheStatus!;
    expect(cs.totalBytes).to.equal(4 * GiB);
    expect(cs.fileCount).to.equal(128660);
    expect(cs.totalFiles).to.equal('128,660');
    expect(cs.totalSize).to.equal('4.0 GiB');
    expect(cs.cachedBytes).to.equal(1.5 * GiB);
    expect(cs.cachedSize).to.equal('1.5 GiB');
    expect(cs.cachedPercentage).to.equal('37.5%');
    expect(cs.diskSizeBytes).to.equal(21 * GiB);
    expect(cs.diskUsedBytes).to.equal(6 * GiB);
    expect(cs.diskAvailBytes).to.equal(15 * GiB);
    expect(cs.diskSize).to.equal('21 GiB');
    expect(cs.diskAvail).to.equal('15 GiB');
    expect(cs.diskUsageRate).to.equal('28.6%');
    expect(cs.errorMassage).to.equal(undefined);
    expect(agg.answered).to.deep.equal(['x-runtime-0', 'x-runtime-1']);
    expect(agg.unanswered).to.deep.equal([]);
  });

  it("sums block reads from cache and from the store, with the hit ratio of the sum and each partition's own", () => {
    const agg = aggregateCacheStats([
      {
        pod: 'x-runtime-0',
        stats: node(1 * GiB, undefined, { reads: { hits: 90, misses: 10, hitBytes: 90 * 4096, missBytes: 10 * 4096 } }),
      },
      { pod: 'x-runtime-1', stats: node(1 * GiB, undefined, { reads: { hits: 0, misses: 100, hitBytes: 0, missBytes: 100 * 4096 } }) },
      { pod: 'x-runtime-2', stats: node(1 * GiB) },
    ]);
    const cs = agg.cacheStatus!;
    expect(cs).to.include({
      cacheHitRatio: '45.0%',
      cacheHits: 90,
      cacheMisses: 110,
      bytesFromCache: 90 * 4096,
      bytesFromStore: 110 * 4096,
    });
    expect(agg.podReads).to.deep.equal({
      'x-runtime-0': { cacheHitRatio: '90.0%', cacheHits: 90, cacheMisses: 10, bytesFromCache: 90 * 4096, bytesFromStore: 10 * 4096 },
      'x-runtime-1': { cacheHitRatio: '0.0%', cacheHits: 0, cacheMisses: 100, bytesFromCache: 0, bytesFromStore: 100 * 4096 },
    });
    expect(withoutReads(cs)).to.not.have.any.keys('cacheHitRatio', 'cacheHits', 'cacheMisses', 'bytesFromCache', 'bytesFromStore');
    expect(withoutReads(cs)).to.include({ cachedBytes: 3 * GiB });
  });

  it('shows no hit ratio before anything was read, and no read figures from engines that do not count reads', () => {
    const none = aggregateCacheStats([
      { pod: 'x-runtime-0', stats: node(0, undefined, { reads: { hits: 0, misses: 0, hitBytes: 0, missBytes: 0 } }) },
    ]);
    expect(none.cacheStatus).to.include({ cacheHits: 0, cacheMisses: 0 });
    expect(none.cacheStatus).to.not.have.key('cacheHitRatio');
    const uncounted = aggregateCacheStats([{ pod: 'x-runtime-0', stats: node(0) }]);
    expect(uncounted.cacheStatus).to.not.have.any.keys('cacheHits', 'cacheHitRatio');
    expect(uncounted.podReads).to.deep.equal({});
  });

  it('caps cached bytes at the dataset size', () => {
    const cs = aggregateCacheStats([
      { pod: 'a', stats: node(3 * GiB) },
      { pod: 'b', stats: node(3 * GiB) },
    ]).cacheStatus!;
    expect(cs.cachedBytes).to.equal(4 * GiB);
    expect(cs.cachedPercentage).to.equal('100.0%');
    expect(isFullyCached(cs)).to.equal(true);
  });

  it('still counts the pods that answered when one does not, and names it', () => {
    const agg = aggregateCacheStats([
      { pod: 'x-runtime-0', error: 'connect ECONNREFUSED' },
      { pod: 'x-runtime-1', stats: node(1 * GiB, undefined, { errors: ['tier /cache/t0: EACCES'] }) },
    ]);
    expect(agg.cacheStatus!.totalBytes).to.equal(4 * GiB);
    expect(agg.cacheStatus!.cachedBytes).to.equal(1 * GiB);
    expect(agg.unanswered).to.deep.equal([{ pod: 'x-runtime-0', error: 'connect ECONNREFUSED' }]);
    expect(agg.cacheStatus!.errorMassage).to.equal('x-runtime-1: tier /cache/t0: EACCES; x-runtime-0: connect ECONNREFUSED');
  });

  it('has no figures when no pod answered', () => {
    const agg = aggregateCacheStats([{ pod: 'a', error: 'timeout' }]);
    expect(agg.cacheStatus).to.equal(undefined);
    expect(agg.unanswered).to.have.length(1);
  });

  it('knows when everything is cached', () => {
    expect(isFullyCached(undefined)).to.equal(false);
    expect(isFullyCached({ totalBytes: 10, cachedBytes: 9 })).to.equal(false);
    expect(isFullyCached({ totalBytes: 10, cachedBytes: 10 })).to.equal(true);
    expect(isFullyCached({ totalBytes: 0, cachedBytes: 0 })).to.equal(true);
  });

  it('ignores negative or missing numbers', () => {
    const cs = aggregateCacheStats([{ pod: 'a', stats: { totalBytes: -1, totalFiles: NaN, cachedBytes: 5, tiers: [] } }]).cacheStatus!;
    expect(cs.totalBytes).to.equal(0);
    expect(cs.fileCount).to.equal(0);
    expect(cs.cachedBytes).to.equal(0);
    expect(cs.diskUsageRate).to.equal('0.0%');
  });
});
