import { expect } from 'chai';
import { StatsCollector, type StatsSource } from '../../../../src/operators/sampleset/stats-collector.js';
import type { NodeCacheStats } from '../../../../src/api/runtime-protocol.js';

const stats = (cached: number): NodeCacheStats => ({
  totalBytes: 100,
  totalFiles: 3,
  cachedBytes: cached,
  tiers: [{ path: '/c', sizeBytes: 1000, usedBytes: 10, availBytes: 990 }],
});

class FakeSource implements StatsSource {
  calls = 0;
  constructor(private readonly answers: Record<string, (() => Promise<NodeCacheStats>) | undefined>) {}
  cacheStats(baseUrl: string): Promise<NodeCacheStats> {
    this.calls++;
    const a = this.answers[baseUrl];
    return a ? a() : Promise.reject(new Error('connect ECONNREFUSED'));
  }
}

const waitDone = (keys: string[], n = 1): Promise<void> =>
  new Promise((resolve, reject) => {
    const end = Date.now() + 2000;
    const t = setInterval(() => {
      if (keys.length >= n) {
        clearInterval(t);
        resolve();
      } else if (Date.now() > end) {
        clearInterval(t);
        reject(new Error('no result'));
      }
    }, 2);
  });

describe('sampleset/stats-collector', () => {
  it('collects in the background, in parallel, and re-queues the SampleSet when done', async () => {
    const src = new FakeSource({ a: () => Promise.resolve(stats(40)), b: () => Promise.resolve(stats(30)) });
    const done: string[] = [];
    const c = new StatsCollector(src, (k) => done.push(k), 1000);
    expect(
      c.collect(
        'ns/x',
        'sig',
        1,
        [
          { pod: 'x-0', baseUrl: 'a' },
          { pod: 'x-1', baseUrl: 'b' },
        ],
        't',
      ),
    ).to.equal(true);
    expect(c.busy('ns/x')).to.equal(true);
    expect(c.collect('ns/x', 'sig', 1, [{ pod: 'x-0', baseUrl: 'a' }], 't'), 'one at a time').to.equal(false);
    await waitDone(done);
    expect(done).to.deep.equal(['ns/x']);
    const r = c.latest('ns/x')!;
    expect(r.signature).to.equal('sig');
    expect(r.agg.cacheStatus!.cachedBytes).to.equal(70);
    expect(r.agg.answered).to.deep.equal(['x-0', 'x-1']);
    expect(c.busy('ns/x')).to.equal(false);
  });

  it('reports a pod that fails or times out, and still counts the others', async () => {
    const src = new FakeSource({ a: () => Promise.resolve(stats(40)), slow: () => new Promise(() => undefined) });
    const done: string[] = [];
    const c = new StatsCollector(src, (k) => done.push(k), 50);
    c.collect(
      'ns/x',
      'sig',
      1,
      [
        { pod: 'x-0', baseUrl: 'a' },
        { pod: 'x-1', baseUrl: 'down' },
        { pod: 'x-2', baseUrl: 'slow' },
      ],
      't',
    );
    await waitDone(done);
    const agg = c.latest('ns/x')!.agg;
    expect(agg.answered).to.deep.equal(['x-0']);
    expect(agg.unanswered.map((u) => u.pod)).to.deep.equal(['x-1', 'x-2']);
    expect(agg.unanswered[1].error).to.match(/no answer within/);
    expect(agg.cacheStatus!.cachedBytes).to.equal(40);
  });

  it('drops the result of a collection for a forgotten SampleSet', async () => {
    let release!: () => void;
    const src = new FakeSource({ a: () => new Promise((r) => (release = () => r(stats(1)))) });
    const done: string[] = [];
    const c = new StatsCollector(src, (k) => done.push(k), 1000);
    c.collect('ns/x', 'sig', 1, [{ pod: 'x-0', baseUrl: 'a' }], 't');
    c.forget('ns/x');
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(done).to.deep.equal([]);
    expect(c.latest('ns/x')).to.equal(undefined);
  });
});
