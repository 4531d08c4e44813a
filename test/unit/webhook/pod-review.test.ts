import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { SampleSet } from '../../../src/api/sampleset.js';
import { EngineRegistry } from '../../../src/engines/registry.js';
import { sampleSetBinding } from '../../../src/operators/paddlejob/cache-affinity.js';
import { buildPod } from '../../../src/operators/paddlejob/pod-builder.js';
import { CACHE_AFFINITY_REASON_ANNOTATION } from '../../../src/webhook/constants.js';
import { MalformedReview, reviewPod, type AdmissionReview, type SampleSetLookup } from '../../../src/webhook/pod-review.js';
import { claimedSampleSets } from '../../../src/webhook/sampleset-lookup.js';
import { makeJob, template } from '../operators/paddlejob/fixtures.js';
import { applyJsonPatch, type Operation } from '../support/json-patch-apply.js';
import { NS, juicefs, pod, sampleSet } from './fixtures.js';

const engines = new EngineRegistry([juicefs]);

/** A lookup over fixed SampleSets, recording the namespaces it was asked about. */
function lookup(sampleSets: SampleSet[], synced = true): SampleSetLookup & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    synced: () => synced,
    claimed: (namespace, claims) => {
      asked.push(namespace);
      return claimedSampleSets(
        claims,
        sampleSets.filter((s) => s.metadata.namespace === namespace),
        engines,
      );
    },
  };
}

function review(object: unknown, request: Record<string, unknown> = {}): AdmissionReview {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'req-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: NS, object, ...request },
  };
}

/** The pod after the apiserver applied the response's patch. */
function patched(p: V1Pod, res: AdmissionReview): V1Pod {
  const r = res.response!;
  if (!r.patch) return p;
  expect(r.patchType).to.equal('JSONPatch');
  return applyJsonPatch(p, JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as Operation[]) as V1Pod;
}

