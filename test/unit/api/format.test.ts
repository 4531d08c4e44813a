import { expect } from 'chai';
import { formatBytes, formatCount, formatPercent } from '../../../src/api/format.js';

describe('sampleset/format', () => {
  it('prints bytes like go-humanize IBytes', () => {
    const cases: Array<[number, string]> = [
      [0, '0 B'],
      [9, '9 B'],
      [10, '10 B'],
      [200, '200 B'],
      [1023, '1023 B'],
      [1024, '1.0 KiB'],
      [4096, '4.0 KiB'],
      [1536, '1.5 KiB'],
      [58 * 1024 ** 2, '58 MiB'],
      [Math.round(4.2 * 1024 ** 3), '4.2 GiB'],
      [12 * 1024 ** 3, '12 GiB'],
      [82854982, '79 MiB'],
      [1024 ** 2 - 1, '1024 KiB'],
      [1024 ** 6, '1.0 EiB'],
      [2 ** 40 * 3.25, '3.3 TiB'],
    ];
    for (const [n, s] of cases) expect(formatBytes(n), String(n)).to.equal(s);
  });

  it('rounds halves to even above 10, as Go %.0f does', () => {
    expect(formatBytes(10.5 * 1024)).to.equal('10 KiB');
    expect(formatBytes(11.5 * 1024)).to.equal('12 KiB');
  });

  it('treats negative and non-finite input as 0', () => {
    expect(formatBytes(-5)).to.equal('0 B');
    expect(formatBytes(Number.NaN)).to.equal('0 B');
  });

  it('groups counts with commas', () => {
    expect(formatCount(0)).to.equal('0');
    expect(formatCount(999)).to.equal('999');
    expect(formatCount(1000)).to.equal('1,000');
    expect(formatCount(128660)).to.equal('128,660');
    expect(formatCount(1234567890)).to.equal('1,234,567,890');
  });

  it('prints percentages with one decimal, never 100.0% short of full', () => {
    expect(formatPercent(375, 1000)).to.equal('37.5%');
    expect(formatPercent(0, 0)).to.equal('0.0%');
    expect(formatPercent(5, 0)).to.equal('0.0%');
    expect(formatPercent(1000, 1000)).to.equal('100.0%');
    expect(formatPercent(2000, 1000)).to.equal('100.0%');
    expect(formatPercent(9999, 10000)).to.equal('99.9%');
    expect(formatPercent(1, 3)).to.equal('33.3%');
  });
});
