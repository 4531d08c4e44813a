import { expect } from 'chai';
import { caSwitchDelayMs, renewalTime } from '../../../../src/webhook/certificates/settings.js';
import { certificateFacts } from '../../../../src/webhook/certificates/certificate-facts.js';
import { planCertificates, type CertificateObservation } from '../../../../src/webhook/certificates/rotation-plan.js';
import { HOUR, SETTINGS, T0, configurationWith, contentsOf, newCa, newServing, secretOf } from './fixtures.js';

const plan = (o: Partial<CertificateObservation>) => planCertificates({ now: T0, settings: SETTINGS, ...o });

describe('rotation plan of self-managed webhook certificates', () => {
  it('creates the Secret when there is none, and leaves a Secret that is not ours alone', async () => {
    expect(plan({}).action).to.equal('create');
    const ca = await newCa(T0);
    const foreign = secretOf(contentsOf([ca], await newServing(ca, T0)), { app: 'someone-else' });
    expect(plan({ secret: foreign })).to.deep.equal({ action: 'foreign' });
  });

  it('writes the bundle into every webhook that lacks it, then sleeps until the serving certificate is due', async () => {
    const ca = await newCa(T0);
    const serving = await newServing(ca, T0);
    const secret = secretOf(contentsOf([ca], serving));
    const step = plan({ secret, configuration: configurationWith(undefined, ca.certPem) });
    expect(step.action).to.equal('publish');
    if (step.action !== 'publish') return;
    expect(step.emptied).to.deep.equal(['pods.paddlepaddle.org']);
    expect(step.patch).to.deep.equal([
      { op: 'test', path: '/webhooks/0/name', value: 'pods.paddlepaddle.org' },
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: Buffer.from(ca.certPem).toString('base64') },
    ]);
    const f = certificateFacts(serving.certPem)!;
    expect(plan({ secret, configuration: configurationWith(ca.certPem) })).to.deep.equal({
      action: 'idle',
      nextCheckAt: renewalTime(f.notBefore, f.notAfter),
    });
    // with no configuration there is nothing to publish: the certificates are still kept
    expect(plan({ secret }).action).to.equal('idle');
  });

  it('renews the serving certificate once less than a third of its life is left', async () => {
    const ca = await newCa(T0);
    const serving = await newServing(ca, T0);
    const secret = secretOf(contentsOf([ca], serving));
    const configuration = configurationWith(ca.certPem);
    const f = certificateFacts(serving.certPem)!;
    const due = renewalTime(f.notBefore, f.notAfter);
    expect(plan({ now: due - 1000, secret, configuration }).action).to.equal('idle');
    const step = plan({ now: due + 1000, secret, configuration });
    expect(step).to.include({ action: 'issue-serving' });
    if (step.action === 'issue-serving') expect(step.reason).to.match(/^it expires at 2030-01-01T01:00:00Z$/);
  });

  it('reissues a serving certificate for other names, with a foreign key, or missing, at once', async () => {
    const ca = await newCa(T0);
    const configuration = configurationWith(ca.certPem);
    const good = await newServing(ca, T0);
    const renamed = plan({ secret: secretOf(contentsOf([ca], good)), configuration, settings: { ...SETTINGS, extraSans: ['10.0.0.9'] } });
    expect(renamed).to.include({ action: 'issue-serving' });
    if (renamed.action === 'issue-serving') expect(renamed.reason).to.include('10.0.0.9');
    const other = await newServing(ca, T0);
    const mismatched = plan({ secret: secretOf({ ...contentsOf([ca], good), tlsKey: other.keyPem }), configuration });
    expect(mismatched).to.include({ action: 'issue-serving', reason: 'tls.key does not belong to tls.crt' });
    const missing = plan({ secret: secretOf({ ...contentsOf([ca], good), tlsCert: '' }), configuration });
    expect(missing).to.include({ action: 'issue-serving', reason: 'the Secret holds no readable serving certificate' });
  });

  it('rotates the CA in steps: a new CA beside the old one, the bundle published, the serving certificate moved after a delay, the old CA dropped when it expires', async () => {
    const oldCa = await newCa(T0);
    const oldFacts = certificateFacts(oldCa.certPem)!;
    const caDue = renewalTime(oldFacts.notBefore, oldFacts.notAfter);
    const oldServing = await newServing(oldCa, caDue - HOUR / 2);
    const before = secretOf(contentsOf([oldCa], oldServing));
    expect(plan({ now: caDue - 1000, secret: before, configuration: configurationWith(oldCa.certPem) }).action).to.equal('idle');

    // 1. a new CA, put first; the old one kept
    const staged = plan({ now: caDue + 1000, secret: before, configuration: configurationWith(oldCa.certPem) });
    expect(staged).to.include({ action: 'stage-ca' });
    if (staged.action === 'stage-ca') expect(staged.keep.map((c) => c.pem)).to.deep.equal([oldCa.certPem]);

    // 2. the Secret trusts both and signs with the new CA: publish both
    const t = caDue + 2000;
    const newCaCert = await newCa(t);
    const both = newCaCert.certPem + oldCa.certPem;
    const rotating = secretOf(contentsOf([newCaCert, oldCa], oldServing, newCaCert));
    expect(plan({ now: t, secret: rotating, configuration: configurationWith(oldCa.certPem) }).action).to.equal('publish');

    // 3. the serving certificate moves only once the configuration has carried the new bundle for a moment
    const carried = configurationWith(both);
    expect(plan({ now: t, secret: rotating, configuration: carried })).to.include({ action: 'wait' });
    const delay = caSwitchDelayMs(SETTINGS.servingValidityMs);
    expect(plan({ now: t + 10, secret: rotating, configuration: carried, bundleCarriedSince: t })).to.deep.equal({
      action: 'wait',
      reason: 'the API server is loading the new CA bundle',
      untilMs: t + delay,
    });
    const moved = plan({ now: t + delay, secret: rotating, configuration: carried, bundleCarriedSince: t });
    expect(moved).to.include({ action: 'issue-serving', reason: 'it was signed by an older CA' });
    if (moved.action === 'issue-serving') expect(moved.signer.pem).to.equal(newCaCert.certPem);
    // without a configuration nobody calls the webhook: no reason to wait
    expect(plan({ now: t, secret: rotating }).action).to.equal('issue-serving');

    // 4. the old CA stays in the bundle until it expires, then goes
    const newServingCert = await newServing(newCaCert, t + delay);
    const after = secretOf(contentsOf([newCaCert, oldCa], newServingCert, newCaCert));
    const idle = plan({ now: t + delay, secret: after, configuration: carried });
    expect(idle).to.include({ action: 'idle' });
    if (idle.action === 'idle') expect(idle.nextCheckAt).to.be.at.most(oldFacts.notAfter);
    const pruned = plan({ now: oldFacts.notAfter + 1, secret: after, configuration: carried });
    expect(pruned).to.deep.include({ action: 'write-bundle', bundle: newCaCert.certPem });
  });

  it('an expired serving certificate of an older CA is replaced at once (nothing to protect)', async () => {
    const oldCa = await newCa(T0);
    const newCaCert = await newCa(T0 + 5 * HOUR);
    const stale = await newServing(oldCa, T0);
    const secret = secretOf(contentsOf([newCaCert, oldCa], stale, newCaCert));
    const step = plan({ now: T0 + 5 * HOUR, secret, configuration: configurationWith(newCaCert.certPem + oldCa.certPem) });
    expect(step).to.include({ action: 'issue-serving', reason: 'it was signed by an older CA' });
  });

  it('replaces a CA whose key is missing or belongs to no CA of the bundle, keeping the CAs that still verify', async () => {
    const ca = await newCa(T0);
    const serving = await newServing(ca, T0);
    const noKey = plan({ secret: secretOf({ ...contentsOf([ca], serving), caKey: '' }) });
    expect(noKey).to.include({ action: 'stage-ca', reason: 'the Secret has no CA key' });
    if (noKey.action === 'stage-ca') expect(noKey.keep.map((c) => c.pem)).to.deep.equal([ca.certPem]);
    const wrongKey = plan({ secret: secretOf({ ...contentsOf([ca], serving), caKey: serving.keyPem }) });
    expect(wrongKey).to.include({ action: 'stage-ca', reason: 'the CA key belongs to no CA certificate in ca.crt' });
    const expired = plan({ now: T0 + 11 * HOUR, secret: secretOf(contentsOf([ca], serving)) });
    expect(expired).to.include({ action: 'stage-ca' });
    if (expired.action === 'stage-ca') expect(expired.keep).to.deep.equal([]);
  });

  it('rewrites a bundle with unreadable or repeated entries, or without the signing CA first', async () => {
    const [a, b] = await Promise.all([newCa(T0), newCa(T0 + 1)]);
    const serving = await newServing(a, T0);
    const garbled = secretOf({
      ...contentsOf([a], serving),
      caBundle: a.certPem + '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' + a.certPem,
    });
    expect(plan({ secret: garbled })).to.deep.include({
      action: 'write-bundle',
      bundle: a.certPem,
      reason: 'ca.crt holds 2 expired, unreadable or repeated entries',
    });
    const reordered = secretOf({ ...contentsOf([b, a], serving, a) });
    expect(plan({ secret: reordered })).to.deep.include({
      action: 'write-bundle',
      bundle: a.certPem + b.certPem,
      reason: 'ca.crt does not list the signing CA first',
    });
  });
});
