/**
 * Admissions go on through certificate rotations: the real kube-apiserver keeps calling the
 * webhook of a real `paddle-operator` process over TLS with the operator's SELF-MANAGED
 * certificates while that process rotates them. Lifetimes are cut short (serving 10 s, CA 30 s),
 * so the serving certificate is renewed every few seconds and a new CA enters the caBundle next
 * to the old one, takes over signing, and outlives it, several times while pods mounting a
 * SampleSet's claim are created a few per second in an opted-in namespace.
 *
 * With failurePolicy Ignore a failed call is no error: the pod is admitted as it is. So the
 * check is that EVERY pod carries the injected affinity, and that the apiserver's own counters
 * (apiserver_admission_webhook_request_total by code, apiserver_admission_webhook_fail_open_count)
 * record no call to our webhook that did not answer 200. That the rotations happened is read from
 * the Secret and the configuration (serial numbers and CA subjects seen), and the operator's log
 * says which certificates the apiserver's new TLS connections got. A last step shows the check
 * can fail: with a wrong CA in the caBundle the same stream of pods comes out unmutated.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import type { V1MutatingWebhookConfiguration, V1Pod, V1Secret } from '@kubernetes/client-node';
import { MUTATING_WEBHOOK_CONFIGURATION, POD, SECRET } from '../../src/api/constants.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { bundleFacts, certificateFacts } from '../../src/webhook/certificates/certificate-facts.js';
import { CACHE_AFFINITY_REASON_ANNOTATION } from '../../src/webhook/constants.js';
import { INSTALLED_WEBHOOK_CONFIGURATION, registerPodWebhook, unregisterPodWebhook } from '../harness/admission-webhook.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { issueServingCertificate } from '../harness/pki.js';
import { freePorts, sleep, waitFor } from '../harness/util.js';
import {
  CACHE_NODE_KEY,
  SAMPLESET_NAME,
  barePod,
  preferredTerms,
  startCacheAffinityWorld,
  type CacheAffinityWorld,
} from './cache-affinity-fixtures.js';
import { testCluster } from './cluster.js';
import { OPERATOR_NAMESPACE, operatorKubeConfigPath } from './operator-context.js';
import { startOperator, tryJson, type OperatorProcess } from './operator-processes.js';
import { SECRET_NAME, decode } from './webhook-certificate-fixtures.js';

const suffix = crypto.randomBytes(3).toString('hex');
const NS = `e2e-whrot-${suffix}`;
/** The one webhook of the installed configuration, as the apiserver's metrics name it. */
const WEBHOOK = 'pod-cache-affinity.paddlepaddle.org';
const STREAM_MS = 50_000;
const PAUSE_MS = 350; // between a worker's pods: two workers make about five pods a second

/** What the apiserver's counters say about its calls to our webhook. */
interface WebhookCalls {
  answered: number;
  failed: number;
  failedOpen: number;
}

