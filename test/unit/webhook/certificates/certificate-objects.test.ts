import { expect } from 'chai';
import {
  CA_BUNDLE,
  CA_KEY,
  EXPIRES_ANNOTATION,
  RENEWS_ANNOTATION,
  TLS_CERT,
  TLS_KEY,
  servingNames,
} from '../../../../src/webhook/certificates/settings.js';
import {
  caBundlePatch,
  certificateSecret,
  configurationCarries,
  isOurSecret,
  secretContents,
  secretContentsPatch,
  webhooksWithoutBundle,
} from '../../../../src/webhook/certificates/certificate-objects.js';
import { SETTINGS, T0, configurationWith, contentsOf, newCa, newServing } from './fixtures.js';

describe('objects of self-managed webhook certificates', () => {
  it('the Secret is a labelled kubernetes.io/tls Secret with ca.crt and ca.key, and says when the serving certificate expires and renews', async () => {
    const ca = await newCa(T0);
    const contents = contentsOf([ca], await newServing(ca, T0));
    const s = certificateSecret(SETTINGS, contents);
    expect(s.type).to.equal('kubernetes.io/tls');
    expect(s.metadata).to.deep.include({ name: 'paddle-operator-webhook-certs', namespace: 'paddle-system' });
    expect(s.metadata!.labels).to.deep.equal({
      'app.kubernetes.io/managed-by': 'paddle-operator',
      'app.kubernetes.io/component': 'webhook-certificates',
      'app.kubernetes.io/name': 'paddle-operator',
    });
    // a one-hour certificate backdated five minutes, renewed with a third of its 65 minutes left
    expect(s.metadata!.annotations).to.deep.equal({
      [EXPIRES_ANNOTATION]: '2030-01-01T01:00:00Z',
      [RENEWS_ANNOTATION]: '2030-01-01T00:38:20Z',
    });
    expect(Object.keys(s.data!).sort()).to.deep.equal([CA_BUNDLE, CA_KEY, TLS_CERT, TLS_KEY].sort());
    expect(secretContents(s)).to.deep.equal(contents);
    expect(isOurSecret(s)).to.equal(true);
    expect(isOurSecret({ ...s, metadata: { ...s.metadata, labels: { 'app.kubernetes.io/managed-by': 'paddle-operator' } } })).to.equal(
      false,
    );
    expect(secretContents({ data: {} })).to.deep.equal({ caBundle: '', caKey: '', tlsCert: '', tlsKey: '' });
  });

  it('a rewrite of the Secret is a merge patch guarded by the resourceVersion it was read at', async () => {
    const ca = await newCa(T0);
    const contents = contentsOf([ca], await newServing(ca, T0));
    const patch = secretContentsPatch('42', contents) as { metadata: { resourceVersion: string }; data: Record<string, string> };
    expect(patch.metadata.resourceVersion).to.equal('42');
    expect(patch.data).to.deep.equal(certificateSecret(SETTINGS, contents).data);
  });

  it('the caBundle patch touches only webhooks that lack the bundle, each guarded by its name', () => {
    expect(caBundlePatch(configurationWith('A'), 'A')).to.deep.equal([]);
    expect(configurationCarries(configurationWith('A'), 'A')).to.equal(true);
    expect(configurationCarries(configurationWith('A', 'B'), 'A')).to.equal(false);
    expect(webhooksWithoutBundle(configurationWith(undefined, 'A'))).to.deep.equal(['pods.paddlepaddle.org']);
    expect(caBundlePatch(configurationWith('A', 'old'), 'A')).to.deep.equal([
      { op: 'test', path: '/webhooks/1/name', value: 'other.paddlepaddle.org' },
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: Buffer.from('A').toString('base64') },
    ]);
    expect(configurationCarries({ metadata: { name: 'x' } }, 'A'), 'no webhooks: nothing to carry').to.equal(true);
  });

  it('the serving names are the Service DNS names plus the extra SANs, IPs apart', () => {
    expect(
      servingNames({ namespace: 'ns', serviceName: 'hook', extraSans: ['127.0.0.1', 'Hook.Example.com', 'hook.ns.svc', '::1'] }),
    ).to.deep.equal({
      dnsNames: ['hook.ns.svc', 'hook.ns.svc.cluster.local', 'hook.example.com'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
  });
});
