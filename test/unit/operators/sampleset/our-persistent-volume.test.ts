import { expect } from 'chai';
import type { V1PersistentVolume } from '@kubernetes/client-node';
import type { SampleSet } from '../../../../src/api/sampleset.js';
import { isOurPersistentVolume, PV_OWNER_ANNOTATION } from '../../../../src/operators/sampleset/runtime-objects.js';

const ss = { metadata: { name: 'ds', namespace: 'ml', uid: 'u1' }, spec: {} } as unknown as SampleSet;
const desired: V1PersistentVolume = {
  metadata: { name: 'ml.ds' },
  spec: { csi: { driver: 'csi.juicefs.com', volumeHandle: 'ml-ds-0123456789' } },
};
const pv = (handle: string | undefined, owner = 'ml/ds', label = 'ds'): V1PersistentVolume => ({
  metadata: { name: 'ml.ds', labels: { 'paddlepaddle.org/sampleset': label }, annotations: { [PV_OWNER_ANNOTATION]: owner } },
  spec: handle === undefined ? {} : { csi: { driver: 'csi.juicefs.com', volumeHandle: handle } },
});

describe('isOurPersistentVolume', () => {
  it("accepts the engine's volumeHandle and the PV-name handle earlier builds wrote", () => {
    expect(isOurPersistentVolume(pv('ml-ds-0123456789'), ss, desired)).to.equal(true);
    expect(isOurPersistentVolume(pv('ml.ds'), ss, desired)).to.equal(true);
  });

  it('refuses another volume, another owner, another label, or no CSI volume at all', () => {
    expect(isOurPersistentVolume(pv('other-volume'), ss, desired)).to.equal(false);
    expect(isOurPersistentVolume(pv(undefined), ss, desired)).to.equal(false);
    expect(isOurPersistentVolume(pv('ml-ds-0123456789', 'ml/other'), ss, desired)).to.equal(false);
    expect(isOurPersistentVolume(pv('ml-ds-0123456789', 'ml/ds', 'other'), ss, desired)).to.equal(false);
  });
});
