/**
 * Self-managed webhook certificates on the real API server, with two operator replicas: two
 * OperatorManagers built by the real composition root (leader election on a Lease, the operator's
 * ServiceAccount and its RBAC), each serving TLS from its CertificateSource (a minimal tls server
 * here; the webhook's own server is tested elsewhere). Short lifetimes (serving 10 s, CA 30 s) make
 * a minute hold several renewals, two CA rotations and a CA expiry. Checked:
 *  - only the leader writes the Secret and the webhook configuration; the standby only reads;
 *  - both replicas' chains verify against the caBundle in the real MutatingWebhookConfiguration,
 *    in a loop of handshakes through every rotation, with no failure;
 *  - a wiped caBundle and a deleted Secret are repaired, also by a standby that took over;
 *  - the webhook-certificates Role and the ClusterRole's rule on the configuration are enough on
 *    their own (a ServiceAccount with nothing else does the whole job).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import winston from 'winston';
import YAML from 'yaml';
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { EVENT, LEASE, MUTATING_WEBHOOK_CONFIGURATION, SECRET } from '../../src/api/constants.js';
import { parseOperatorConfig } from '../../src/config/operator-config.js';
import { buildContainer, TYPES } from '../../src/container.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { OperatorManager } from '../../src/manager.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { CertificateSource } from '../../src/webhook/certificate-source.js';
import { bundleFacts } from '../../src/webhook/certificates/certificate-facts.js';
import { SelfManagedCertificates } from '../../src/webhook/certificates/self-managed-certificates.js';
import { EventRecorder } from '../../src/kube/event-recorder.js';
import { systemClock } from '../../src/kube/clock.js';
import { tlsHandshake } from '../harness/tls-handshake.js';
import { waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { OPERATOR_NAMESPACE, operatorKubeConfig, serviceAccountKubeConfig } from './operator-context.js';
import { CONFIGURATION, SECRET_NAME, SERVICE_DNS, configuration, decode, serveTls, type Served } from './webhook-certificate-fixtures.js';

const ROTATION_MS = 50_000;
const MINIMAL_SA = 'webhook-certificates-only';

interface Replica {
  name: string;
  manager: OperatorManager;
  metrics: Metrics;
  source: CertificateSource;
  tls: Served;
}

describe('webhook certificates, self-managed, two replicas (real API server)', function () {
  this.timeout(300_000);
  const leaseId = `paddle-operator-certs-${crypto.randomBytes(3).toString('hex')}`;
  const replicas: Replica[] = [];
  let admin: KubeApi;
  let logFile: string;
  let logStream: fs.WriteStream;

  const bundles = (): Promise<string[]> =>
    admin
      .get<V1MutatingWebhookConfiguration>(MUTATING_WEBHOOK_CONFIGURATION, CONFIGURATION)
      .then((c) => (c?.webhooks ?? []).map((w) => decode(w.clientConfig.caBundle)));
  const secret = (): Promise<V1Secret | undefined> => admin.get<V1Secret>(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);

  /** Requests this replica's KubeApi made that change the Secret or the webhook configuration. */
  async function writes(r: Replica): Promise<number> {
    const { values } = await r.metrics.kubeRequests.get();
    const ours = ['secrets', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'];
    return values
      .filter((v) => ours.includes(String(v.labels.resource)) && ['create', 'patch'].includes(String(v.labels.verb)))
      .reduce((n, v) => n + v.value, 0);
  }
  const isLeader = async (r: Replica) => (await r.metrics.leader.get()).values[0]?.value === 1;

  /** JSON lines into the suite's log file, each tagged with the replica. */
  function replicaLogger(name: string): Logger {
    const logger = createLogger({ level: 'debug', format: 'json' }).clear();
    logger.add(new winston.transports.Stream({ stream: logStream }));
    logger.defaultMeta = { replica: name };
    return logger;
  }

  async function startReplica(name: string): Promise<Replica> {
    const config = parseOperatorConfig(
      [
        '--operators=',
        '--leader-elect=true',
        `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
        `--leader-election-id=${leaseId}`,
        '--lease-duration=4',
        '--renew-deadline=3',
        '--retry-period=1',
        '--metrics-bind-address=0',
        '--health-probe-bind-address=0',
        // each replica also runs the real webhook server on a port of its own
        '--webhook-bind-address=127.0.0.1:0',
        '--webhook-extra-sans=127.0.0.1',
        '--webhook-cert-validity=10s',
        '--webhook-ca-validity=30s',
      ],
      {},
    );
    const logger = replicaLogger(name);
    const metrics = new Metrics();
    const container = buildContainer(config, { kubeConfig: await operatorKubeConfig(), logger, metrics });
    const manager = new OperatorManager(container);
    await manager.start();
    const source = container.get(TYPES.WebhookCertificates);
    return { name, manager, metrics, source, tls: await serveTls(name, source) };
  }

  /** Handshakes with every replica, trusting the configuration's current bundle; the failures. */
  async function handshakeAll(bundle: string, servername: string | undefined = SERVICE_DNS, among = replicas): Promise<string[]> {
    const results = await Promise.all(among.map((r) => tlsHandshake({ port: r.tls.port, ca: bundle, servername })));
    return results.flatMap((e, i) => (e ? [`${among[i].name}: ${e}`] : []));
  }

  before(async function () {
    this.timeout(120_000);
    const cp = testCluster();
    admin = new KubeApi(cp.kubeConfig());
    await operatorKubeConfig();
    // other suites' operator processes may have left a Secret with default lifetimes
    await admin.delete(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);
    await admin.delete(MUTATING_WEBHOOK_CONFIGURATION, CONFIGURATION);
    await admin.create(MUTATING_WEBHOOK_CONFIGURATION, configuration());
    logFile = path.join(cp.runDir, `${leaseId}.log`);
    logStream = fs.createWriteStream(logFile);
    replicas.push(await startReplica('replica-a'), await startReplica('replica-b'));
  });

  after(async function () {
    this.timeout(60_000);
    for (const r of replicas) {
      await r.manager.stop(5000);
      if (r.tls.server.listening) r.tls.server.close();
    }
    await admin.delete(LEASE, leaseId, OPERATOR_NAMESPACE);
    await admin.delete(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);
    await admin.delete(MUTATING_WEBHOOK_CONFIGURATION, CONFIGURATION);
    logStream?.end();
  });

  it('only the leader writes; both replicas verify against the real caBundle through renewals, CA rotations and a CA expiry, with no failed handshake', async () => {
    const leader = await waitFor(
      'one leader',
      async () => {
        const flags = await Promise.all(replicas.map(isLeader));
        return flags.filter(Boolean).length === 1 ? replicas[flags.indexOf(true)] : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const standby = replicas.find((r) => r !== leader)!;
    await waitFor(
      'the caBundle in both webhooks',
      async () => ((await bundles()).every((b) => b.includes('BEGIN CERTIFICATE')) ? true : undefined),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );

    // the configuration's bundle, followed as the API server would follow it
    let bundle = (await bundles())[0];
    let polling = true;
    const bundleSizes: number[] = [];
    const casSeen = new Set<string>();
    const poll = (async () => {
      while (polling) {
        const all = await bundles();
        expect(new Set(all).size, 'every webhook carries the same bundle').to.equal(1);
        bundle = all[0];
        const cas = bundleFacts(bundle).certificates;
        for (const ca of cas) casSeen.add(ca.fingerprint);
        if (bundleSizes.at(-1) !== cas.length) bundleSizes.push(cas.length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const failures: string[] = [];
    let handshakes = 0;
    const swapsBefore = replicas.map((r) => r.tls.swaps);
    const t0 = Date.now();
    while (Date.now() - t0 < ROTATION_MS) {
      const failed = await handshakeAll(bundle, handshakes % 10 === 0 ? undefined : SERVICE_DNS);
      failures.push(...failed.map((f) => `${f} at +${((Date.now() - t0) / 1000).toFixed(1)} s`));
      handshakes += replicas.length;
      await new Promise((r) => setTimeout(r, 20));
    }
    polling = false;
    await poll;
    process.stderr.write(
      `      [certs] ${handshakes} handshakes, ${failures.length} failed; swaps per replica ${replicas.map((r, i) => r.tls.swaps - swapsBefore[i]).join('/')}; ` +
        `${casSeen.size} CAs; bundle sizes over time ${bundleSizes.join(' → ')}\n`,
    );
    expect(failures).to.deep.equal([]);
    expect(handshakes).to.be.greaterThan(200);
    // a serving certificate lives 11 s and is renewed after 2/3 of it: at least 5 in 50 s, on both replicas
    for (const [i, r] of replicas.entries()) expect(r.tls.swaps - swapsBefore[i], r.name).to.be.at.least(5);
    // a CA lives 33 s and is replaced after 22: two new CAs, each next to the old one, the old one dropped when it expired
    expect(casSeen.size).to.be.at.least(3);
    expect(bundleSizes.join(',')).to.match(/2,1/);

    expect(await writes(standby), 'the standby never wrote').to.equal(0);
    expect(await writes(leader)).to.be.greaterThan(10);

    const notes = (
      await admin.list<{ reason?: string; note?: string; regarding?: { name?: string }; metadata?: object }>(EVENT, OPERATOR_NAMESPACE)
    ).items.filter((e) => e.regarding?.name === SECRET_NAME);
    expect(new Set(notes.map((e) => e.reason))).to.include.members([
      'CertificatesCreated',
      'CABundlePublished',
      'ServingCertificateIssued',
      'CARotated',
      'CABundleUpdated',
    ]);
    for (const e of notes) expect(e.note).to.not.match(/BEGIN|PRIVATE/);
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log).to.include('webhook certificates: serving a new certificate');
    expect(log).to.not.match(/BEGIN|PRIVATE KEY/);
  });

  it('repairs a wiped caBundle and a deleted Secret', async () => {
    const carried = async (): Promise<string | undefined> => {
      const s = await secret();
      const all = await bundles();
      const want = decode(s?.data?.['ca.crt']);
      return want && all.every((b) => b === want) ? want : undefined;
    };
    await admin.patch(
      MUTATING_WEBHOOK_CONFIGURATION,
      CONFIGURATION,
      undefined,
      [
        { op: 'remove', path: '/webhooks/0/clientConfig/caBundle' },
        { op: 'remove', path: '/webhooks/1/clientConfig/caBundle' },
      ],
      'json',
    );
    const repaired = await waitFor('the caBundle back in both webhooks', carried, { timeoutMs: 15_000, intervalMs: 100 });
    expect(await handshakeAll(repaired)).to.deep.equal([]);

    const before = await secret();
    await admin.delete(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);
    const renewed = await waitFor(
      'a new Secret, its CA in both webhooks, and both replicas serving from it',
      async () => {
        const s = await secret();
        const bundle = await carried();
        if (!s || s.metadata?.uid === before?.metadata?.uid || !bundle) return undefined;
        return (await handshakeAll(bundle)).length === 0 ? bundle : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(bundleFacts(renewed).certificates.map((c) => c.fingerprint)).to.not.include.members(
      bundleFacts(decode(before?.data?.['ca.crt'])).certificates.map((c) => c.fingerprint),
    );
  });

  it('a standby that takes over the Lease takes over the writing: it recreates a deleted Secret', async () => {
    const leader = (await Promise.all(replicas.map(isLeader))).indexOf(true);
    const [gone, heir] = leader === 0 ? [replicas[0], replicas[1]] : [replicas[1], replicas[0]];
    await gone.manager.stop(5000);
    gone.tls.server.close();
    await waitFor('the standby to lead', async () => ((await isLeader(heir)) ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
    const writesBefore = await writes(heir);
    const before = await secret();
    await admin.delete(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);
    await waitFor(
      'the new leader to recreate the Secret, publish its CA and serve from it',
      async () => {
        const s = await secret();
        const all = await bundles();
        const want = decode(s?.data?.['ca.crt']);
        if (!s || s.metadata?.uid === before?.metadata?.uid || !all.every((b) => b === want)) return undefined;
        return (await handshakeAll(want, SERVICE_DNS, [heir])).length === 0 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(await writes(heir)).to.be.greaterThan(writesBefore);
  });

  it('the webhook-certificates Role and the ClusterRole rule on the webhook configuration suffice on their own', async () => {
    for (const r of replicas) await r.manager.stop(5000);
    const cp = testCluster();
    // a ServiceAccount granted only those rules (and Events), none of the ClusterRole's Secret access
    const clusterRules = YAML.parseAllDocuments(fs.readFileSync('kustomize/rbac/role.yaml', 'utf8'))
      .map((d) => d.toJS() as { kind: string; rules: Array<{ resources: string[] }> })
      .find((d) => d.kind === 'ClusterRole')!
      .rules.filter((r) => r.resources.includes('mutatingwebhookconfigurations') || r.resources.includes('events'));
    expect(clusterRules).to.have.length(2);
    const subject = { kind: 'ServiceAccount', name: MINIMAL_SA, namespace: OPERATOR_NAMESPACE };
    const rbac = [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: MINIMAL_SA, namespace: OPERATOR_NAMESPACE } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: MINIMAL_SA, namespace: OPERATOR_NAMESPACE },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'paddle-operator-webhook-certificates' },
        subjects: [subject],
      },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: MINIMAL_SA }, rules: clusterRules },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: MINIMAL_SA },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: MINIMAL_SA },
        subjects: [subject],
      },
    ];
    await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: rbac.map((o) => YAML.stringify(o)).join('---\n') });
    const token = (await cp.kubectl(['create', 'token', MINIMAL_SA, '-n', OPERATOR_NAMESPACE, '--duration=1h'])).stdout.trim();
    const api = new KubeApi(serviceAccountKubeConfig(MINIMAL_SA, token));
    const logger = replicaLogger('minimal');
    const { mode: _mode, ...settings } = parseOperatorConfig(['--webhook-extra-sans=127.0.0.1'], {}).webhookCertificates;
    await admin.delete(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);
    const certificates = new SelfManagedCertificates({ api, events: new EventRecorder(api, logger), logger, clock: systemClock }, settings);
    certificates.start();
    certificates.startWriting();
    try {
      const served = await serveTls('minimal', certificates);
      served.server.unref();
      const bundle = await waitFor(
        'the Secret created and its CA in both webhooks',
        async () => {
          const want = decode((await secret())?.data?.['ca.crt']);
          return want && (await bundles()).every((b) => b === want) ? want : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      expect(await tlsHandshake({ port: served.port, ca: bundle, servername: SERVICE_DNS })).to.equal(undefined);
      // rewrites too: a Secret that lost its CA key gets a new CA (published next to the old one)
      // and, ten seconds later, a serving certificate signed by it
      await admin.patch(SECRET, SECRET_NAME, OPERATOR_NAMESPACE, { data: { 'ca.key': null } });
      await waitFor('a serving certificate from a new CA', () => (served.swaps > 0 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      const both = (await bundles())[0];
      expect(bundleFacts(both).certificates).to.have.length(2);
      expect(await tlsHandshake({ port: served.port, ca: both, servername: SERVICE_DNS })).to.equal(undefined);
      served.server.close();
    } finally {
      await certificates.close();
      await cp.kubectl(['delete', 'clusterrolebinding,clusterrole', MINIMAL_SA, '--ignore-not-found'], { allowFail: true });
      await cp.kubectl(['-n', OPERATOR_NAMESPACE, 'delete', 'rolebinding,serviceaccount', MINIMAL_SA, '--ignore-not-found'], {
        allowFail: true,
      });
    }
    const minimalLines = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"replica":"minimal"'));
    expect(minimalLines.filter((l) => /"level":"(warn|error)"/.test(l))).to.deep.equal([]);
  });
});
