/**
 * The Kubernetes objects of self-managed certificates, built and read by pure functions: the
 * Secret that holds them (`kubernetes.io/tls` plus the CA bundle and the signing CA's key), the
 * merge patch that rewrites it under a resourceVersion precondition, and the JSON patch that puts
 * the CA bundle into every webhook of the MutatingWebhookConfiguration.
 */
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { kubeTime } from '../../api/time.js';
import { certificateFacts } from './certificate-facts.js';
import {
  CA_BUNDLE,
  CA_KEY,
  CERTIFICATE_SECRET_LABELS,
  EXPIRES_ANNOTATION,
  RENEWS_ANNOTATION,
  TLS_CERT,
  TLS_KEY,
  renewalTime,
  type SelfManagedSettings,
} from './settings.js';

/** The Secret's four entries as PEM text ('' for a missing one). */
export interface SecretContents {
  /** Every CA a client should trust now: the signing CA first, then older ones until they expire. */
  caBundle: string;
  /** The private key of the CA that signs serving certificates. */
  caKey: string;
  tlsCert: string;
  tlsKey: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** Reads the four entries of a Secret (missing entries are ''). */
export function secretContents(secret: V1Secret): SecretContents {
  const d = secret.data ?? {};
  return { caBundle: unb64(d[CA_BUNDLE]), caKey: unb64(d[CA_KEY]), tlsCert: unb64(d[TLS_CERT]), tlsKey: unb64(d[TLS_KEY]) };
}

/** The Secret carries our labels: only then does the operator ever write it. */
export function isOurSecret(secret: V1Secret): boolean {
  const labels = secret.metadata?.labels ?? {};
  return ['app.kubernetes.io/managed-by', 'app.kubernetes.io/component'].every((k) => labels[k] === CERTIFICATE_SECRET_LABELS[k]);
}

function data(c: SecretContents): Record<string, string> {
  return { [TLS_CERT]: b64(c.tlsCert), [TLS_KEY]: b64(c.tlsKey), [CA_BUNDLE]: b64(c.caBundle), [CA_KEY]: b64(c.caKey) };
}

/** When the serving certificate expires and is due for renewal, for people reading the Secret. */
function annotations(c: SecretContents): Record<string, string> {
  const leaf = certificateFacts(c.tlsCert);
  if (!leaf) return {};
  return { [EXPIRES_ANNOTATION]: kubeTime(leaf.notAfter), [RENEWS_ANNOTATION]: kubeTime(renewalTime(leaf.notBefore, leaf.notAfter)) };
}

/** The Secret as first created. */
export function certificateSecret(settings: Pick<SelfManagedSettings, 'namespace' | 'secretName'>, contents: SecretContents): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: settings.secretName,
      namespace: settings.namespace,
      labels: { ...CERTIFICATE_SECRET_LABELS },
      annotations: annotations(contents),
    },
    type: 'kubernetes.io/tls',
    data: data(contents),
  };
}

/**
 * A merge patch that replaces the Secret's entries, applied only if the Secret is still at
 * `resourceVersion` (the API server answers 409 Conflict otherwise), so two writers never
 * overwrite each other's certificates.
 */
export function secretContentsPatch(resourceVersion: string, contents: SecretContents): Record<string, unknown> {
  return { metadata: { resourceVersion, annotations: annotations(contents) }, data: data(contents) };
}

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  op: 'add' | 'test';
  path: string;
  value: unknown;
}

function webhooksOf(configuration: V1MutatingWebhookConfiguration): Array<{ name: string; caBundle: string }> {
  return (configuration.webhooks ?? []).map((w) => ({ name: w.name, caBundle: unb64(w.clientConfig?.caBundle) }));
}

/** Every webhook of the configuration trusts exactly `bundle`. */
export function configurationCarries(configuration: V1MutatingWebhookConfiguration, bundle: string): boolean {
  return webhooksOf(configuration).every((w) => w.caBundle === bundle);
}

/** The webhooks whose caBundle is empty (wiped, or never written). */
export function webhooksWithoutBundle(configuration: V1MutatingWebhookConfiguration): string[] {
  return webhooksOf(configuration)
    .filter((w) => w.caBundle === '')
    .map((w) => w.name);
}

/**
 * A JSON patch that sets the caBundle of every webhook that does not carry `bundle` yet. Each
 * write is guarded by a test of the webhook's name at that index, so a list reordered meanwhile
 * makes the patch fail instead of writing into the wrong webhook. Empty when nothing differs.
 */
export function caBundlePatch(configuration: V1MutatingWebhookConfiguration, bundle: string): JsonPatchOperation[] {
  const value = b64(bundle);
  return webhooksOf(configuration).flatMap((w, i) =>
    w.caBundle === bundle
      ? []
      : [
          { op: 'test' as const, path: `/webhooks/${i}/name`, value: w.name },
          { op: 'add' as const, path: `/webhooks/${i}/clientConfig/caBundle`, value },
        ],
  );
}
