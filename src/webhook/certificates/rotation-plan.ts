/**
 * The next step for self-managed webhook certificates, decided from what the operator sees (the
 * Secret, the webhook configuration, the time) and nothing else: a pure function, so the whole
 * lifecycle — creation, renewal, CA rotation, repairs — is tested with a clock and no waiting.
 *
 * The order of the steps is what keeps every admission verifiable:
 *  1. no Secret: create it with a new CA and a serving certificate;
 *  2. the signing CA is missing, unusable or in the last third of its life: create a new CA and put
 *     it first in the bundle, keeping the older CAs there until they expire (the serving
 *     certificate is not touched yet);
 *  3. the bundle holds expired or unreadable entries: rewrite it without them;
 *  4. a webhook of the configuration does not carry the bundle: write it there;
 *  5. the serving certificate is missing, broken, for other names, in the last third of its life,
 *     or signed by an older CA: issue a new one. When only the CA differs, and the current one
 *     still verifies, wait until the configuration has carried the new CA for a moment, so the API
 *     server trusts the new certificate before any replica presents it;
 *  6. otherwise nothing, until the earliest renewal or expiry.
 */
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { kubeTime } from '../../api/time.js';
import { bundleFacts, certificateFacts, issuedBy, keyMatches, sameNames, validAt, type CertificateFacts } from './certificate-facts.js';
import {
  caBundlePatch,
  isOurSecret,
  secretContents,
  webhooksWithoutBundle,
  type JsonPatchOperation,
  type SecretContents,
} from './certificate-objects.js';
import { caSwitchDelayMs, renewalTime, servingNames, type SelfManagedSettings } from './settings.js';

/** What the Secret holds, read and cross-checked. */
export interface CertificateSecretState {
  contents: SecretContents;
  /** The readable certificates of ca.crt. */
  cas: CertificateFacts[];
  /** Blocks of ca.crt that did not parse. */
  unreadable: number;
  /** The CA whose key is ca.key, if it is in ca.crt. */
  signingCa?: CertificateFacts;
  serving?: CertificateFacts;
  servingKeyMatches: boolean;
  /** The CA of ca.crt that signed the serving certificate. */
  servingIssuer?: CertificateFacts;
}

export function readCertificateSecret(secret: V1Secret): CertificateSecretState {
  const contents = secretContents(secret);
  const { certificates: cas, unreadable } = bundleFacts(contents.caBundle);
  const signingCa = contents.caKey ? cas.find((c) => c.isCa && keyMatches(c, contents.caKey)) : undefined;
  const serving = certificateFacts(contents.tlsCert);
  return {
    contents,
    cas,
    unreadable,
    signingCa,
    serving,
    servingKeyMatches: serving !== undefined && keyMatches(serving, contents.tlsKey),
    servingIssuer: serving && cas.find((c) => issuedBy(serving, c)),
  };
}

export interface CertificateObservation {
  now: number;
  settings: SelfManagedSettings;
  /** The Secret as last seen (undefined: there is none). */
  secret?: V1Secret;
  /** The webhook configuration as last seen (undefined: there is none). */
  configuration?: V1MutatingWebhookConfiguration;
  /** Since when this process has seen the configuration carry the Secret's current bundle (undefined: it does not). */
  bundleCarriedSince?: number;
}

export type CertificateStep =
  | { action: 'create'; reason: string }
  | { action: 'foreign' }
  | { action: 'stage-ca'; reason: string; keep: CertificateFacts[] }
  | { action: 'write-bundle'; reason: string; bundle: string }
  | { action: 'publish'; patch: JsonPatchOperation[]; emptied: string[] }
  | { action: 'issue-serving'; reason: string; signer: CertificateFacts }
  | { action: 'wait'; reason: string; untilMs?: number }
  | { action: 'idle'; nextCheckAt: number };

/** PEM bundle text of `cas`, in order. */
export function joinPem(cas: CertificateFacts[]): string {
  return cas.map((c) => c.pem).join('');
}

/** The CAs the bundle should hold: the signing CA first, then every other readable CA that has not expired. */
export function desiredBundle(state: CertificateSecretState, signingCa: CertificateFacts, now: number): CertificateFacts[] {
  const others = state.cas.filter((c) => c.fingerprint !== signingCa.fingerprint && c.isCa && now < c.notAfter);
  const unique = others.filter((c, i) => others.findIndex((o) => o.fingerprint === c.fingerprint) === i);
  return [signingCa, ...unique];
}

