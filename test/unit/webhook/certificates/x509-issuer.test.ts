import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { certificateFacts, issuedBy, keyMatches } from '../../../../src/webhook/certificates/certificate-facts.js';
import { issueCa, issueServingCertificate } from '../../../../src/webhook/certificates/x509-issuer.js';
import { tlsHandshake } from '../../../harness/tls-handshake.js';

const HOUR = 3_600_000;
const validity = (from: number, ms: number) => ({ notBefore: new Date(from), notAfter: new Date(from + ms) });

/** Handshakes with a TLS server serving `cert`/`key`, trusting `ca`, asking for `servername` (or the IP). */
async function handshake(cert: string, key: string, ca: string, servername?: string): Promise<string | undefined> {
  const server = tls.createServer({ cert, key }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await tlsHandshake({ port: (server.address() as AddressInfo).port, ca, servername });
  } finally {
    server.close();
  }
}

describe('x509 issuer (ECDSA P-256 through @peculiar/x509)', () => {
  it('makes a CA that may sign end-entity certificates only, and a serving certificate it signs for the given names', async () => {
    const now = Date.now();
    const ca = await issueCa('test-ca', validity(now - 1000, 10 * HOUR));
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).to.equal(true);
    expect(caCert.subject).to.equal('CN=test-ca');
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    expect(caCert.toLegacyObject().ext_key_usage).to.equal(undefined);
    expect(ca.keyPem).to.match(/^-----BEGIN PRIVATE KEY-----/);

    const serving = await issueServingCertificate(ca, {
      commonName: 'svc.ns.svc',
      dnsNames: ['svc.ns.svc', 'svc.ns.svc.cluster.local'],
      ipAddresses: ['127.0.0.1'],
      ...validity(now - 1000, HOUR),
    });
    const facts = certificateFacts(serving.certPem)!;
    const caFacts = certificateFacts(ca.certPem)!;
    expect(facts.isCa).to.equal(false);
    expect(facts.dnsNames).to.deep.equal(['svc.ns.svc', 'svc.ns.svc.cluster.local']);
    expect(facts.ipAddresses).to.deep.equal(['127.0.0.1']);
    expect(facts.notAfter - facts.notBefore).to.equal(HOUR);
    expect(Math.abs(facts.notBefore - (now - 1000))).to.be.below(1000);
    expect(issuedBy(facts, caFacts)).to.equal(true);
    expect(keyMatches(facts, serving.keyPem)).to.equal(true);
    expect(keyMatches(facts, ca.keyPem)).to.equal(false);
    expect(facts.cert.toLegacyObject().ext_key_usage).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
  });

  it('its certificates pass a real TLS handshake that verifies the chain and the name, and fail against another CA', async () => {
    const now = Date.now();
    const [ca, other] = await Promise.all([issueCa('ca-one', validity(now - 1000, HOUR)), issueCa('ca-two', validity(now - 1000, HOUR))]);
    const serving = await issueServingCertificate(ca, {
      commonName: 'svc.ns.svc',
      dnsNames: ['svc.ns.svc'],
      ipAddresses: ['127.0.0.1'],
      ...validity(now - 1000, HOUR),
    });
    expect(await handshake(serving.certPem, serving.keyPem, ca.certPem, 'svc.ns.svc')).to.equal(undefined);
    expect(await handshake(serving.certPem, serving.keyPem, ca.certPem)).to.equal(undefined); // by IP SAN
    expect(await handshake(serving.certPem, serving.keyPem, ca.certPem + other.certPem, 'svc.ns.svc')).to.equal(undefined);
    expect(await handshake(serving.certPem, serving.keyPem, ca.certPem, 'other.ns.svc')).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await handshake(serving.certPem, serving.keyPem, other.certPem, 'svc.ns.svc')).to.equal('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