describe('webhook: the AdmissionReview handler', () => {
  const ready = sampleSet('imagenet', 'Ready', [true, true]);

  it('refuses a body that is no AdmissionReview v1 request', () => {
    for (const body of [
      null,
      [],
      { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1beta1', request: { uid: 'x' } },
      { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: {} },
    ])
      expect(() => reviewPod(body, lookup([ready])), JSON.stringify(body)).to.throw(MalformedReview);
  });

  it('allows anything but a Pod CREATE unchanged: another kind, UPDATE, a subresource, no object', () => {
    const p = pod(['imagenet']);
    for (const extra of [
      { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } },
      { operation: 'UPDATE' },
      { subResource: 'ephemeralcontainers' },
      { object: undefined },
    ]) {
      const r = reviewPod(review(p, extra), lookup([ready]));
      expect(r.outcome).to.equal('unchanged');
      expect(r.review).to.deep.equal({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: 'req-1', allowed: true },
      });
    }
  });

  it('a pod without a claim, or with a claim of no SampleSet: allowed, no patch, no warning', () => {
    for (const p of [pod([]), pod(['somebody-elses-pvc'])]) {
      const r = reviewPod(review(p), lookup([ready]));
      expect(r.outcome).to.equal('unchanged');
      expect(r.review.response).to.deep.equal({ uid: 'req-1', allowed: true });
    }
  });

  it('a pod mounting a Ready SampleSet: a base64 JSON Patch that adds the affinity and the reason, and a warning', () => {
    const p = pod(['imagenet']);
    const l = lookup([ready, sampleSet('imagenet', 'Ready', [true], {}, { namespace: 'elsewhere' })]);
    l.claimed('elsewhere', []); // only the request's namespace counts
    const r = reviewPod(review(p), l);
    expect(r.outcome).to.equal('patched');
    expect(l.asked).to.deep.equal(['elsewhere', NS]);
    expect(r.review.response).to.include({ uid: 'req-1', allowed: true, patchType: 'JSONPatch' });
    expect(r.review.response!.warnings).to.deep.equal([
      'paddle-operator: preferred node affinity to the 2 cache nodes of SampleSet imagenet',
    ]);
    const ops = JSON.parse(Buffer.from(r.review.response!.patch!, 'base64').toString('utf8')) as Operation[];
    expect(ops.map((o) => `${o.op} ${o.path}`)).to.deep.equal(['add /metadata/annotations', 'add /spec/affinity']);
    const out = patched(p, r.review);
    expect(out.spec!.affinity!.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution).to.have.length(1);
    expect(out.metadata!.annotations![CACHE_AFFINITY_REASON_ANNOTATION]).to.equal(
      'preferred node affinity to the 2 cache nodes of SampleSet imagenet',
    );
  });

  it('the namespace comes from the request when the pod object has none (generateName pods)', () => {
    const p = pod(['imagenet']);
    delete p.metadata!.namespace;
    expect(reviewPod(review(p), lookup([ready])).outcome).to.equal('patched');
  });

  it('is idempotent under reinvocation: the patched pod reviewed again gives no patch and no warning', () => {
    for (const ss of [
      ready,
      sampleSet('imagenet', 'Ready', [true, true], { podAffinity: 'Required' }),
      sampleSet('imagenet', 'PartialReady', [true, false]),
      sampleSet('imagenet', 'Bound', [false]),
    ]) {
      const once = patched(pod(['imagenet']), reviewPod(review(pod(['imagenet'])), lookup([ss])).review);
      const again = reviewPod(review(once), lookup([ss]));
      expect(again.outcome, ss.status!.phase).to.equal('unchanged');
      expect(again.review.response, ss.status!.phase).to.deep.equal({ uid: 'req-1', allowed: true });
    }
  });

  it('PartialReady: the patch carries the preferred term for the ready nodes and the annotation saying why', () => {
    const ss = sampleSet('imagenet', 'PartialReady', [true, false], { podAffinity: 'Required' });
    const out = patched(pod(['imagenet']), reviewPod(review(pod(['imagenet'])), lookup([ss])).review);
    expect(out.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).to.equal(undefined);
    expect(
      out.spec!.affinity!.nodeAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0].preference.matchExpressions![0].values,
    ).to.deep.equal(['imagenet-runtime-0']);
    expect(out.metadata!.annotations![CACHE_AFFINITY_REASON_ANNOTATION]).to.match(
      /only, as it is PartialReady \(Required applies once it is Ready/,
    );
  });

  it("a PaddleJob's pods as its operator builds them (pinned or beyond the partitions) are admitted unchanged: no double injection", () => {
    const job = makeJob(
      { sampleSetRef: { name: 'imagenet', mountPath: '/data' }, worker: { replicas: 3, template: template() } },
      'resnet',
      NS,
    );
    const binding = sampleSetBinding(ready, '/data', juicefs);
    for (const index of [0, 1, 2]) {
      const r = reviewPod(review(buildPod(job, 'worker', index, { sampleSet: binding })), lookup([ready]));
      expect(r.outcome, `worker ${index}`).to.equal('unchanged');
      expect(r.review.response, `worker ${index}`).to.deep.equal({ uid: 'req-1', allowed: true });
    }
  });

  it('caches not synced yet: allowed unchanged at once, with a warning (only for pods that mount a claim)', () => {
    const r = reviewPod(review(pod(['imagenet'])), lookup([ready], false));
    expect(r.outcome).to.equal('unsynced');
    expect(r.review.response).to.deep.equal({
      uid: 'req-1',
      allowed: true,
      warnings: ['paddle-operator: its SampleSet cache is not synced yet; the pod is admitted without cache affinity'],
    });
    expect(reviewPod(review(pod([])), lookup([ready], false)).review.response).to.deep.equal({ uid: 'req-1', allowed: true });
  });

  it('an internal error never refuses the pod: allowed unchanged with a warning', () => {
    const broken: SampleSetLookup = {
      synced: () => true,
      claimed: () => {
        throw new Error('boom');
      },
    };
    const r = reviewPod(review(pod(['imagenet'])), broken);
    expect(r.outcome).to.equal('failed');
    expect(r.review.response).to.deep.equal({
      uid: 'req-1',
      allowed: true,
      warnings: ['paddle-operator: the pod is admitted without cache affinity (internal error: boom)'],
    });
  });
});
