/**
 * The AdmissionReview (admission.k8s.io/v1) handler for Pod CREATE: request in, response out, pure
 * apart from the SampleSet lookup it is given (an informer cache: no API call on this path). Every
 * well-formed review is allowed — this webhook only adds placement — with a base64 JSON Patch when
 * the pod changes and `warnings` saying what was injected. Unsynced caches or an internal error
 * give an unchanged pod and a warning, never a refusal.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { claimsOfPod } from '../operators/shared/cache-placement.js';
import { decideCacheAffinity, type ClaimedSampleSet } from './affinity-decision.js';
import { WARNING_PREFIX } from './constants.js';
import { jsonPatch } from './json-patch.js';
import { mutatePod, warningsOf } from './pod-mutation.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  subResource?: string;
  namespace?: string;
  operation?: string;
  object?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch document. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** A body that is no AdmissionReview v1 request: the server answers 400. */
export class MalformedReview extends Error {}

/** The SampleSets a pod's claims belong to, from a cache. */
export interface SampleSetLookup {
  /** The cache has listed once; before that, no claim can be resolved. */
  synced(): boolean;
  /** SampleSets of `namespace` whose claim is one of `claims`. */
  claimed(namespace: string, claims: readonly string[]): ClaimedSampleSet[];
}

/** How one review went, for metrics: patched, unchanged, unsynced (cache not listed yet), failed (internal error). */
export type ReviewOutcome = 'patched' | 'unchanged' | 'unsynced' | 'failed';

export interface PodReview {
  review: AdmissionReview;
  outcome: ReviewOutcome;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The request of an AdmissionReview v1 body; throws MalformedReview. */
export function admissionRequestOf(body: unknown): AdmissionRequest {
  if (!isObject(body) || body.kind !== 'AdmissionReview' || body.apiVersion !== ADMISSION_API_VERSION)
    throw new MalformedReview(`expected an ${ADMISSION_API_VERSION} AdmissionReview`);
  const request = body.request;
  if (!isObject(request) || typeof request.uid !== 'string' || !request.uid)
    throw new MalformedReview('the AdmissionReview has no request.uid');
  return request as unknown as AdmissionRequest;
}

function answer(uid: string, outcome: ReviewOutcome, extra: Partial<AdmissionResponse> = {}): PodReview {
  return { review: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, allowed: true, ...extra } }, outcome };
}

/** Answers one AdmissionReview body; throws MalformedReview only when it is not one. */
export function reviewPod(body: unknown, lookup: SampleSetLookup): PodReview {
  const req = admissionRequestOf(body);
  const isPodCreate = req.kind?.group === '' && req.kind.kind === 'Pod' && req.operation === 'CREATE' && !req.subResource;
  if (!isPodCreate || !isObject(req.object)) return answer(req.uid, 'unchanged');
  const pod = req.object as V1Pod;
  const claims = claimsOfPod(pod);
  if (claims.length === 0) return answer(req.uid, 'unchanged');
  if (!lookup.synced())
    return answer(req.uid, 'unsynced', {
      warnings: [`${WARNING_PREFIX} its SampleSet cache is not synced yet; the pod is admitted without cache affinity`],
    });
  try {
    const namespace = req.namespace || pod.metadata?.namespace || '';
    const decision = decideCacheAffinity(pod, lookup.claimed(namespace, claims));
    const ops = jsonPatch(pod, mutatePod(pod, decision));
    const warnings = warningsOf(decision, ops.length > 0);
    const said = warnings.length ? { warnings } : {};
    if (ops.length === 0) return answer(req.uid, 'unchanged', said);
    return answer(req.uid, 'patched', { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64'), ...said });
  } catch (e) {
    return answer(req.uid, 'failed', {
      warnings: [`${WARNING_PREFIX} the pod is admitted without cache affinity (internal error: ${(e as Error).message})`],
    });
  }
}