/** Why the signing CA must be replaced now, or undefined. */
function caProblem(state: CertificateSecretState, now: number): string | undefined {
  const ca = state.signingCa;
  if (!state.contents.caKey) return 'the Secret has no CA key';
  if (!ca) return 'the CA key belongs to no CA certificate in ca.crt';
  if (now >= ca.notAfter) return `the CA expired at ${kubeTime(ca.notAfter)}`;
  if (now >= renewalTime(ca.notBefore, ca.notAfter)) return `the CA expires at ${kubeTime(ca.notAfter)}`;
  return undefined;
}

/** Why the serving certificate must be reissued now (and whether only its CA differs), or undefined. */
function servingProblem(
  state: CertificateSecretState,
  signingCa: CertificateFacts,
  o: CertificateObservation,
): { reason: string; caSwitch: boolean } | undefined {
  const s = state.serving;
  if (!s) return { reason: 'the Secret holds no readable serving certificate', caSwitch: false };
  if (!state.servingKeyMatches) return { reason: 'tls.key does not belong to tls.crt', caSwitch: false };
  if (!issuedBy(s, signingCa)) return { reason: 'it was signed by an older CA', caSwitch: true };
  const want = servingNames(o.settings);
  if (!sameNames(s.dnsNames, want.dnsNames) || !sameNames(s.ipAddresses, want.ipAddresses))
    return { reason: `its names differ from ${[...want.dnsNames, ...want.ipAddresses].join(', ')}`, caSwitch: false };
  if (o.now >= renewalTime(s.notBefore, s.notAfter)) return { reason: `it expires at ${kubeTime(s.notAfter)}`, caSwitch: false };
  return undefined;
}

export function planCertificates(o: CertificateObservation): CertificateStep {
  const { now, secret, configuration } = o;
  if (!secret) return { action: 'create', reason: 'the Secret does not exist' };
  if (!isOurSecret(secret)) return { action: 'foreign' };
  const state = readCertificateSecret(secret);

  const caReason = caProblem(state, now);
  if (caReason || !state.signingCa) {
    const keep = state.cas.filter((c) => c.isCa && now < c.notAfter);
    return { action: 'stage-ca', reason: caReason ?? 'no signing CA', keep };
  }
  const signingCa = state.signingCa;

  const wanted = desiredBundle(state, signingCa, now);
  const bundle = joinPem(wanted);
  if (bundle !== state.contents.caBundle) {
    const dropped = state.cas.length + state.unreadable - wanted.length;
    const reason =
      dropped > 0
        ? `ca.crt holds ${dropped} expired, unreadable or repeated entr${dropped === 1 ? 'y' : 'ies'}`
        : 'ca.crt does not list the signing CA first';
    return { action: 'write-bundle', reason, bundle };
  }

  if (configuration) {
    const patch = caBundlePatch(configuration, bundle);
    if (patch.length > 0) return { action: 'publish', patch, emptied: webhooksWithoutBundle(configuration) };
  }

  const problem = servingProblem(state, signingCa, o);
  if (problem) {
    const s = state.serving;
    const stillVerifies =
      s !== undefined &&
      state.servingKeyMatches &&
      validAt(s, now) &&
      state.servingIssuer !== undefined &&
      validAt(state.servingIssuer, now);
    if (problem.caSwitch && stillVerifies && configuration) {
      if (o.bundleCarriedSince === undefined) return { action: 'wait', reason: 'the webhook configuration does not carry the new CA yet' };
      const at = o.bundleCarriedSince + caSwitchDelayMs(o.settings.servingValidityMs);
      if (now < at) return { action: 'wait', reason: 'the API server is loading the new CA bundle', untilMs: at };
    }
    return { action: 'issue-serving', reason: problem.reason, signer: signingCa };
  }

  const s = state.serving!;
  const times = [
    renewalTime(s.notBefore, s.notAfter),
    renewalTime(signingCa.notBefore, signingCa.notAfter),
    ...state.cas.filter((c) => c.fingerprint !== signingCa.fingerprint).map((c) => c.notAfter),
  ];
  return { action: 'idle', nextCheckAt: Math.min(...times) };
}
