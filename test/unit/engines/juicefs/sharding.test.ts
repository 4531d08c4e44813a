import { expect } from 'chai';
import { canonicalOrder, compareBytes, fnv1a32, selectShard, shardOf } from '../../../../src/engines/juicefs/sharding.js';

const files = Array.from({ length: 1000 }, (_, i) => `dir${i % 7}/sub${i % 3}/file-${i}.jpg`);

describe('warmup sharding', () => {
  it('FNV-1a matches the reference values', () => {
    expect(fnv1a32('')).to.equal(0x811c9dc5);
    expect(fnv1a32('a')).to.equal(0xe40c292c);
    expect(fnv1a32('foobar')).to.equal(0xbf9cf968);
  });

  for (const strategy of ['sequence', 'random'] as const) {
    for (const shards of [1, 2, 3, 7]) {
      it(`${strategy}: every file in exactly one of ${shards} shards`, () => {
        const ordered = canonicalOrder(files);
        const seen = new Map<string, number>();
        for (let shard = 0; shard < shards; shard++) {
          for (const f of selectShard(ordered, (x) => x, shard, shards, strategy)) {
            expect(seen.has(f), f).to.equal(false);
            seen.set(f, shard);
          }
        }
        expect(seen.size).to.equal(files.length);
      });
    }

    it(`${strategy}: stable across input order and runs`, () => {
      const a = canonicalOrder(files);
      const b = canonicalOrder([...files].reverse());
      expect(a).to.deep.equal(b);
      for (let shard = 0; shard < 3; shard++) {
        expect(selectShard(a, (x) => x, shard, 3, strategy)).to.deep.equal(selectShard(b, (x) => x, shard, 3, strategy));
      }
    });
  }

  it('sequence deals files round-robin in sorted order; shards are balanced', () => {
    const ordered = canonicalOrder(['c', 'a', 'b', 'd', 'e']);
    expect(selectShard(ordered, (x) => x, 0, 2, 'sequence')).to.deep.equal(['a', 'c', 'e']);
    expect(selectShard(ordered, (x) => x, 1, 2, 'sequence')).to.deep.equal(['b', 'd']);
    const sizes = [0, 1, 2].map((s) => selectShard(canonicalOrder(files), (x) => x, s, 3, 'random').length);
    for (const n of sizes) expect(n).to.be.within(250, 420);
  });

  it('random shard of a file does not depend on the other files', () => {
    const f = 'dir1/sub1/file-1.jpg';
    expect(shardOf(f, 0, 5, 'random')).to.equal(shardOf(f, 999, 5, 'random'));
    expect(shardOf(f, 0, 5, 'random')).to.equal(fnv1a32(f) % 5);
  });

  it('sorts by bytes, not locale', () => {
    expect(canonicalOrder(['b', 'B', 'a', 'é', 'z'])).to.deep.equal(['B', 'a', 'b', 'z', 'é']);
    expect(compareBytes('a', 'a')).to.equal(0);
  });

  it('rejects invalid shards', () => {
    expect(() => selectShard(['a'], (x) => x, 2, 2, 'sequence')).to.throw();
    expect(() => selectShard(['a'], (x) => x, 0, 0, 'sequence')).to.throw();
  });
});
