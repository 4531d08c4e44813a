/**
 * What the operator is told about the certificate it manages for its own webhook, and the fixed
 * names and timing rules every part of that management agrees on.
 */
import { isIP } from 'node:net';
import { CREATED_BY_LABEL, CREATED_BY_VALUE } from '../../api/constants.js';

export interface SelfManagedSettings {
  /** Namespace of the webhook Service and of the Secret holding the certificates. */
  namespace: string;
  secretName: string;
  /** The Service the API server calls the webhook through (the serving certificate names it). */
  serviceName: string;
  /** The MutatingWebhookConfiguration whose webhooks get the CA bundle. */
  configurationName: string;
  /** More DNS names and IP addresses the serving certificate is valid for (e.g. 127.0.0.1 for a local API server). */
  extraSans: string[];
  /** Lifetime of each serving certificate, in milliseconds. */
  servingValidityMs: number;
  /** Lifetime of each CA, in milliseconds. */
  caValidityMs: number;
}

/** Keys of the Secret: the `kubernetes.io/tls` pair, the CA bundle clients trust, and the signing CA's key. */
export const TLS_CERT = 'tls.crt';
export const TLS_KEY = 'tls.key';
export const CA_BUNDLE = 'ca.crt';
export const CA_KEY = 'ca.key';

/** Labels of the Secret; the first two say it is ours (a Secret without them is never written). */
export const CERTIFICATE_SECRET_LABELS: Record<string, string> = {
  [CREATED_BY_LABEL]: CREATED_BY_VALUE,
  'app.kubernetes.io/component': 'webhook-certificates',
  'app.kubernetes.io/name': 'paddle-operator',
};
/** Annotations for people reading the Secret (`kubectl describe`): when the serving certificate expires and is renewed. */
export const EXPIRES_ANNOTATION = 'paddlepaddle.org/serving-certificate-expires';
export const RENEWS_ANNOTATION = 'paddlepaddle.org/serving-certificate-renews';

/**
 * Subject common name of a CA the operator creates at `now`: unique per CA (as kube's own
 * self-signed CAs are), so a client holding an old and a new CA never confuses the two by name.
 */
export function caCommonName(now: number): string {
  return `paddle-operator-webhook-ca@${now}`;
}

/** The DNS names and IP addresses the serving certificate must carry. */
export function servingNames(s: Pick<SelfManagedSettings, 'namespace' | 'serviceName' | 'extraSans'>): {
  dnsNames: string[];
  ipAddresses: string[];
} {
  const dns = [`${s.serviceName}.${s.namespace}.svc`, `${s.serviceName}.${s.namespace}.svc.cluster.local`];
  const ips: string[] = [];
  for (const san of s.extraSans) {
    if (isIP(san)) {
      if (!ips.includes(san)) ips.push(san);
    } else if (!dns.includes(san.toLowerCase())) dns.push(san.toLowerCase());
  }
  return { dnsNames: dns, ipAddresses: ips };
}

/**
 * How far back a new certificate's validity starts, so that a peer whose clock runs a little
 * behind already accepts it: five minutes, or a tenth of a short lifetime.
 */
export function backdateMs(validityMs: number): number {
  return Math.min(5 * 60_000, Math.floor(validityMs / 10));
}

/** A certificate is renewed once less than a third of its lifetime is left. */
export function renewalTime(notBefore: number, notAfter: number): number {
  return notAfter - Math.floor((notAfter - notBefore) / 3);
}

/**
 * After a new CA enters the webhook configuration's caBundle, the serving certificate it signs is
 * issued only this long after the operator saw the configuration carry it, so every API server
 * has loaded the new bundle before any replica presents a certificate that needs it.
 */
export function caSwitchDelayMs(servingValidityMs: number): number {
  return Math.min(10_000, Math.floor(servingValidityMs / 10));
}
