/**
 * What a PEM certificate says, read with Node's own X.509 parser: validity, names, whether it is
 * a CA, who signed it, whether a key belongs to it. Pure (no I/O), and never throws on bad input:
 * a block that does not parse is reported as a problem.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';

export interface CertificateFacts {
  pem: string;
  cert: X509Certificate;
  notBefore: number;
  notAfter: number;
  /** SHA-256 fingerprint, for logs and for telling CAs apart (never key material). */
  fingerprint: string;
  isCa: boolean;
  dnsNames: string[];
  ipAddresses: string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each as its own PEM block (anything between them is dropped). */
export function splitPem(bundle: string): string[] {
  return [...bundle.matchAll(PEM_CERTIFICATE)].map((m) => m[0] + '\n');
}

/** Reads one PEM certificate; undefined when it does not parse. */
export function certificateFacts(pem: string): CertificateFacts | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const names = (cert.subjectAltName ?? '').split(', ').filter(Boolean);
  return {
    pem,
    cert,
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
    fingerprint: cert.fingerprint256,
    isCa: cert.ca,
    dnsNames: names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
    ipAddresses: names.filter((n) => n.startsWith('IP Address:')).map((n) => n.slice(11)),
  };
}

/** Every certificate of a PEM bundle; `unreadable` counts the blocks that did not parse. */
export function bundleFacts(bundle: string): { certificates: CertificateFacts[]; unreadable: number } {
  const certificates: CertificateFacts[] = [];
  let unreadable = 0;
  for (const pem of splitPem(bundle)) {
    const f = certificateFacts(pem);
    if (f) certificates.push(f);
    else unreadable++;
  }
  return { certificates, unreadable };
}

/** The private key (PEM) belongs to the certificate. */
export function keyMatches(cert: CertificateFacts, keyPem: string): boolean {
  try {
    return cert.cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** `ca` signed `cert` (names and signature both check out). */
export function issuedBy(cert: CertificateFacts, ca: CertificateFacts): boolean {
  try {
    return cert.cert.checkIssued(ca.cert) && cert.cert.verify(ca.cert.publicKey);
  } catch {
    return false;
  }
}

/** `now` lies within the certificate's validity. */
export function validAt(cert: CertificateFacts, now: number): boolean {
  return cert.notBefore <= now && now < cert.notAfter;
}

/** Same members, in any order. */
export function sameNames(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
