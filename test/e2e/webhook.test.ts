// The pod admission webhook, end to end: the real kube-apiserver calls it over TLS (a CA made here
// with openssl, the certificate served through the directory source) in a real `paddle-operator`
// process that stands by for a Lease someone else holds — so it serves admissions without
// leading. A real Ready SampleSet (the SampleSet operator in this process, simulated cache nodes
// with real JuiceFS) on this suite's own KWOK nodes; kube-scheduler places what the webhook
// patched; the MutatingWebhookConfiguration is the one kustomize/default installs, pointed at
// https://127.0.0.1:<port>/mutate-pods.
import crypto from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import type { V1Lease, V1Pod } from '@kubernetes/client-node';
import { LEASE, POD, SAMPLESET } from '../../src/api/constants.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { CACHE_AFFINITY_KEY, CACHE_AFFINITY_REASON_ANNOTATION } from '../../src/webhook/constants.js';
import { registerPodWebhook, unregisterPodWebhook } from '../harness/admission-webhook.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { issueServingCertificate } from '../harness/pki.js';
import { freePorts, waitFor } from '../harness/util.js';
import {
  CACHE_NODE_KEY as KEY,
  barePod as podIn,
  podSpec,
  preferredTerms,
  requiredExpressions,
  startCacheAffinityWorld,
  type CacheAffinityWorld,
} from './cache-affinity-fixtures.js';
import { testCluster } from './cluster.js';
import { OPERATOR_NAMESPACE, operatorKubeConfigPath } from './operator-context.js';
import { startOperator, type OperatorProcess } from './operator-processes.js';
import { WAIT, cacheNodeLabels, sampleSetWhere } from './sampleset-helpers.js';

const suffix = crypto.randomBytes(3).toString('hex');
const NS = `e2e-wh-${suffix}`;
const barePod = (name: string, claim?: string, annotations?: Record<string, string>): V1Pod => podIn(NS, name, claim, annotations);

