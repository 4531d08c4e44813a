import { expect } from 'chai';
import { compareText } from '../../../src/api/compare-text.js';

describe('compareText', () => {
  it('orders by code units, the same in every locale', () => {
    expect(['ss-10', 'b', 'B', 'ss-1-a', 'a', 'ss-9'].sort(compareText)).to.deep.equal(['B', 'a', 'b', 'ss-1-a', 'ss-10', 'ss-9']);
    expect(compareText('x', 'x')).to.equal(0);
  });
});
