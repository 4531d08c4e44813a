import { expect } from 'chai';
import type { V1Affinity } from '@kubernetes/client-node';
import { andRequiredNodeAffinity } from '../../../src/operators/shared/cache-placement.js';
import { decideCacheAffinity } from '../../../src/webhook/affinity-decision.js';
import { CACHE_AFFINITY_REASON_ANNOTATION } from '../../../src/webhook/constants.js';
import { mutatePod, warningsOf } from '../../../src/webhook/pod-mutation.js';
import { claimed, pod, sampleSet } from './fixtures.js';

const KEY = 'paddlepaddle.org/juicefs-imagenet';
const user: V1Affinity = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        { matchExpressions: [{ key: 'gpu', operator: 'In', values: ['a100'] }] },
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
      ],
    },
    preferredDuringSchedulingIgnoredDuringExecution: [
      { weight: 5, preference: { matchExpressions: [{ key: 'ssd', operator: 'Exists' }] } },
    ],
  },
  podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] },
};

describe('webhook: the mutated pod and the warnings', () => {
  it('Required: the requirement is ANDed into EVERY user term exactly as the PaddleJob operator does it (shared code)', () => {
    const p = pod(['imagenet'], { affinity: user });
    const before = JSON.stringify(p);
    const ss = sampleSet('imagenet', 'Ready', [true, true], { podAffinity: 'Required' });
    const out = mutatePod(p, decideCacheAffinity(p, [claimed(ss)]));
    const req = { key: KEY, operator: 'In', values: ['imagenet-runtime-0', 'imagenet-runtime-1'] };
    expect(out.spec!.affinity).to.deep.equal(andRequiredNodeAffinity(user, req));
    const terms = out.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
    expect(terms.map((t) => t.matchExpressions)).to.deep.equal([[{ key: 'gpu', operator: 'In', values: ['a100'] }, req], [req]]);
    expect(terms[1].matchFields).to.deep.equal([{ key: 'metadata.name', operator: 'In', values: ['n1'] }]);
    expect(out.spec!.affinity!.podAntiAffinity).to.deep.equal(user.podAntiAffinity);
    expect(JSON.stringify(p), 'the input pod is not changed').to.equal(before);
  });

  it('Preferred: the term is appended after the user preferences; required terms untouched', () => {
    const p = pod(['imagenet'], { affinity: user });
    const out = mutatePod(p, decideCacheAffinity(p, [claimed(sampleSet('imagenet', 'Ready', [true, true]))]));
    const na = out.spec!.affinity!.nodeAffinity!;
    expect(na.requiredDuringSchedulingIgnoredDuringExecution).to.equal(user.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution);
    expect(na.preferredDuringSchedulingIgnoredDuringExecution).to.deep.equal([
      user.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0],
      {
        weight: 100,
        preference: { matchExpressions: [{ key: KEY, operator: 'In', values: ['imagenet-runtime-0', 'imagenet-runtime-1'] }] },
      },
    ]);
  });

  it('the reason annotation joins the notes of every SampleSet acted on, keeping other annotations', () => {
    const p = pod(['imagenet', 'coco'], { annotations: { team: 'vision' } });
    const d = decideCacheAffinity(p, [
      claimed(sampleSet('imagenet', 'Ready', [true], { podAffinity: 'Required' })),
      claimed(sampleSet('coco', 'Bound', [false])),
    ]);
    const out = mutatePod(p, d);
    expect(out.metadata!.annotations).to.deep.equal({
      team: 'vision',
      [CACHE_AFFINITY_REASON_ANNOTATION]:
        'required node affinity to the 1 cache node of SampleSet imagenet; no cache affinity: SampleSet coco is Bound with no ready cache node',
    });
    expect(warningsOf(d)).to.deep.equal([
      'paddle-operator: required node affinity to the 1 cache node of SampleSet imagenet',
      'paddle-operator: no cache affinity: SampleSet coco is Bound with no ready cache node',
    ]);
  });

  it('nothing to do (skipped pod, or every SampleSet skipped) → the very same pod object, no warnings', () => {
    const none = pod(['imagenet'], {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 1, preference: { matchExpressions: [{ key: KEY, operator: 'Exists' }] } },
          ],
        },
      },
    });
    const d = decideCacheAffinity(none, [claimed(sampleSet('imagenet', 'Ready', [true]))]);
    expect(mutatePod(none, d)).to.equal(none);
    expect(warningsOf(d)).to.deep.equal([]);
    const bound = pod(['imagenet']);
    bound.spec!.nodeName = 'n1';
    const skip = decideCacheAffinity(bound, [claimed(sampleSet('imagenet', 'Ready', [true]))]);
    expect(mutatePod(bound, skip)).to.equal(bound);
    expect(warningsOf(skip)).to.deep.equal([
      'paddle-operator: the pod is already bound to node n1 (spec.nodeName): no cache affinity injected',
    ]);
  });

  it('no ready cache node: only the annotation changes, the spec keeps its identity', () => {
    const p = pod(['imagenet']);
    const out = mutatePod(p, decideCacheAffinity(p, [claimed(sampleSet('imagenet', 'Mount', [false]))]));
    expect(out.spec).to.equal(p.spec);
    expect(out.metadata!.annotations![CACHE_AFFINITY_REASON_ANNOTATION]).to.match(/no ready cache node/);
  });
});
