/**
 * Makes the certificates: a self-signed CA and serving certificates it signs, ECDSA P-256 with
 * SHA-256, through @peculiar/x509 on Node's WebCrypto (Node cannot build X.509 certificates by
 * itself, and the operator image has no openssl). No I/O; keys leave only as PEM in the result.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const crypto = webcrypto;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** A certificate and its private key, both PEM (the key PKCS #8). */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** A positive 128-bit serial number in hex (the top bit clear, so DER needs no sign byte). */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

/** PEM text ends with a newline, so PEM blocks can be concatenated into a bundle as they are. */
async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n';
}

function certificatePem(cert: x509.X509Certificate): string {
  return cert.toString('pem') + '\n';
}

/** A CA that may sign end-entity certificates only (path length 0). */
export async function issueCa(commonName: string, validity: Validity): Promise<IssuedCertificate> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: new x509.Name([{ CN: [commonName] }]),
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: certificatePem(cert), keyPem: await privateKeyPem(keys.privateKey) };
}

export interface ServingRequest extends Validity {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

/** A TLS server certificate for `request`'s names, signed by `ca`. */
export async function issueServingCertificate(ca: IssuedCertificate, request: ServingRequest): Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caDer = createPrivateKey(ca.keyPem).export({ format: 'der', type: 'pkcs8' });
  const signingKey = await crypto.subtle.importKey('pkcs8', caDer, ALGORITHM, false, ['sign']);
  const keys = await newKeyPair();
  const names: x509.JsonGeneralNames = [
    ...request.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...request.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: new x509.Name([{ CN: [request.commonName] }]),
      issuer: caCert.subjectName,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(names, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: certificatePem(cert), keyPem: await privateKeyPem(keys.privateKey) };
}
