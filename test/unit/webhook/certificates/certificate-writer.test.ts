/**
 * CertificateWriter against an in-memory API server and a clock that only moves when told:
 * whole lifetimes of CAs and serving certificates pass in a second, and at every instant the
 * serving certificate in the Secret must verify against the bundle the webhook configuration
 * carries (what the API server trusts) — the property that makes rotations invisible to admissions.
 */
import { expect } from 'chai';
import type { KubernetesObject, V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { MUTATING_WEBHOOK_CONFIGURATION, SECRET, type ResourceType } from '../../../../src/api/constants.js';
import { ApiError } from '../../../../src/kube/api-error.js';
import { ManualClock } from '../../../../src/kube/clock.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { bundleFacts, certificateFacts, issuedBy, validAt } from '../../../../src/webhook/certificates/certificate-facts.js';
import { secretContents } from '../../../../src/webhook/certificates/certificate-objects.js';
import { CertificateWriter, LOOK_AGAIN_MS, type CertificateWriterDeps } from '../../../../src/webhook/certificates/certificate-writer.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { HOUR, SETTINGS, T0, configurationWith } from './fixtures.js';

interface JsonOp {
  op: string;
  path: string;
  value: unknown;
}

/** The API as the writer calls it: the fake cluster, plus the two JSON patch operations the writer sends. */
function writerApi(cluster: FakeCluster): CertificateWriterDeps['api'] {
  return {
    create: (t, o, ns) => cluster.api.create(t, o, ns),
    patch: async <T extends KubernetesObject>(t: ResourceType, name: string, ns: string | undefined, patch: unknown, type?: string) => {
      if (type !== 'json') return cluster.api.patch<T>(t, name, ns, patch, type);
      const cur = cluster.get<KubernetesObject>(t, name, ns);
      if (!cur) throw new ApiError(404, 'NotFound', 'not found');
      const next = JSON.parse(JSON.stringify(cur)) as Record<string, unknown>;
      for (const op of patch as JsonOp[]) {
        const keys = op.path.split('/').slice(1);
        const last = keys.pop()!;
        const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, next);
        if (op.op === 'test' && JSON.stringify(parent[last]) !== JSON.stringify(op.value))
          throw new ApiError(422, 'Invalid', 'test failed');
        if (op.op === 'add') parent[last] = op.value;
      }
      return cluster.put(t, next as unknown as T);
    },
  };
}

function setup(settings = SETTINGS) {
  const cluster = new FakeCluster();
  const clock = new ManualClock(T0);
  const events: Array<{ type: string; reason: string; message: string }> = [];
  const deps: CertificateWriterDeps = {
    api: writerApi(cluster),
    events: { record: async (_o, type, reason, message) => void events.push({ type, reason, message }) },
    logger: createLogger({ silent: true }),
    clock,
  };
  const secret = () => cluster.get<V1Secret>(SECRET, settings.secretName, settings.namespace);
  const configuration = () => cluster.get<V1MutatingWebhookConfiguration>(MUTATING_WEBHOOK_CONFIGURATION, settings.configurationName);
  const writer = new CertificateWriter(deps, settings);
  return { cluster, clock, events, deps, secret, configuration, writer, pass: () => writer.reconcile(secret(), configuration()) };
}

/** The serving certificate in the Secret verifies, at `now`, against the bundle of every webhook in the configuration. */
function servingVerifies(secret: V1Secret, configuration: V1MutatingWebhookConfiguration, now: number): boolean {
  const serving = certificateFacts(secretContents(secret).tlsCert);
  if (!serving || !validAt(serving, now)) return false;
  return (configuration.webhooks ?? []).every((w) => {
    const trusted = bundleFacts(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString()).certificates;
    return trusted.some((ca) => validAt(ca, now) && issuedBy(serving, ca));
  });
}

