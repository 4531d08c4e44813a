import { expect } from 'chai';
import { persistentVolumeName, volumeHandle } from '../../../../src/engines/juicefs/names.js';
import { sampleSet } from '../fixtures.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('juicefs names: the PV volumeHandle', () => {
  it('is a DNS label (the CSI driver makes it the mount pod hostname) and not the dotted PV name', () => {
    const s = sampleSet({}, 'imagenet', 'ml');
    expect(volumeHandle(s))
      .to.match(DNS_LABEL)
      .and.to.match(/^ml-imagenet-[0-9a-f]{10}$/);
    expect(volumeHandle(s)).to.not.equal(persistentVolumeName(s));
  });

  it('stays a DNS label of at most 63 characters for the longest names and names with dots', () => {
    for (const [name, ns] of [
      ['n'.repeat(55), 'x'.repeat(63)],
      ['data.v2.train', 'team-a'],
      ['a-', 'b'],
    ] as const) {
      const h = volumeHandle(sampleSet({}, name, ns));
      expect(h, `${ns}/${name}`).to.match(DNS_LABEL);
      expect(h.length, `${ns}/${name}`).to.be.at.most(63);
    }
  });

  it('differs for SampleSets whose namespace-name joins look alike, and is stable', () => {
    const ab = volumeHandle(sampleSet({}, 'c', 'a-b'));
    const bc = volumeHandle(sampleSet({}, 'b-c', 'a'));
    expect(ab).to.not.equal(bc);
    expect(volumeHandle(sampleSet({}, 'c', 'a-b'))).to.equal(ab);
    const long = (ns: string) => volumeHandle(sampleSet({}, 'n'.repeat(55), ns));
    expect(long('x'.repeat(62) + 'y')).to.not.equal(long('x'.repeat(62) + 'z'));
  });
});
