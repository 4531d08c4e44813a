import { expect } from 'chai';
import { ApiAvailability } from '../../../../src/operators/paddlejob/api-availability.js';
import { mapSettled } from '../../../../src/operators/paddlejob/concurrency.js';
import { Expectations } from '../../../../src/operators/paddlejob/expectations.js';

describe('paddlejob helpers', () => {
  it('mapSettled keeps at most `limit` calls in flight and reports every outcome in order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapSettled([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      if (n === 4) throw new Error('four');
      return n * 2;
    });
    expect(peak).to.equal(3);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).to.deep.equal([
      2,
      4,
      6,
      'four',
      10,
      12,
      14,
    ]);
    expect(await mapSettled([], 3, () => Promise.resolve(1))).to.deep.equal([]);
  });

  it('Expectations expire and can be observed', () => {
    let now = 0;
    const e = new Expectations(1000, () => now);
    e.expect('ns/a', ['pod/x', 'pod/y']);
    expect(e.pending('ns/a', 'pod/x')).to.equal(true);
    e.observed('ns/a', 'pod/x');
    expect(e.pending('ns/a', 'pod/x')).to.equal(false);
    now = 1001;
    expect(e.pending('ns/a', 'pod/y')).to.equal(false);
  });

  it('ApiAvailability asks once per TTL and treats errors as unavailable', async () => {
    let now = 0;
    let calls = 0;
    let answer: boolean | Error = true;
    const a = new ApiAvailability(
      () => {
        calls++;
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
      60_000,
      () => now,
    );
    expect(await Promise.all([a.available(), a.available()])).to.deep.equal([true, true]);
    expect(calls).to.equal(1);
    answer = false;
    now = 59_999;
    expect(await a.available()).to.equal(true);
    now = 60_000;
    expect(await a.available()).to.equal(false);
    answer = new Error('forbidden');
    a.invalidate();
    expect(await a.available()).to.equal(false);
    expect(calls).to.equal(3);
  });
});
