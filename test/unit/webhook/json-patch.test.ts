import { expect } from 'chai';
import { jsonEqual, jsonPatch, pointerToken } from '../../../src/webhook/json-patch.js';
import { applyJsonPatch } from '../support/json-patch-apply.js';
import { seededRandom } from '../support/seeded-random.js';

describe('webhook: RFC 6902 JSON Patch builder', () => {
  it('escapes pointer tokens (RFC 6901): ~ then /', () => {
    expect(pointerToken('paddlepaddle.org/cache-affinity-reason')).to.equal('paddlepaddle.org~1cache-affinity-reason');
    expect(pointerToken('a~/b')).to.equal('a~0~1b');
  });

  it('equal documents give no operation; an unchanged subtree is not walked', () => {
    const shared = { big: Array.from({ length: 1000 }, (_, i) => ({ i })) };
    expect(jsonPatch({ a: 1, s: shared }, { a: 1, s: shared })).to.deep.equal([]);
    expect(jsonPatch({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).to.deep.equal([]);
  });

  it('adds a missing member whole, at the deepest existing parent', () => {
    expect(jsonPatch({ metadata: { name: 'p' } }, { metadata: { name: 'p', annotations: { 'x/y': 'v' } } })).to.deep.equal([
      { op: 'add', path: '/metadata/annotations', value: { 'x/y': 'v' } },
    ]);
    expect(jsonPatch({ metadata: { annotations: { a: '1' } } }, { metadata: { annotations: { a: '1', 'x/y': 'v' } } })).to.deep.equal([
      { op: 'add', path: '/metadata/annotations/x~1y', value: 'v' },
    ]);
  });

  it('appends to an array that grew, index by index, and recurses into elements that changed', () => {
    const before = { terms: [{ m: [1] }, { m: [2] }], pref: [{ w: 1 }] };
    const after = { terms: [{ m: [1, 9] }, { m: [2, 9] }], pref: [{ w: 1 }, { w: 100 }] };
    expect(jsonPatch(before, after)).to.deep.equal([
      { op: 'add', path: '/terms/0/m/1', value: 9 },
      { op: 'add', path: '/terms/1/m/1', value: 9 },
      { op: 'add', path: '/pref/1', value: { w: 100 } },
    ]);
  });

  it('replaces a scalar, an array that shrank and a value that changed type; removes a member that went', () => {
    expect(jsonPatch({ a: 1, b: [1, 2], c: { x: 1 }, d: 'gone' }, { a: 2, b: [1], c: [1] })).to.deep.equal([
      { op: 'remove', path: '/d' },
      { op: 'replace', path: '/a', value: 2 },
      { op: 'replace', path: '/b', value: [1] },
      { op: 'replace', path: '/c', value: [1] },
    ]);
  });

  it('treats undefined members as absent, as JSON does', () => {
    expect(jsonPatch({ a: undefined, b: 1 }, { b: 1, c: undefined })).to.deep.equal([]);
    expect(jsonPatch({ a: 1 }, { a: undefined })).to.deep.equal([{ op: 'remove', path: '/a' }]);
    expect(jsonEqual({ a: undefined }, {})).to.equal(true);
  });

  it('replaces the whole document when its type changes', () => {
    expect(jsonPatch({ a: 1 }, [1])).to.deep.equal([{ op: 'replace', path: '', value: [1] }]);
  });

  it('seeded random documents: applying the patch to `before` always gives `after` (1,000 pairs)', () => {
    const rnd = seededRandom(Number(process.env.FUZZ_SEED ?? 6902));
    const keys = ['a', 'b', 'x/y', 'm~n', 'spec', '0', ''];
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.3) return [1, 'two', true, null, 0][Math.floor(rnd() * 5)];
      if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(rnd() * 4) }, () => [keys[Math.floor(rnd() * keys.length)], value(depth + 1)]),
      );
    };
    /** `after` derived from `before` the way mutations look: some members kept, some changed, some added. */
    const mutate = (v: unknown, depth: number): unknown => {
      const r = rnd();
      if (r < 0.15) return value(depth);
      if (Array.isArray(v)) return r < 0.5 ? [...v.map((x) => mutate(x, depth + 1)), value(depth + 1)] : v.map((x) => mutate(x, depth + 1));
      if (typeof v === 'object' && v !== null) {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) if (rnd() > 0.1) out[k] = rnd() < 0.5 ? x : mutate(x, depth + 1);
        if (rnd() < 0.3) out[keys[Math.floor(rnd() * keys.length)]] = value(depth + 1);
        return out;
      }
      return v;
    };
    for (let i = 0; i < 1000; i++) {
      const before = { root: value(0) };
      const after = mutate(before, 0);
      const ops = jsonPatch(before, after);
      expect(applyJsonPatch(before, ops), JSON.stringify({ before, after, ops })).to.deep.equal(after);
    }
  });
});
