import { expect } from 'chai';
import type { V1Affinity } from '@kubernetes/client-node';
import { andRequiredNodeAffinity } from '../../../../src/operators/shared/cache-placement.js';

const req = { key: 'paddlepaddle.org/juicefs-imagenet', operator: 'In', values: ['imagenet-runtime-0'] };

describe('cache placement: ANDing a cache-node requirement into required node affinity', () => {
  it('creates one term when the user has none', () => {
    expect(andRequiredNodeAffinity(undefined, req)).to.deep.equal({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [req] }] } },
    });
  });

  it('ANDs the requirement into EVERY user term, never adding an ORed term of its own', () => {
    const user: V1Affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'gpu', operator: 'In', values: ['a100'] }] },
            {
              matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }],
              matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n9'] }],
            },
            { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
          ],
        },
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } },
        ],
      },
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] },
    };
    const before = JSON.stringify(user);
    const out = andRequiredNodeAffinity(user, req);
    const terms = out.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
    expect(terms).to.have.length(3);
    expect(terms[0].matchExpressions).to.deep.equal([{ key: 'gpu', operator: 'In', values: ['a100'] }, req]);
    expect(terms[1].matchExpressions).to.deep.equal([{ key: 'zone', operator: 'In', values: ['z1'] }, req]);
    expect(terms[1].matchFields).to.deep.equal([{ key: 'metadata.name', operator: 'NotIn', values: ['n9'] }]);
    expect(terms[2].matchExpressions).to.deep.equal([req]);
    expect(terms[2].matchFields).to.deep.equal([{ key: 'metadata.name', operator: 'In', values: ['n1'] }]);
    expect(out.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution).to.deep.equal(
      user.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution,
    );
    expect(out.podAntiAffinity).to.deep.equal(user.podAntiAffinity);
    expect(JSON.stringify(user), 'input untouched').to.equal(before);
  });
});