describe('CertificateWriter over whole certificate lifetimes (in-memory API, manual clock)', function () {
  this.timeout(60_000);

  it('creates, publishes, renews and rotates the CA over three CA lifetimes without a moment the served certificate fails to verify', async () => {
    const w = setup();
    w.cluster.put(MUTATING_WEBHOOK_CONFIGURATION, configurationWith(undefined));
    const servingSeen = new Set<string>();
    const casSeen = new Set<string>();
    let verifiedSince: number | undefined;
    const end = T0 + 3 * SETTINGS.caValidityMs;
    while (w.clock.now() < end) {
      const wait = await w.pass();
      const secret = w.secret()!;
      const contents = secretContents(secret);
      servingSeen.add(contents.tlsCert);
      for (const ca of bundleFacts(contents.caBundle).certificates) casSeen.add(ca.fingerprint);
      const ok = servingVerifies(secret, w.configuration()!, w.clock.now());
      if (ok) verifiedSince ??= w.clock.now();
      else expect(verifiedSince, `the served certificate stopped verifying at +${(w.clock.now() - T0) / HOUR} h`).to.equal(undefined);
      // time moves on by what the writer asked for, sampled at least every few minutes
      w.clock.advance(Math.max(1, Math.min(wait, 10 * 60_000)));
    }
    expect(verifiedSince, 'verifies from the pass after the creation on, when the bundle is published').to.equal(T0 + LOOK_AGAIN_MS);
    // a one-hour serving certificate lasts 65 minutes (five backdated) and is renewed after 2/3 of
    // them: ~42 in 30 hours, one more each time a new CA takes over, a few more when one is cut
    // short by the end of its CA
    expect(servingSeen.size).to.be.within(45, 55);
    expect(casSeen.size, 'a new CA every 2/3 of ten hours').to.equal(5);
    const reasons = new Set(w.events.map((e) => e.reason));
    expect([...reasons].sort()).to.deep.equal([
      'CABundlePublished',
      'CABundleUpdated',
      'CARotated',
      'CertificatesCreated',
      'ServingCertificateIssued',
    ]);
    expect(w.events.filter((e) => e.type === 'Warning')).to.deep.equal([]);
    // no key material in any message
    expect(w.events.filter((e) => /PRIVATE KEY|BEGIN/.test(e.message))).to.deep.equal([]);
  });

  it('repairs a deleted Secret and a wiped caBundle, and says so', async () => {
    const w = setup();
    w.cluster.put(MUTATING_WEBHOOK_CONFIGURATION, configurationWith(undefined));
    while ((await w.pass()) === LOOK_AGAIN_MS);
    expect(servingVerifies(w.secret()!, w.configuration()!, w.clock.now())).to.equal(true);
    const firstCa = secretContents(w.secret()!).caBundle;

    w.cluster.put(MUTATING_WEBHOOK_CONFIGURATION, configurationWith(undefined, firstCa));
    await w.pass();
    expect(w.events.at(-1)).to.deep.include({ reason: 'CABundlePublished' });
    expect(w.events.at(-1)!.message).to.match(/\(it was missing from pods\.paddlepaddle\.org\)$/);
    expect(servingVerifies(w.secret()!, w.configuration()!, w.clock.now())).to.equal(true);

    w.cluster.remove(SECRET, SETTINGS.secretName, SETTINGS.namespace);
    while ((await w.pass()) === LOOK_AGAIN_MS);
    expect(w.events.map((e) => e.reason)).to.include('CertificatesCreated');
    expect(
      w.events.find((e) => e.reason === 'CertificatesCreated' && e.message.endsWith('because the Secret does not exist')),
    ).to.not.equal(undefined);
    expect(secretContents(w.secret()!).caBundle).to.not.equal(firstCa);
    expect(servingVerifies(w.secret()!, w.configuration()!, w.clock.now())).to.equal(true);
  });

  it('says when the webhook configuration is missing, and never writes a Secret that is not ours', async () => {
    const w = setup();
    await w.pass();
    await w.pass();
    expect(w.events.filter((e) => e.type === 'Warning').map((e) => e.reason)).to.deep.equal(['WebhookConfigurationNotFound']);
    const other = setup();
    other.cluster.put(SECRET, {
      metadata: { name: SETTINGS.secretName, namespace: SETTINGS.namespace },
      type: 'kubernetes.io/tls',
      data: {},
    });
    await other.pass();
    expect(other.events.map((e) => e.reason)).to.include('SecretNotManaged');
    expect(other.cluster.api.writes()).to.deep.equal([]);
  });

  it('a create refused for a missing namespace is an error to back off from, not a race to retry at once', async () => {
    const w = setup();
    w.cluster.api.failNext = {
      match: (c) => c.verb === 'create',
      count: 1,
      error: () => new ApiError(404, 'NotFound', 'namespaces "paddle-system" not found'),
    };
    let failure: unknown;
    await w.pass().catch((e: unknown) => (failure = e));
    expect((failure as Error)?.message).to.match(/namespaces "paddle-system" not found/);
    expect(await w.pass()).to.equal(LOOK_AGAIN_MS);
    expect(w.secret()).to.not.equal(undefined);
  });

  it('two writers at once: one creates, the other finds it there; a write from a stale read loses with a conflict', async () => {
    const a = setup();
    const b = new CertificateWriter({ ...a.deps }, SETTINGS);
    await Promise.all([a.writer.reconcile(undefined, undefined), b.reconcile(undefined, undefined)]);
    expect(a.cluster.api.writes().map((c) => c.verb)).to.deep.equal(['create', 'create']);
    const created = a.secret()!;
    // b still sees the Secret as first created while a has moved it on (expired CA: a new one)
    a.clock.advance(SETTINGS.caValidityMs);
    await a.writer.reconcile(created, undefined);
    const moved = a.secret()!;
    expect(moved.metadata!.resourceVersion).to.not.equal(created.metadata!.resourceVersion);
    expect(await b.reconcile(created, undefined)).to.equal(LOOK_AGAIN_MS);
    expect(a.secret()).to.deep.equal(moved);
  });
});
