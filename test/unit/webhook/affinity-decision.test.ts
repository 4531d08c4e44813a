import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { SAMPLESET_LABEL } from '../../../src/api/constants.js';
import { decideCacheAffinity, readyRuntimePods, type AffinityDecision } from '../../../src/webhook/affinity-decision.js';
import { CACHE_AFFINITY_KEY } from '../../../src/webhook/constants.js';
import { claimed, pod, sampleSet } from './fixtures.js';

const KEY = 'paddlepaddle.org/juicefs-imagenet';
const inNodes = (...pods: string[]) => ({ key: KEY, operator: 'In', values: pods });
const only = (d: AffinityDecision) => {
  expect(d.skip, JSON.stringify(d.skip)).to.equal(undefined);
  expect(d.actions).to.have.length(1);
  return d.actions[0];
};
const ready2 = () => sampleSet('imagenet', 'Ready', [true, true]);
const annotated = (value: string) => pod(['imagenet'], { annotations: { [CACHE_AFFINITY_KEY]: value } });

describe('webhook: the cache-affinity decision table', () => {
  describe('which pods are its business', () => {
    it('a pod that mounts no SampleSet claim (none, or only claims of other PVCs) is left alone without a word', () => {
      const d = decideCacheAffinity(pod(['scratch-pvc']), []);
      expect(d).to.deep.equal({ skip: { why: 'mounts no SampleSet claim', warn: false }, actions: [], warnings: [] });
    });

    it("a PaddleJob's pods are left to the PaddleJob operator, also those beyond the partitions it pins", () => {
      const p = pod(['imagenet']);
      p.metadata!.ownerReferences = [
        { apiVersion: 'batch.paddlepaddle.org/v1', kind: 'PaddleJob', name: 'resnet', uid: 'u', controller: true },
      ];
      expect(decideCacheAffinity(p, [claimed(ready2())]).skip).to.deep.equal({
        why: 'placed by PaddleJob resnet (spec.sampleSetRef)',
        warn: false,
      });
    });

    it('a kind named PaddleJob in another API group is not ours: its pod is placed', () => {
      const p = pod(['imagenet']);
      p.metadata!.ownerReferences = [{ apiVersion: 'example.com/v1', kind: 'PaddleJob', name: 'x', uid: 'u', controller: true }];
      expect(only(decideCacheAffinity(p, [claimed(ready2())])).kind).to.equal('preferred');
    });

    it('DaemonSet pods are left alone; a pod already bound to a node is left alone with a warning', () => {
      const ds = pod(['imagenet']);
      ds.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'u', controller: true }];
      expect(decideCacheAffinity(ds, [claimed(ready2())]).skip?.warn).to.equal(false);
      const bound = pod(['imagenet']);
      bound.spec!.nodeName = 'node-7';
      expect(decideCacheAffinity(bound, [claimed(ready2())]).skip).to.deep.equal({
        why: 'the pod is already bound to node node-7 (spec.nodeName): no cache affinity injected',
        warn: true,
      });
    });

    it("the SampleSet's own runtime pods are left alone", () => {
      const p: V1Pod = pod(['imagenet']);
      p.metadata!.labels = { [SAMPLESET_LABEL]: 'imagenet' };
      p.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'imagenet-runtime', uid: 'u', controller: true }];
      expect(only(decideCacheAffinity(p, [claimed(ready2())]))).to.deep.equal({
        sampleSet: 'imagenet',
        kind: 'skip',
        why: 'a runtime pod of SampleSet imagenet',
      });
    });

    it('a pod opting out with the annotation (None, any case) is left alone', () => {
      const d = decideCacheAffinity(annotated(' NONE '), [claimed(ready2())]);
      expect(d.skip).to.deep.equal({ why: `opted out with annotation ${CACHE_AFFINITY_KEY}`, warn: false });
    });
  });

  describe('policy: the pod annotation wins over spec.podAffinity, which wins over Preferred', () => {
    it('Ready, no policy anywhere → a preferred term (weight 100) for every cache node', () => {
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(ready2())]))).to.deep.equal({
        sampleSet: 'imagenet',
        kind: 'preferred',
        term: { weight: 100, preference: { matchExpressions: [inNodes('imagenet-runtime-0', 'imagenet-runtime-1')] } },
        note: 'preferred node affinity to the 2 cache nodes of SampleSet imagenet',
      });
    });

    it('Ready, spec.podAffinity Required → a required requirement on the cache nodes', () => {
      const ss = sampleSet('imagenet', 'Ready', [true, true], { podAffinity: 'Required' });
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(ss)]))).to.deep.equal({
        sampleSet: 'imagenet',
        kind: 'required',
        requirement: inNodes('imagenet-runtime-0', 'imagenet-runtime-1'),
        note: 'required node affinity to the 2 cache nodes of SampleSet imagenet',
      });
    });

    it('Ready, the pod asks Required (any case) → required; the pod asks Preferred of a Required SampleSet → preferred', () => {
      expect(only(decideCacheAffinity(annotated('required'), [claimed(ready2())])).kind).to.equal('required');
      const ss = sampleSet('imagenet', 'Ready', [true, true], { podAffinity: 'Required' });
      expect(only(decideCacheAffinity(annotated('Preferred'), [claimed(ss)])).kind).to.equal('preferred');
    });

    it('an annotation value that means nothing is ignored with a warning; the SampleSet policy applies', () => {
      const ss = sampleSet('imagenet', 'Ready', [true, true], { podAffinity: 'Required' });
      const d = decideCacheAffinity(annotated('always'), [claimed(ss)]);
      expect(d.warnings).to.deep.equal([`ignoring annotation ${CACHE_AFFINITY_KEY}="always": use Preferred, Required or None`]);
      expect(only(d).kind).to.equal('required');
    });
  });

  describe('SampleSet state: never a required term that might not be met', () => {
    it('PartialReady, Required asked → preferred to the ready cache nodes only, with a note saying why', () => {
      const ss = sampleSet('imagenet', 'PartialReady', [false, true, true], { podAffinity: 'Required' });
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(ss)]))).to.deep.equal({
        sampleSet: 'imagenet',
        kind: 'preferred',
        term: { weight: 100, preference: { matchExpressions: [inNodes('imagenet-runtime-1', 'imagenet-runtime-2')] } },
        note:
          'preferred node affinity to the 2 ready of 3 cache nodes of SampleSet imagenet only, as it is PartialReady ' +
          '(Required applies once it is Ready: a required term now might never be met)',
      });
    });

    it('PartialReady, Preferred → preferred to the ready ones, the note without the Required part', () => {
      const ss = sampleSet('imagenet', 'PartialReady', [true, false]);
      const a = only(decideCacheAffinity(pod(['imagenet']), [claimed(ss)]));
      expect(a).to.deep.include({ kind: 'preferred' });
      expect((a as { note: string }).note).to.equal(
        'preferred node affinity to the 1 ready of 2 cache nodes of SampleSet imagenet only, as it is PartialReady',
      );
    });

    it('Syncing with every runtime ready, or a Ready phase whose status still shows a partition not ready → preferred, not required', () => {
      const syncing = sampleSet('imagenet', 'Syncing', [true, true], { podAffinity: 'Required' });
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(syncing)])).kind).to.equal('preferred');
      const stale = sampleSet('imagenet', 'Ready', [true, false], { podAffinity: 'Required' });
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(stale)])).kind).to.equal('preferred');
    });

    it('no ready cache node (Bound, not set up yet) → nothing injected, a note saying why', () => {
      const bound = sampleSet('imagenet', 'Bound', [false, false]);
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(bound)]))).to.deep.equal({
        sampleSet: 'imagenet',
        kind: 'none',
        note: 'no cache affinity: SampleSet imagenet is Bound with no ready cache node',
      });
      const fresh = sampleSet('imagenet', undefined, [false]);
      delete fresh.status;
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(fresh)]))).to.deep.include({
        kind: 'none',
        note: 'no cache affinity: SampleSet imagenet is not set up yet with no ready cache node',
      });
    });

    it('a SampleSet being deleted → nothing injected, a note saying why', () => {
      const ss = sampleSet('imagenet', 'Ready', [true, true], {}, { deletionTimestamp: new Date() });
      expect(only(decideCacheAffinity(pod(['imagenet']), [claimed(ss)]))).to.deep.include({
        kind: 'none',
        note: 'no cache affinity: SampleSet imagenet is being deleted',
      });
    });

    it('Ready without status.nodes: every partition counts (names from the engine)', () => {
      const ss = ready2();
      ss.status!.nodes = [];
      expect(readyRuntimePods(claimed(ss))).to.deep.equal(['imagenet-runtime-0', 'imagenet-runtime-1']);
    });
  });

  describe('idempotence and several SampleSets', () => {
    it('a pod that already has node affinity on the cache-node label (required, as PaddleJob pins, or preferred) is left alone', () => {
      const required = pod(['imagenet'], {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [inNodes('imagenet-runtime-1')] }] },
          },
        },
      });
      const preferred = pod(['imagenet'], {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 3, preference: { matchExpressions: [{ key: KEY, operator: 'Exists' }] } },
            ],
          },
        },
      });
      for (const p of [required, preferred])
        expect(only(decideCacheAffinity(p, [claimed(ready2())]))).to.deep.equal({
          sampleSet: 'imagenet',
          kind: 'skip',
          why: `already has node affinity on ${KEY}`,
        });
    });

    it('one action per SampleSet, each by its own state and policy; a claim mounted twice counts once', () => {
      const a = sampleSet('imagenet', 'Ready', [true, true], { podAffinity: 'Required' });
      const b = sampleSet('coco', 'PartialReady', [true, false]);
      const d = decideCacheAffinity(pod(['imagenet', 'coco', 'imagenet']), [claimed(a), claimed(b), claimed(a)]);
      expect(d.actions.map((x) => [x.sampleSet, x.kind])).to.deep.equal([
        ['imagenet', 'required'],
        ['coco', 'preferred'],
      ]);
    });
  });
});
