/** Names the pod admission webhook shares with its users and its kustomize manifests. */
import { LABEL_DOMAIN } from '../api/constants.js';

/** The HTTPS path the apiserver calls for Pod CREATE (kustomize/webhook names the same). */
export const MUTATE_PODS_PATH = '/mutate-pods';

/**
 * Namespace label that opts a namespace in (`enabled`); the MutatingWebhookConfiguration selects
 * on it. On a pod, the annotation of the same key chooses the policy for that pod:
 * `Preferred`, `Required` or `None` (leave this pod alone), any case.
 */
export const CACHE_AFFINITY_KEY = `${LABEL_DOMAIN}/cache-affinity`;

/** Annotation the webhook writes on a pod it acted on: what it injected, or why it injected less. */
export const CACHE_AFFINITY_REASON_ANNOTATION = `${LABEL_DOMAIN}/cache-affinity-reason`;

/** Weight of the preferred node-affinity term the webhook adds (the scheduler's maximum). */
export const PREFERRED_WEIGHT = 100;

/** Prefix of every warning the webhook returns, so users see who changed their pod. */
export const WARNING_PREFIX = 'paddle-operator:';
