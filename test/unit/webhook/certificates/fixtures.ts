/** Certificates, Secrets and webhook configurations for the self-managed certificate tests. */
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { certificateSecret, type SecretContents } from '../../../../src/webhook/certificates/certificate-objects.js';
import { backdateMs, servingNames, type SelfManagedSettings } from '../../../../src/webhook/certificates/settings.js';
import { issueCa, issueServingCertificate, type IssuedCertificate } from '../../../../src/webhook/certificates/x509-issuer.js';

export const HOUR = 3_600_000;
export const T0 = Date.parse('2030-01-01T00:00:00Z');

export const SETTINGS: SelfManagedSettings = {
  namespace: 'paddle-system',
  secretName: 'paddle-operator-webhook-certs',
  serviceName: 'paddle-operator-webhook',
  configurationName: 'paddle-operator-pod-cache-affinity',
  extraSans: ['127.0.0.1'],
  servingValidityMs: HOUR,
  caValidityMs: 10 * HOUR,
};

export function newCa(at: number, validityMs = SETTINGS.caValidityMs): Promise<IssuedCertificate> {
  return issueCa(`ca@${at}`, { notBefore: new Date(at - backdateMs(validityMs)), notAfter: new Date(at + validityMs) });
}

export function newServing(ca: IssuedCertificate, at: number, settings: SelfManagedSettings = SETTINGS): Promise<IssuedCertificate> {
  const names = servingNames(settings);
  return issueServingCertificate(ca, {
    commonName: names.dnsNames[0],
    ...names,
    notBefore: new Date(at - backdateMs(settings.servingValidityMs)),
    notAfter: new Date(at + settings.servingValidityMs),
  });
}

let rv = 100;
/** The Secret as the API server would return it. */
export function secretOf(contents: SecretContents, labels?: Record<string, string>): V1Secret {
  const s = certificateSecret(SETTINGS, contents);
  s.metadata!.resourceVersion = String(rv++);
  s.metadata!.uid = 'secret-uid';
  if (labels) s.metadata!.labels = labels;
  return s;
}

export function contentsOf(cas: IssuedCertificate[], serving: IssuedCertificate, signer = cas[0]): SecretContents {
  return { caBundle: cas.map((c) => c.certPem).join(''), caKey: signer.keyPem, tlsCert: serving.certPem, tlsKey: serving.keyPem };
}

/** A configuration with two webhooks trusting `bundle` (undefined: no caBundle). */
export function configurationWith(bundle?: string, second = bundle): V1MutatingWebhookConfiguration {
  const b = (x?: string) => (x === undefined ? undefined : Buffer.from(x).toString('base64'));
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: SETTINGS.configurationName, resourceVersion: '7' },
    webhooks: [
      { name: 'pods.paddlepaddle.org', clientConfig: { caBundle: b(bundle) }, admissionReviewVersions: ['v1'], sideEffects: 'None' },
      { name: 'other.paddlepaddle.org', clientConfig: { caBundle: b(second) }, admissionReviewVersions: ['v1'], sideEffects: 'None' },
    ],
  };
}
