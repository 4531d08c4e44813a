import { expect } from 'chai';
import { shouldCleanPods } from '../../../../src/operators/paddlejob/clean-policy.js';

describe('paddlejob cleanPodPolicy', () => {
  const cases: [Parameters<typeof shouldCleanPods>[0], string, boolean][] = [
    ['Always', 'Completed', true],
    ['Always', 'Failed', true],
    ['Always', 'Running', false],
    ['OnCompletion', 'Completed', true],
    ['OnCompletion', 'Failed', false],
    [undefined, 'Completed', true],
    [undefined, 'Failed', false],
    ['OnFailure', 'Failed', true],
    ['OnFailure', 'Completed', false],
    ['Never', 'Completed', false],
    ['Never', 'Failed', false],
    ['Always', 'Pending', false],
  ];
  for (const [policy, phase, want] of cases) {
    it(`${policy ?? '(default)'} on ${phase}: ${want ? 'delete' : 'keep'} pods`, () => {
      expect(shouldCleanPods(policy, phase as never)).to.equal(want);
    });
  }
});