describe('Pod admission webhook: cache affinity (real kube-apiserver over TLS, kube-scheduler, a Ready SampleSet)', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let world: CacheAffinityWorld | undefined;
  let webhook: OperatorProcess | undefined;
  let cacheNodes: string[] = [];
  const lease = `webhook-e2e-${suffix}`;
  const configuration = `paddle-operator-e2e-${suffix}`;

  /** Creates `obj` with kubectl (optionally as a server-side dry run) and returns what was stored and the warnings printed. */
  async function create<T>(obj: object, dryRun = false): Promise<{ obj: T; warnings: string[]; ms: number }> {
    const t0 = Date.now();
    const r = await cp.kubectl(['create', '-f', '-', '-o', 'json', ...(dryRun ? ['--dry-run=server'] : [])], {
      input: JSON.stringify(obj),
    });
    const warnings = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('Warning: '))
      .map((l) => l.slice('Warning: '.length));
    return { obj: JSON.parse(r.stdout) as T, warnings, ms: Date.now() - t0 };
  }

  /** Dry-runs `pod` until the webhook's answer satisfies `ok` (its caches and the apiserver's selectors catch up). */
  async function admittedAs(pod: V1Pod, what: string, ok: (p: V1Pod) => boolean): Promise<V1Pod> {
    return waitFor(
      `a dry-run pod ${what}`,
      async () => {
        const { obj } = await create<V1Pod>(pod, true);
        return ok(obj) ? obj : undefined;
      },
      WAIT,
    );
  }

  async function scheduled(selector: string, count: number): Promise<V1Pod[]> {
    return waitFor(
      `${count} pod(s) ${selector} scheduled`,
      async () => {
        const pods = (await api.list<V1Pod>(POD, NS, { labelSelector: selector })).items.filter((p) => p.spec?.nodeName);
        return pods.length === count ? pods : undefined;
      },
      WAIT,
    );
  }

  before(async function () {
    this.timeout(300_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    world = await startCacheAffinityWorld(cp, {
      namespace: NS,
      nodes: [0, 1, 2].map((i) => `webhook-${suffix}-${i}`),
      pool: { label: 'e2e-webhook-pool', value: suffix },
    });

    // someone else leads: the process below stays a standby the whole suite
    const now = new Date().toISOString().replace('Z', '000Z');
    await api.create<V1Lease>(LEASE, {
      metadata: { name: lease, namespace: OPERATOR_NAMESPACE },
      spec: { holderIdentity: 'e2e-holder', leaseDurationSeconds: 3600, acquireTime: now as never, renewTime: now as never },
    });
    const certDir = path.join(cp.runDir, `webhook-certs-${suffix}`);
    const { caCert } = await issueServingCertificate(certDir, ['IP:127.0.0.1']);
    const [port] = await freePorts(1);
    webhook = await startOperator('webhook-standby', operatorKubeConfigPath(), [
      '--leader-elect=true',
      `--leader-election-id=${lease}`,
      `--webhook-bind-address=127.0.0.1:${port}`,
      `--webhook-cert-dir=${certDir}`,
    ]);
    await registerPodWebhook(cp, { name: configuration, url: `https://127.0.0.1:${port}/mutate-pods`, caCert });
    cacheNodes = await world.ready();
    expect(cacheNodes).to.have.length(2);
  });

  after(async function () {
    this.timeout(240_000);
    await unregisterPodWebhook(cp, configuration);
    await webhook?.kill();
    await api?.delete(LEASE, lease, OPERATOR_NAMESPACE);
    await world?.stop();
  });

  it('serves while standing by: the process never leads, the Lease stays with its holder', async () => {
    await admittedAs(barePod('probe', 'imagenet'), 'patched', (p) => preferredTerms(p).length === 1);
    expect(await webhook!.isLeader()).to.equal(false);
    expect((await api.get<V1Lease>(LEASE, lease, OPERATOR_NAMESPACE))?.spec?.holderIdentity).to.equal('e2e-holder');
  });

  it('a Deployment mounting the claim (its pods ask Required): affinity ANDed into their own term, scheduled onto the cache nodes', async function () {
    this.timeout(120_000);
    const template = {
      metadata: { labels: { app: 'train' }, annotations: { [CACHE_AFFINITY_KEY]: 'Required' } },
      spec: podSpec('imagenet'),
    };
    await create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'train', namespace: NS },
      spec: { replicas: 3, selector: { matchLabels: { app: 'train' } }, template },
    });
    const pods = await scheduled('app=train', 3);
    const req = { key: KEY, operator: 'In', values: ['imagenet-runtime-0', 'imagenet-runtime-1'] };
    for (const p of pods) {
      expect(requiredExpressions(p), p.metadata!.name).to.deep.equal([[{ key: 'type', operator: 'In', values: ['kwok'] }, req]]);
      expect(p.metadata!.annotations![CACHE_AFFINITY_REASON_ANNOTATION]).to.equal(
        'required node affinity to the 2 cache nodes of SampleSet imagenet',
      );
      expect(cacheNodes, `${p.metadata!.name} on ${p.spec!.nodeName}`).to.include(p.spec!.nodeName);
    }
  });

  it('a Job mounting the claim: preferred affinity (the SampleSet default), and kube-scheduler puts its pod on a cache node', async function () {
    this.timeout(120_000);
    await create({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'eval', namespace: NS },
      spec: { backoffLimit: 0, template: { spec: { ...podSpec('imagenet'), restartPolicy: 'Never' } } },
    });
    const [p] = await scheduled('job-name=eval', 1);
    expect(preferredTerms(p)).to.deep.equal([
      {
        weight: 100,
        preference: { matchExpressions: [{ key: KEY, operator: 'In', values: ['imagenet-runtime-0', 'imagenet-runtime-1'] }] },
      },
    ]);
    expect(requiredExpressions(p), 'its own requirement untouched').to.deep.equal([[{ key: 'type', operator: 'In', values: ['kwok'] }]]);
    expect(cacheNodes).to.include(p.spec!.nodeName);
  });

  it('spec.podAffinity: Required on the SampleSet → a bare pod gets the required term, and kubectl prints what was injected', async function () {
    this.timeout(120_000);
    await api.patch<SampleSet>(SAMPLESET, 'imagenet', NS, { spec: { podAffinity: 'Required' } });
    await admittedAs(barePod('probe', 'imagenet'), 'with a required term', (p) => requiredExpressions(p)[0]?.length === 2);
    const { obj, warnings } = await create<V1Pod>(barePod('required', 'imagenet'));
    expect(warnings).to.deep.equal(['paddle-operator: required node affinity to the 2 cache nodes of SampleSet imagenet']);
    expect(requiredExpressions(obj)[0]![1]).to.deep.include({ key: KEY, operator: 'In' });
    await api.patch<SampleSet>(SAMPLESET, 'imagenet', NS, { spec: { podAffinity: null } });
  });

  it('untouched: a pod without a claim, a pod mounting another claim, and pods of a namespace without the label', async function () {
    this.timeout(120_000);
    for (const [name, claim] of [
      ['no-claim', undefined],
      ['other-claim', 'somebody-elses-claim'],
    ] as const) {
      const { obj, warnings } = await create<V1Pod>(barePod(name, claim));
      expect(obj.spec!.affinity, name).to.deep.equal(podSpec(claim).affinity);
      expect(obj.metadata!.annotations ?? {}, name).to.not.have.property(CACHE_AFFINITY_REASON_ANNOTATION);
      expect(warnings, name).to.deep.equal([]);
    }
    await cp.kubectl(['label', 'namespace', NS, `${CACHE_AFFINITY_KEY}-`]);
    try {
      await admittedAs(barePod('probe', 'imagenet'), 'untouched once the label is gone', (p) => preferredTerms(p).length === 0);
      const { obj, warnings } = await create<V1Pod>(barePod('unlabelled', 'imagenet'));
      expect(obj.spec!.affinity).to.deep.equal(podSpec('imagenet').affinity);
      expect(warnings).to.deep.equal([]);
    } finally {
      await cp.kubectl(['label', 'namespace', NS, `${CACHE_AFFINITY_KEY}=enabled`, '--overwrite']);
    }
  });

  it('PartialReady (scaled to 4 partitions on 3 nodes), Required asked: preferred to the 3 ready cache nodes only, and the annotation says why', async function () {
    this.timeout(180_000);
    await api.patch<SampleSet>(SAMPLESET, 'imagenet', NS, { spec: { partitions: 4 } });
    await sampleSetWhere(
      api,
      NS,
      'imagenet',
      'PartialReady with 3 ready partitions',
      (s) => s.status?.phase === 'PartialReady' && (s.status.nodes ?? []).filter((n) => n.ready).length === 3,
    );
    const ready = ['imagenet-runtime-0', 'imagenet-runtime-1', 'imagenet-runtime-2'];
    const asks = { [CACHE_AFFINITY_KEY]: 'Required' };
    await admittedAs(
      barePod('probe', 'imagenet', asks),
      'preferred to 3 nodes',
      (p) => preferredTerms(p)[0]?.preference.matchExpressions?.[0].values?.length === 3,
    );
    const { obj, warnings } = await create<V1Pod>(barePod('partial', 'imagenet', asks));
    expect(preferredTerms(obj)).to.deep.equal([
      { weight: 100, preference: { matchExpressions: [{ key: KEY, operator: 'In', values: ready }] } },
    ]);
    expect(requiredExpressions(obj)).to.deep.equal([[{ key: 'type', operator: 'In', values: ['kwok'] }]]);
    const why =
      'preferred node affinity to the 3 ready of 4 cache nodes of SampleSet imagenet only, as it is PartialReady ' +
      '(Required applies once it is Ready: a required term now might never be met)';
    expect(obj.metadata!.annotations![CACHE_AFFINITY_REASON_ANNOTATION]).to.equal(why);
    expect(warnings).to.deep.equal([`paddle-operator: ${why}`]);
    const pod = await waitFor(
      'pod partial scheduled',
      async () => {
        const p = await api.get<V1Pod>(POD, 'partial', NS);
        return p?.spec?.nodeName ? p : undefined;
      },
      WAIT,
    );
    const labels = await cacheNodeLabels(api, 'imagenet');
    expect(Object.keys(labels), 'it runs next to a ready cache').to.include(pod.spec!.nodeName);
  });

  it('the webhook down: pods are still admitted, unchanged and at once (failurePolicy Ignore)', async function () {
    this.timeout(60_000);
    const metrics = await (await fetch(`http://127.0.0.1:${webhook!.ports.metrics}/metrics`)).text();
    expect(metrics, 'the admissions above were answered by this process').to.match(
      /paddle_operator_admission_duration_seconds_count\{outcome="patched"\} [1-9]/,
    );
    await webhook!.kill();
    const { obj, warnings, ms } = await create<V1Pod>(barePod('webhook-down', 'imagenet'));
    expect(obj.spec!.affinity).to.deep.equal(podSpec('imagenet').affinity);
    expect(obj.metadata!.annotations ?? {}).to.not.have.property(CACHE_AFFINITY_REASON_ANNOTATION);
    expect(warnings).to.deep.equal([]);
    expect(ms, 'no wait for the webhook timeout').to.be.below(5000);
  });
});