async function webhookCalls(cp: ControlPlane): Promise<WebhookCalls> {
  const text = (await cp.kubectl(['get', '--raw', '/metrics'])).stdout;
  const calls: WebhookCalls = { answered: 0, failed: 0, failedOpen: 0 };
  for (const line of text.split('\n')) {
    if (!line.includes(`name="${WEBHOOK}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('apiserver_admission_webhook_fail_open_count{')) calls.failedOpen += value;
    else if (line.startsWith('apiserver_admission_webhook_request_total{')) {
      if (line.includes('code="200"') && line.includes('rejected="false"')) calls.answered += value;
      else calls.failed += value;
    }
  }
  return calls;
}
const since = (a: WebhookCalls, b: WebhookCalls): WebhookCalls => ({
  answered: b.answered - a.answered,
  failed: b.failed - a.failed,
  failedOpen: b.failedOpen - a.failedOpen,
});

/** The pod carries what the webhook injects: preferred affinity to the SampleSet's two cache nodes, and the reason. */
const mutated = (p: V1Pod): boolean =>
  preferredTerms(p).some((t) =>
    t.preference.matchExpressions?.some(
      (e) => e.key === CACHE_NODE_KEY && e.values?.length === 2 && e.values.every((v) => v.startsWith('imagenet-runtime-')),
    ),
  ) && CACHE_AFFINITY_REASON_ANNOTATION in (p.metadata?.annotations ?? {});

/** Pods created, and those of them the apiserver admitted without the webhook's changes (or failed to create). */
interface Stream {
  created: number;
  unmutated: string[];
}

describe('Pod admission webhook through certificate rotations (real kube-apiserver, self-managed certificates, a real operator process)', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let world: CacheAffinityWorld | undefined;
  let rotating: OperatorProcess | undefined;
  let fixed: OperatorProcess | undefined;
  let port = 0;
  let serial = 0;

  /**
   * Creates pods mounting the claim from `workers` loops, each pausing PAUSE_MS between pods,
   * until `until()` says stop; deletes each at once. Every pod is checked as the apiserver stored it.
   */
  async function streamPods(tag: string, until: (s: Stream) => boolean, workers = 2): Promise<Stream> {
    const s: Stream = { created: 0, unmutated: [] };
    const deletions: Array<Promise<unknown>> = [];
    const t0 = Date.now();
    const worker = async (): Promise<void> => {
      while (!until(s)) {
        const name = `${tag}-${serial++}`;
        try {
          const pod = await api.create<V1Pod>(POD, barePod(NS, name, SAMPLESET_NAME));
          s.created++;
          if (!mutated(pod)) s.unmutated.push(`${name} at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
          deletions.push(api.delete(POD, name, NS, { gracePeriodSeconds: 0 }).catch(() => undefined));
        } catch (e) {
          s.unmutated.push(`${name}: ${(e as Error).message}`);
        }
        await sleep(PAUSE_MS);
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    await Promise.all(deletions);
    return s;
  }

  /** Streams pods until one comes out as `want` says (the apiserver has loaded a configuration change). */
  async function streamUntil(tag: string, want: (p: Stream) => boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    const s = await streamPods(tag, (x) => want(x) || Date.now() > deadline, 1);
    if (!want(s))
      throw new Error(`${tag}: no pod came out as expected within 30 s (${s.created} created, ${s.unmutated.length} unmutated)`);
  }

  const configuration = (): Promise<V1MutatingWebhookConfiguration | undefined> =>
    api.get<V1MutatingWebhookConfiguration>(MUTATING_WEBHOOK_CONFIGURATION, INSTALLED_WEBHOOK_CONFIGURATION);
  const secret = (): Promise<V1Secret | undefined> => api.get<V1Secret>(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);

  before(async function () {
    this.timeout(180_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    world = await startCacheAffinityWorld(cp, {
      namespace: NS,
      nodes: [0, 1, 2].map((i) => `whrot-${suffix}-${i}`),
      pool: { label: 'e2e-webhook-rotation-pool', value: suffix },
    });
    // the certificates and configuration other suites' operators may have left (default lifetimes)
    await api.delete(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);
    await unregisterPodWebhook(cp, INSTALLED_WEBHOOK_CONFIGURATION);
    [port] = await freePorts(1);
    rotating = await startOperator('webhook-rotating', operatorKubeConfigPath(), [
      '--operators=',
      '--log-level=debug',
      `--webhook-bind-address=127.0.0.1:${port}`,
      '--webhook-extra-sans=127.0.0.1',
      '--webhook-cert-validity=10s',
      '--webhook-ca-validity=30s',
    ]);
    // the installed configuration, called at the process's address, trusting the CA it created
    const first = await waitFor(
      'the operator to create its certificates',
      async () => decode((await secret())?.data?.['ca.crt']) || undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await registerPodWebhook(cp, { name: INSTALLED_WEBHOOK_CONFIGURATION, url: `https://127.0.0.1:${port}/mutate-pods`, caCert: first });
    expect(await world.ready()).to.have.length(2);
    await streamUntil('probe', (s) => s.created > s.unmutated.length);
  });

  after(async function () {
    this.timeout(120_000);
    await unregisterPodWebhook(cp, INSTALLED_WEBHOOK_CONFIGURATION);
    await rotating?.kill();
    await fixed?.kill();
    await api?.delete(SECRET, SECRET_NAME, OPERATOR_NAMESPACE);
    await world?.stop();
  });

  it('every pod created through CA rotations and serving renewals carries the affinity; the apiserver records no failed call', async function () {
    this.timeout(120_000);
    const servingSerials = new Set<string>();
    const casPublished = new Set<string>();
    let overlaps = 0;
    let previous: string[] = [];
    let watching = true;
    // the configuration and the Secret, read as the stream goes on (a read that fails is read again)
    const watch = (async () => {
      while (watching) {
        try {
          const bundle = decode((await configuration())?.webhooks?.[0]?.clientConfig.caBundle);
          const subjects = bundleFacts(bundle).certificates.map((c) => c.cert.subject);
          for (const ca of subjects) casPublished.add(ca);
          // a new CA, first in the bundle, with the one that was alone there still next to it
          if (previous.length === 1 && subjects.length === 2 && subjects[0] !== previous[0] && subjects[1] === previous[0]) overlaps++;
          previous = subjects;
          const serving = certificateFacts(decode((await secret())?.data?.['tls.crt']));
          if (serving) servingSerials.add(serving.cert.serialNumber);
        } catch {
          // the next round reads again
        }
        await sleep(200);
      }
    })();
    const logFrom = rotating!.lines.length;
    const before = await webhookCalls(cp);
    const t0 = Date.now();
    const stream = await streamPods('pod', () => Date.now() - t0 > STREAM_MS);
    const calls = since(before, await webhookCalls(cp));
    watching = false;
    await watch;

    // the TLS connections the apiserver opened to the webhook while the pods came
    const connections = rotating!.lines
      .slice(logFrom)
      .map(tryJson)
      .filter((l) => l?.msg === 'webhook TLS connection') as Array<Record<string, unknown>>;
    const connectionIssuers = new Set(connections.map((l) => l.issuer));
    const connectionSerials = new Set(connections.map((l) => l.serial));
    process.stderr.write(
      `      [rotation] ${stream.created} pods in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${stream.unmutated.length} unmutated; ` +
        `apiserver calls answered ${calls.answered}, failed ${calls.failed}, failed open ${calls.failedOpen}; ` +
        `serving certificates seen ${servingSerials.size}, CAs published ${casPublished.size}, new CA next to an old one ${overlaps}×; ` +
        `apiserver TLS connections ${connections.length}, to ${connectionSerials.size} serving certificates of ${connectionIssuers.size} CAs\n`,
    );
    expect(stream.unmutated, 'pods admitted without the webhook').to.deep.equal([]);
    expect(stream.created).to.be.greaterThan(100);
    expect(calls, 'the apiserver called our webhook for every pod and every call was answered').to.deep.include({
      failed: 0,
      failedOpen: 0,
    });
    expect(calls.answered).to.be.at.least(stream.created);
    // serving: 11 s of life (1 s backdated), renewed after 2/3 → a new one every ~7 s; CA: 33 s, replaced after 22 s
    expect(servingSerials.size, 'serving certificates (the first and its renewals)').to.be.at.least(3);
    expect(casPublished.size, 'CAs in the caBundle').to.be.at.least(2);
    expect(overlaps, 'a new CA published next to the one it replaces').to.be.at.least(1);
    expect(connectionIssuers.size, 'the apiserver connected to certificates of more than one CA').to.be.at.least(2);
  });

  it('the check can fail: a wrong CA in the caBundle (and nobody to repair it) leaves the same pods unmutated, and the apiserver counts the calls as failed open', async function () {
    this.timeout(120_000);
    // the rotating writer would repair the bundle: the same address is now served from a directory
    await rotating!.kill();
    const dir = path.join(cp.runDir, `webhook-rotation-${suffix}`);
    const { caCert } = await issueServingCertificate(dir, ['IP:127.0.0.1']);
    const { caCert: wrongCa } = await issueServingCertificate(path.join(dir, 'other'), ['IP:127.0.0.1'], 'wrong-ca');
    fixed = await startOperator('webhook-fixed', operatorKubeConfigPath(), [
      '--operators=',
      `--webhook-bind-address=127.0.0.1:${port}`,
      `--webhook-cert-dir=${dir}`,
    ]);
    const url = `https://127.0.0.1:${port}/mutate-pods`;

    await registerPodWebhook(cp, { name: INSTALLED_WEBHOOK_CONFIGURATION, url, caCert: wrongCa });
    await streamUntil('to-wrong', (s) => s.unmutated.length > 0);
    let before = await webhookCalls(cp);
    const wrong = await streamPods('wrong', (s) => s.created >= 10);
    const wrongCalls = since(before, await webhookCalls(cp));
    expect(wrong.unmutated, 'every pod unmutated').to.have.length(wrong.created);
    expect(wrongCalls.failedOpen).to.be.at.least(wrong.created);
    expect(wrongCalls.answered).to.equal(0);

    // the right CA: the same server and the same pods pass again
    await registerPodWebhook(cp, { name: INSTALLED_WEBHOOK_CONFIGURATION, url, caCert });
    await streamUntil('to-right', (s) => s.created > s.unmutated.length);
    before = await webhookCalls(cp);
    const right = await streamPods('right', (s) => s.created >= 10);
    expect(right.unmutated).to.deep.equal([]);
    expect(since(before, await webhookCalls(cp))).to.deep.include({ failed: 0, failedOpen: 0 });
  });
});
