// The tenant boundary of issue 12, classes 6–8, against the real control plane: the CRDs as
// installed, and the SampleSet and SampleJob operators in this process on the credentials of their
// ServiceAccount (RBAC from kustomize/default), so the apiserver's audit log shows what they read.
//  6. credentials in source URIs: refused by the apiserver, wherever they hide in the URI, without
//     being echoed; a storage that reads credentials only from the URI is refused unless the
//     SampleSet opts in, and no log line, status or Event ever holds the secret;
//  7. other namespaces' Secrets: refused with CrossNamespaceSecret, and never read;
//  8. host paths: cache tiers only under the configured roots (InvalidCacheDir naming them), each
//     SampleSet in its own directory.
// No cache node runs a runtime here: every case is decided before a runtime is involved.
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import winston from 'winston';
import type { V1PersistentVolume, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import { PV, SAMPLEJOB, SAMPLESET, SECRET, STATEFULSET } from '../../src/api/constants.js';
import type { Condition } from '../../src/api/conditions.js';
import type { SampleJob, SampleJobSpec } from '../../src/api/samplejob.js';
import type { SampleSet, SampleSetSpec } from '../../src/api/sampleset.js';
import { JuiceFsEngine } from '../../src/engines/juicefs/juicefs-engine.js';
import { parseMountOptions } from '../../src/engines/juicefs/mount-options.js';
import { EngineRegistry } from '../../src/engines/registry.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { SampleJobOperator } from '../../src/operators/samplejob/samplejob-operator.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { waitFor } from '../harness/util.js';
import { deleteTestNamespaces, testCluster } from './cluster.js';
import { operatorContext, usedPermissions } from './operator-context.js';

const WAIT = { timeoutMs: 60_000, intervalMs: 250 };
const suffix = (): string => crypto.randomBytes(3).toString('hex');

interface EventItem {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { kind?: string; name?: string };
}

describe('Tenant boundary (issue 12 classes 6-8): CRDs and operators on their ServiceAccount', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let agent: http.Agent;
  let cacheRoots: string[];
  let stopOperators: (() => Promise<void>) | undefined;
  /** Every line the operators logged (all levels). */
  const logLines: string[] = [];
  const namespaces: string[] = [];

  async function namespace(prefix: string): Promise<string> {
    const ns = `e2e-tb-${prefix}-${suffix()}`;
    await cp.ensureNamespace(ns);
    namespaces.push(ns);
    return ns;
  }

  async function secret(ns: string, name: string, data: Record<string, string>): Promise<void> {
    await api.create<V1Secret>(SECRET, { metadata: { name, namespace: ns }, stringData: data });
  }

  /** A volume Secret with the required keys (no volume is ever mounted in this file). */
  const volumeSecret = (ns: string, name = 'jfs'): Promise<void> =>
    secret(ns, name, { name: 'tenant-vol', metaurl: 'redis://127.0.0.1:1/1', storage: 'file', bucket: '/nonexistent/' });

  function sampleSetBody(ns: string, name: string, spec: Partial<SampleSetSpec>): SampleSet {
    return {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name, namespace: ns },
      spec: { partitions: 1, secretRef: { name: 'jfs' }, ...spec },
    };
  }

  function sampleJobBody(ns: string, name: string, spec: Partial<SampleJobSpec>): SampleJob {
    return {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name, namespace: ns },
      spec: { type: 'sync', sampleSetRef: { name: 'ds' }, ...spec },
    };
  }

  const cond = (o: { status?: { conditions?: Condition[] } } | undefined, type: string): Condition | undefined =>
    o?.status?.conditions?.find((c) => c.type === type);

  async function ssCondition(ns: string, name: string, reason: string): Promise<SampleSet> {
    return waitFor(
      `SampleSet ${ns}/${name} Ready=False ${reason}`,
      async () => {
        const s = await api.get<SampleSet>(SAMPLESET, name, ns);
        return s && cond(s, 'Ready')?.reason === reason && cond(s, 'Ready')?.status === 'False' ? s : undefined;
      },
      WAIT,
    );
  }

  async function jobFailed(ns: string, name: string, reason: string): Promise<SampleJob> {
    return waitFor(
      `SampleJob ${ns}/${name} Failed with ${reason}`,
      async () => {
        const j = await api.get<SampleJob>(SAMPLEJOB, name, ns);
        return j?.status?.phase === 'Failed' && cond(j, 'Succeeded')?.reason === reason ? j : undefined;
      },
      WAIT,
    );
  }

  async function events(ns: string): Promise<EventItem[]> {
    return (await api.request<{ items: EventItem[] }>('GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`)).items;
  }

  /** Waits for a Warning Event `reason` about `name` (Events are recorded after the status write). */
  async function warning(ns: string, name: string, reason: string): Promise<EventItem> {
    return waitFor(
      `Warning ${reason} about ${ns}/${name}`,
      async () => (await events(ns)).find((e) => e.type === 'Warning' && e.reason === reason && e.regarding?.name === name),
      {
        timeoutMs: 15_000,
        intervalMs: 200,
      },
    );
  }

  /** Status of every object, every Event of the namespace and every operator log line, as one text. */
  async function everythingVisible(ns: string): Promise<string> {
    const sets = (await api.list<SampleSet>(SAMPLESET, ns)).items.map((s) => s.status);
    const jobs = (await api.list<SampleJob>(SAMPLEJOB, ns)).items.map((j) => j.status);
    return JSON.stringify({ sets, jobs, events: await events(ns) }) + logLines.join('\n');
  }

  async function apiserverRefuses(obj: SampleSet | SampleJob, field: string, secretParts: string[]): Promise<void> {
    let err: Error | undefined;
    try {
      await api.create(obj.kind === 'SampleSet' ? SAMPLESET : SAMPLEJOB, obj, obj.metadata.namespace);
    } catch (e) {
      err = e as Error;
    }
    expect(err, `${obj.kind} ${JSON.stringify(obj.spec)} was accepted`).to.not.equal(undefined);
    expect(err!.message).to.include(field).and.include('must not embed credentials');
    for (const part of secretParts) expect(err!.message, `the apiserver's answer echoes ${part}`).to.not.include(part);
  }

  before(async function () {
    this.timeout(120_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    agent = new http.Agent({ keepAlive: true });
    // the roots an admin would give with --cache-root: one in the run directory, one in memory
    cacheRoots = [path.join(cp.runDir, 'cache-roots', 'disk'), '/dev/shm/paddle-operator'];
    const { ctx, logger, stop } = await operatorContext({ logLevel: 'debug' });
    logger.clear();
    logger.add(new winston.transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) }));
    const engines = new EngineRegistry([new JuiceFsEngine({ cacheRoots })]);
    const runtime = new RuntimeClient({ timeoutMs: 3000, retries: 0, agent });
    const notifier = new CacheStatsNotifier();
    const sets = new SampleSetOperator(ctx, engines, runtime, { runtimeImage: 'paddle-operator:e2e', conflictRetryMs: 2000 }, notifier);
    const jobs = new SampleJobOperator(ctx, engines, runtime, notifier, { longPollSeconds: 2 });
    await sets.start();
    await jobs.start();
    stopOperators = async () => {
      await jobs.stop();
      await sets.stop();
      await stop();
    };
  });

  after(async function () {
    this.timeout(180_000);
    // the operators remove their finalizers while the namespaces go
    await deleteTestNamespaces(cp, namespaces, 'tenant-boundary');
    await stopOperators?.();
    agent?.destroy();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      process.stderr.write(`      [tenant-boundary] last operator log lines:\n${logLines.slice(-30).join('')}\n`);
  });

  it('class 6: the apiserver refuses credentials anywhere in a source URI (/ : @ in the key, percent-encoded), without echoing them', async function () {
    this.timeout(60_000);
    const ns = await namespace('uri');
    const parts = ['AKIDXE2E', 'Zq9', 'xW7'];
    const nasty = [
      's3://AKIDXE2E:Zq9/xW7@bucket/',
      's3://AKIDXE2E:Zq9/xW7/more@bucket.s3.us-east-1.amazonaws.com/prefix/',
      's3://bucket/prefix/AKIDXE2E:Zq9xW7@host/',
      's3://AKIDXE2E%3AZq9%2FxW7%40bucket/',
      's3://AKIDXE2E%3AZq9xW7/bucket/',
      's3://bucket/AKIDXE2E:Zq9%252FxW7%2540x/',
      'hdfs://AKIDXE2E@namenode:8020/data',
      'webdav://AKIDXE2E:Zq9:xW7@host/dav/',
    ];
    for (const [i, uri] of nasty.entries()) {
      await apiserverRefuses(sampleSetBody(ns, `uri-${i}`, { source: { uri } }), 'spec.source.uri', parts);
      await apiserverRefuses(sampleJobBody(ns, `uri-${i}`, { syncOptions: { source: uri } }), 'spec.syncOptions.source', parts);
    }
    // a clean URI passes
    await api.create(
      SAMPLESET,
      sampleSetBody(ns, 'clean', { noSync: true, source: { uri: 's3://bucket.s3.us-east-1.amazonaws.com/prefix%20x/' } }),
      ns,
    );
  });

  it('class 6: credentials of a storage that reads them only from the URI (argv) are refused unless the SampleSet opts in; the secret shows nowhere', async function () {
    this.timeout(90_000);
    const ns = await namespace('argv');
    await volumeSecret(ns);
    await secret(ns, 'dav', { 'access-key': 'AKIDXE2E', 'secret-key': 'Zq9/xW7+e2e:@x' });
    await api.create(SAMPLESET, sampleSetBody(ns, 'dav', { source: { uri: 'webdav://127.0.0.1:9/dav/', secretRef: { name: 'dav' } } }), ns);
    const ss = await ssCondition(ns, 'dav', 'CredentialsInArguments');
    expect(cond(ss, 'Ready')!.message).to.include('spec.source.allowCredentialsInArguments');
    await warning(ns, 'dav', 'CredentialsInArguments');
    // refused before anything was built
    expect(await api.get<V1StatefulSet>(STATEFULSET, 'dav-runtime', ns)).to.equal(undefined);
    expect(await api.get<V1PersistentVolume>(PV, `${ns}.dav`)).to.equal(undefined);
    const text = await everythingVisible(ns);
    for (const part of ['AKIDXE2E', 'Zq9', 'xW7+e2e']) expect(text, `${part} leaked`).to.not.include(part);
  });

  it('class 7: a Secret of another namespace is refused (CrossNamespaceSecret, Warning Events) and never read; the PV never points there', async function () {
    this.timeout(90_000);
    const victim = await namespace('victim');
    const tenant = await namespace('tenant');
    await volumeSecret(victim);
    await secret(victim, 'src', { 'access-key': 'VICTIMKEY', 'secret-key': 'VICTIMSECRET' });
    await volumeSecret(tenant);
    await secret(tenant, 'own-src', { 'access-key': 'OWNKEY', 'secret-key': 'OWNSECRET' });

    // the volume Secret (the PV's nodePublishSecretRef) and the source Secret of a SampleSet
    await api.create(
      SAMPLESET,
      sampleSetBody(tenant, 'steal-volume', { noSync: true, secretRef: { name: 'jfs', namespace: victim } }),
      tenant,
    );
    await api.create(
      SAMPLESET,
      sampleSetBody(tenant, 'steal-source', { source: { uri: 's3://bucket/x/', secretRef: { name: 'src', namespace: victim } } }),
      tenant,
    );
    // the source credentials of a sync SampleJob (sent to a server of the tenant's choosing)
    await api.create(
      SAMPLEJOB,
      sampleJobBody(tenant, 'steal-sync', {
        sampleSetRef: { name: 'steal-volume' },
        secretRef: { name: 'src', namespace: victim },
        syncOptions: { source: 'webdav://127.0.0.1:9/x/' },
      }),
      tenant,
    );
    // spelling out the own namespace is fine
    await api.create(SAMPLESET, sampleSetBody(tenant, 'own', { noSync: true, secretRef: { name: 'jfs', namespace: tenant } }), tenant);

    for (const name of ['steal-volume', 'steal-source']) {
      const s = await ssCondition(tenant, name, 'CrossNamespaceSecret');
      expect(cond(s, 'Ready')!.message).to.include(`"${victim}"`);
      await warning(tenant, name, 'CrossNamespaceSecret');
    }
    const job = await jobFailed(tenant, 'steal-sync', 'CrossNamespaceSecret');
    expect(cond(job, 'Succeeded')!.message).to.include(`"${victim}"`);
    await warning(tenant, 'steal-sync', 'CrossNamespaceSecret');

    // the SampleSet of its own namespace proceeds, with its own Secret in the PV
    const pv = await waitFor('PV of tenant/own', () => api.get<V1PersistentVolume>(PV, `${tenant}.own`), WAIT);
    expect(pv.spec!.csi!.nodePublishSecretRef).to.deep.equal({ name: 'jfs', namespace: tenant });
    for (const name of ['steal-volume', 'steal-source'])
      expect(await api.get<V1PersistentVolume>(PV, `${tenant}.${name}`), name).to.equal(undefined);

    // the audit log (written before each answer) shows the ServiceAccount at work in the tenant's
    // namespace, and no request of it in the victim's — in particular no read of a Secret there
    const used = usedPermissions();
    expect([...(used.byNamespace.get(tenant) ?? [])]).to.include.members([
      'patch samplesets/status.batch.paddlepaddle.org',
      'patch samplejobs/status.batch.paddlepaddle.org',
    ]);
    expect([...(used.byNamespace.get(victim) ?? [])], `requests in ${victim}`).to.deep.equal([]);
    const text = await everythingVisible(tenant);
    for (const part of ['VICTIMKEY', 'VICTIMSECRET']) expect(text).to.not.include(part);
  });

  it("class 8: cache tiers outside the configured roots → InvalidCacheDir naming the roots; allowed ones get the SampleSet's own directory", async function () {
    this.timeout(90_000);
    const ns = await namespace('hostpath');
    await volumeSecret(ns);
    await api.create(
      SAMPLESET,
      sampleSetBody(ns, 'etcd', { noSync: true, cache: { levels: [{ mediumType: 'SSD', path: '/var/lib/etcd' }] } }),
      ns,
    );
    await api.create(
      SAMPLESET,
      sampleSetBody(ns, 'ssh', { noSync: true, csi: { juiceFSMountOptions: { 'cache-dir': '/home/alice/.ssh' } } }),
      ns,
    );
    await api.create(
      SAMPLESET,
      sampleSetBody(ns, 'neighbour', { noSync: true, cache: { levels: [{ mediumType: 'MEM', path: '/dev/shm/other-operator/cache' }] } }),
      ns,
    );
    for (const name of ['etcd', 'ssh', 'neighbour']) {
      const s = await ssCondition(ns, name, 'InvalidCacheDir');
      expect(cond(s, 'Ready')!.message).to.include(`allowed: ${cacheRoots.join(', ')}`);
      await warning(ns, name, 'InvalidCacheDir');
      expect(await api.get<V1StatefulSet>(STATEFULSET, `${name}-runtime`, ns), name).to.equal(undefined);
      expect(await api.get<V1PersistentVolume>(PV, `${ns}.${name}`), name).to.equal(undefined);
    }

    // a path under a root, even one naming another SampleSet's directory, lands in this SampleSet's own
    const other = `${ns}_etcd`;
    await api.create(
      SAMPLESET,
      sampleSetBody(ns, 'ok', {
        noSync: true,
        cache: {
          levels: [
            { mediumType: 'MEM', path: `/dev/shm/paddle-operator/${other}` },
            { mediumType: 'SSD', path: cacheRoots[0] },
          ],
        },
      }),
      ns,
    );
    const sts = await waitFor('StatefulSet of ok', () => api.get<V1StatefulSet>(STATEFULSET, 'ok-runtime', ns), WAIT);
    const hostPaths = sts.spec!.template.spec!.volumes!.filter((v) => v.hostPath).map((v) => v.hostPath!.path);
    expect(hostPaths).to.deep.equal([`/dev/shm/paddle-operator/${ns}_ok/${other}`, `${cacheRoots[0]}/${ns}_ok`]);
    const pv = await waitFor('PV of ok', () => api.get<V1PersistentVolume>(PV, `${ns}.ok`), WAIT);
    expect(parseMountOptions(pv.spec!.csi!.volumeAttributes!.mountOptions).get('cache-dir')).to.equal(hostPaths.join(':'));
    const args = sts.spec!.template.spec!.containers[0].args!;
    for (const p of hostPaths) expect(args).to.include(p);
  });
});
