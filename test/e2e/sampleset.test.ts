// SampleSet operator, end to end: the real control plane (kube-scheduler places the runtime pods on
// KWOK nodes, the persistentvolume-binder binds the PVC, the garbage collector follows owner
// references), simulated cache nodes (a real paddle-runtime per runtime pod with its own real
// JuiceFS FUSE mount and cache dir) and a JuiceFS S3 gateway as the remote storage. The operator
// runs in this process with the production informers, work queue, API and runtime clients.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { V1PersistentVolume, V1Pod, V1Secret, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { POD, PV, PVC, SAMPLESET, SAMPLESET_FINALIZER, SECRET, SERVICE, STATEFULSET } from '../../src/api/constants.js';
import type { SampleSet, SampleSetSpec } from '../../src/api/sampleset.js';
import { Informer } from '../../src/kube/informer.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import type { SampleSetOperatorOptions } from '../../src/operators/sampleset/sampleset-operator.js';
import { startCacheNodeSimulator, startS3Gateway, type CacheNodeSimulator, type S3Gateway } from '../harness/cache-nodes.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { sleep, waitFor } from '../harness/util.js';
import { deleteTestNamespaces, testCluster } from './cluster.js';
import {
  WAIT,
  cacheNodeLabels,
  conditionOf,
  createSampleSet as createSampleSetIn,
  createVolumeSecret,
  runtimePodsOf,
  sampleSetWhere,
  startSampleSetOperator,
  waitNothingLeft,
  type Operator,
} from './sampleset-helpers.js';

const run = promisify(execFile);
const suffix = (): string => crypto.randomBytes(3).toString('hex');

/** The source dataset of the gateway: nested small files and a few large ones. */
function datasetObjects(): Record<string, number> {
  const objects: Record<string, number> = {};
  for (let i = 0; i < 240; i++) objects[`train/part-${i % 6}/sample-${String(i).padStart(4, '0')}.bin`] = 1024 + ((i * 7919) % 16384);
  for (let i = 0; i < 50; i++) objects[`val/sample-${String(i).padStart(3, '0')}.bin`] = 512 + ((i * 104729) % 4096);
  for (let i = 0; i < 6; i++) objects[`large/shard-${i}.bin`] = (1 + i) * 1024 * 1024;
  objects['README.txt'] = 300;
  return objects;
}

describe('SampleSet operator (real control plane, simulated cache nodes, real JuiceFS)', function () {
  let cp: ControlPlane;
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let gw: S3Gateway;
  let operator: Operator | undefined;
  let agent: http.Agent;
  let volumesDir: string;
  let juicefs: string;
  const source = { bucket: 'dataset', files: 0, bytes: 0 };
  const namespaces: string[] = [];

  const startOperator = (options: Partial<SampleSetOperatorOptions> = {}): Promise<Operator> => startSampleSetOperator(agent, options);

  async function namespace(prefix: string): Promise<string> {
    const ns = `e2e-ss-${prefix}-${suffix()}`;
    await cp.ensureNamespace(ns);
    namespaces.push(ns);
    return ns;
  }

  const volumeSecret = (ns: string, name: string, volume?: string): Promise<{ metaurl: string; bucket: string; volume: string }> =>
    createVolumeSecret(api, volumesDir, ns, name, volume);

  async function sourceSecret(ns: string, name = 'source'): Promise<void> {
    await api.create<V1Secret>(SECRET, {
      metadata: { name, namespace: ns },
      stringData: { 'access-key': gw.accessKey, 'secret-key': gw.secretKey },
    });
  }

  const createSampleSet = (ns: string, name: string, spec: Partial<SampleSetSpec>): Promise<SampleSet> =>
    createSampleSetIn(api, ns, name, spec);
  const getSS = (ns: string, name: string): Promise<SampleSet | undefined> => api.get<SampleSet>(SAMPLESET, name, ns);
  const cond = conditionOf;
  const ssWhere = (ns: string, name: string, what: string, ok: (s: SampleSet) => boolean, timeoutMs = WAIT.timeoutMs): Promise<SampleSet> =>
    sampleSetWhere(api, ns, name, what, ok, { timeoutMs, diagnostics: () => `\nsimulator errors: ${sim.errors.slice(-5).join(' | ')}` });

  const readyWith = (files: number, bytes: number) => (s: SampleSet) =>
    s.status?.phase === 'Ready' &&
    s.status.cacheStatus?.fileCount === files &&
    s.status.cacheStatus?.totalBytes === bytes &&
    cond(s, 'CacheStatsAvailable')?.status === 'True';

  const runtimePods = (ns: string, name: string): Promise<V1Pod[]> => runtimePodsOf(api, ns, name);
  const nodeLabels = (name: string): Promise<Record<string, string>> => cacheNodeLabels(api, name);

  /** Waits until the cache-node labels are exactly "node of each running pod → pod name". */
  async function labelsFollowPods(ns: string, name: string, partitions: number): Promise<Record<string, string>> {
    return waitFor(
      `node labels of ${ns}/${name} to follow its ${partitions} pods`,
      async () => {
        const pods = (await runtimePods(ns, name)).filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
        if (pods.length !== partitions) return undefined;
        const expected: Record<string, string> = {};
        for (const p of pods) expected[p.spec!.nodeName!] = p.metadata!.name!;
        const actual = await nodeLabels(name);
        return JSON.stringify(Object.entries(actual).sort()) === JSON.stringify(Object.entries(expected).sort()) ? actual : undefined;
      },
      WAIT,
    );
  }

  /** Formats a volume and writes `files` (path → size) into it through a temporary mount. */
  async function fillVolume(
    v: { metaurl: string; bucket: string; volume: string },
    files: Record<string, number>,
  ): Promise<{ files: number; bytes: number }> {
    await run(juicefs, ['format', '--no-update', '--trash-days', '0', '--storage', 'file', '--bucket', v.bucket, v.metaurl, v.volume]);
    const mp = path.join(volumesDir, `fill-${suffix()}`);
    fs.mkdirSync(mp, { recursive: true });
    await run(juicefs, ['mount', '-d', '--no-usage-report', '--backup-meta', '0', '--log', `${mp}.log`, v.metaurl, mp]);
    let bytes = 0;
    try {
      for (const [rel, size] of Object.entries(files)) {
        const f = path.join(mp, rel);
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, crypto.randomBytes(size));
        bytes += size;
      }
    } finally {
      await run(juicefs, ['umount', mp]);
    }
    return { files: Object.keys(files).length, bytes };
  }

  /** Files and bytes in a volume, counted through a temporary mount (proves the data survived). */
  async function countVolume(v: { metaurl: string }): Promise<{ files: number; bytes: number }> {
    const mp = path.join(volumesDir, `count-${suffix()}`);
    fs.mkdirSync(mp, { recursive: true });
    await run(juicefs, ['mount', '-d', '--no-usage-report', '--backup-meta', '0', '--log', `${mp}.log`, v.metaurl, mp]);
    try {
      let files = 0;
      let bytes = 0;
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          if (d === mp && e.name.startsWith('.')) continue;
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.isFile()) {
            files++;
            bytes += fs.statSync(p).size;
          }
        }
      };
      walk(mp);
      return { files, bytes };
    } finally {
      await run(juicefs, ['umount', mp]);
    }
  }

  /** Bytes of regular files under a directory (cache blocks). */
  function dirBytes(d: string): number {
    if (!fs.existsSync(d)) return 0;
    let n = 0;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) n += dirBytes(p);
      else if (e.isFile()) n += fs.statSync(p).size;
    }
    return n;
  }

  const nothingLeft = (ns: string, name: string): Promise<void> => waitNothingLeft(api, ns, name);

  before(async function () {
    this.timeout(300_000);
    cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    agent = new http.Agent({ keepAlive: true });
    juicefs = path.join(cp.binDir, 'juicefs');
    volumesDir = path.join(cp.runDir, 'sampleset-volumes');
    fs.mkdirSync(volumesDir, { recursive: true });
    sim = await startCacheNodeSimulator(cp, { podFilter: (p) => (p.metadata?.namespace ?? '').startsWith('e2e-ss-') });
    gw = await startS3Gateway({ dir: path.join(cp.runDir, 'sampleset-s3'), juicefsBin: juicefs });
    const put = gw.put(source.bucket, datasetObjects());
    source.files = put.files;
    source.bytes = put.bytes;
    operator = await startOperator();
  });

  after(async function () {
    this.timeout(180_000);
    if (operator) await operator.stop();
    operator = undefined;
    // delete what is left with a fresh operator run so finalizers do not pin namespaces
    const cleanup = await startOperator();
    await deleteTestNamespaces(cp, namespaces, 'sampleset');
    await cleanup.stop();
    await sim?.stop();
    await gw?.stop();
    agent?.destroy();
  });

  it('1. syncs a source of a few hundred files into 2 partitions → Ready with totals equal to the source, nodes labelled, columns filled', async function () {
    this.timeout(240_000);
    const ns = await namespace('ready');
    await volumeSecret(ns, 'jfs');
    await sourceSecret(ns);
    // every status the operator writes, in order
    const history: Array<{ phase?: string; sync?: string; message?: string }> = [];
    const watch = new Informer<SampleSet>(api, SAMPLESET, { namespace: ns });
    watch.addHandler((_t, o) => {
      const last = history[history.length - 1];
      const entry = { phase: o.status?.phase, sync: o.status?.syncJob?.phase, message: o.status?.syncJob?.message };
      if (!last || last.phase !== entry.phase || last.sync !== entry.sync || last.message !== entry.message) history.push(entry);
    });
    watch.start();
    await createSampleSet(ns, 'imagenet', { partitions: 2, source: { uri: gw.uri(source.bucket), secretRef: { name: 'source' } } });

    const ss = await ssWhere(
      ns,
      'imagenet',
      `Ready with ${source.files} files / ${source.bytes} bytes`,
      readyWith(source.files, source.bytes),
      180_000,
    ).finally(() => watch.stop());
    const phases = history.map((h) => h.phase ?? '').filter((p, i, a) => i === 0 || a[i - 1] !== p);
    expect(phases, JSON.stringify(history)).to.include.members(['Syncing', 'Ready']);
    expect(phases.indexOf('Syncing')).to.be.below(phases.indexOf('Ready'));
    expect(phases).to.not.include('SyncFailed');
    expect(
      history.some((h) => h.phase === 'Syncing' && (h.sync === 'Pending' || h.sync === 'Running')),
      'sync state shown while syncing',
    ).to.equal(true);
    expect(history.find((h) => h.sync === 'Succeeded')?.message ?? '', 'the final progress').to.contain(
      `${source.files}/${source.files} files`,
    );
    expect(ss.status!.syncJob!.phase).to.equal('Succeeded');
    expect(cond(ss, 'Ready')).to.include({ status: 'True', reason: 'Ready' });
    expect(cond(ss, 'Synced')).to.include({ status: 'True', reason: 'SyncSucceeded' });
    expect(cond(ss, 'VolumeBound')?.status).to.equal('True');
    expect(cond(ss, 'RuntimeReady')?.status).to.equal('True');
    expect(ss.status!.observedGeneration).to.equal(ss.metadata.generation);
    expect(ss.status!.runtimeStatus).to.deep.equal({ specReplicas: 2, readyReplicas: 2, runtimeReady: '2/2' });
    const cs = ss.status!.cacheStatus!;
    expect(cs.totalFiles).to.equal(source.files.toLocaleString('en-US'));
    expect(cs.totalSize).to.match(/^\d+(\.\d)? (B|KiB|MiB|GiB)$/);
    expect(cs.cachedPercentage).to.match(/^\d+\.\d%$/);
    expect(cs.diskAvail).to.match(/^\d+(\.\d)? (B|KiB|MiB|GiB|TiB)$/);

    // nodes: one label per pod, on distinct nodes, recorded in status
    const labels = await labelsFollowPods(ns, 'imagenet', 2);
    expect(Object.keys(labels)).to.have.length(2);
    expect(Object.values(labels).sort()).to.deep.equal(['imagenet-runtime-0', 'imagenet-runtime-1']);
    expect(ss.status!.nodes!.map((n) => [n.partition, n.pod, n.ready])).to.deep.equal([
      [0, 'imagenet-runtime-0', true],
      [1, 'imagenet-runtime-1', true],
    ]);
    for (const n of ss.status!.nodes!) expect(labels[n.node!]).to.equal(n.pod);

    // owner references on every namespaced object, none on the PV
    for (const [type, name] of [
      [PVC, 'imagenet'],
      [SECRET, 'imagenet-runtime-token'],
      [SERVICE, 'imagenet-runtime'],
      [STATEFULSET, 'imagenet-runtime'],
    ] as const) {
      const o = await api.get(type, name, ns);
      expect(o?.metadata?.ownerReferences?.[0], `${type.kind} ${name}`).to.include({
        kind: 'SampleSet',
        name: 'imagenet',
        uid: ss.metadata.uid,
        controller: true,
      });
    }
    const pv = await api.get<V1PersistentVolume>(PV, `${ns}.imagenet`);
    expect(pv?.spec?.persistentVolumeReclaimPolicy).to.equal('Retain');

    // kubectl get samplesets: every printer column filled
    const out = (await cp.kubectl(['get', 'samplesets', '-n', ns, '--no-headers'])).stdout.trim().split(/\s{2,}/);
    // NAME TOTAL SIZE  CACHED SIZE  CACHED %  AVAIL SPACE  RUNTIME  PHASE  AGE
    expect(out).to.have.length(8);
    expect(out[0]).to.equal('imagenet');
    expect(out[1]).to.equal(cs.totalSize);
    expect(out[2]).to.equal(cs.cachedSize);
    expect(out[3]).to.equal(cs.cachedPercentage);
    expect(out[4]).to.equal(cs.diskAvail);
    expect(out[5]).to.equal('2/2');
    expect(out[6]).to.equal('Ready');
  });

  it('2. noSync on a volume that already holds data → Ready without a sync', async function () {
    this.timeout(180_000);
    const ns = await namespace('nosync');
    const v = await volumeSecret(ns, 'jfs');
    const filled = await fillVolume(v, { 'a/one.bin': 4096, 'a/two.bin': 10_000, 'b/c/three.bin': 150_000, 'top.txt': 12 });
    await createSampleSet(ns, 'prefilled', { partitions: 2, noSync: true });
    const ss = await ssWhere(ns, 'prefilled', 'Ready with the data already in the volume', readyWith(filled.files, filled.bytes));
    expect(ss.status!.syncJob).to.equal(undefined);
    expect(cond(ss, 'Synced')).to.include({ status: 'True', reason: 'SyncSkipped' });
    expect(cond(ss, 'Ready')?.status).to.equal('True');
  });

  it('3. wrong source bucket → SyncFailed with the runtime message; fixing the spec → syncs → Ready', async function () {
    this.timeout(240_000);
    const ns = await namespace('syncfail');
    await volumeSecret(ns, 'jfs');
    await sourceSecret(ns);
    await createSampleSet(ns, 'wrong', { partitions: 1, source: { uri: gw.uri('no-such-bucket'), secretRef: { name: 'source' } } });
    const failed = await ssWhere(ns, 'wrong', 'SyncFailed', (s) => s.status?.phase === 'SyncFailed');
    expect(failed.status!.syncJob!.phase).to.equal('Failed');
    expect(failed.status!.syncJob!.message).to.be.a('string').and.not.equal('');
    expect(cond(failed, 'Ready')).to.include({ status: 'False', reason: 'SyncFailed' });
    expect(cond(failed, 'Ready')!.message).to.contain(failed.status!.syncJob!.message!.slice(0, 40));
    expect(cond(failed, 'Synced')).to.include({ status: 'False', reason: 'SyncFailed' });
    const failedId = failed.status!.syncJob!.id;

    // no retry loop: it stays failed with the same job while the spec is unchanged
    await sleep(4000);
    const still = await getSS(ns, 'wrong');
    expect(still!.status!.phase).to.equal('SyncFailed');
    expect(still!.status!.syncJob!.id).to.equal(failedId);

    const events = await cp.kubectl([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      'reason=SyncFailed',
      '-o',
      'jsonpath={.items[*].message}',
    ]);
    expect(events.stdout).to.contain(failedId);

    await api.patch(SAMPLESET, 'wrong', ns, { spec: { source: { uri: gw.uri(source.bucket), secretRef: { name: 'source' } } } });
    const ready = await ssWhere(ns, 'wrong', 'Ready after the fix', readyWith(source.files, source.bytes), 180_000);
    expect(ready.status!.syncJob!.id).to.not.equal(failedId);
    expect(ready.status!.syncJob!.phase).to.equal('Succeeded');
  });

  it('4. missing Secret → Ready=False naming it; creating the Secret → proceeds on its own', async function () {
    this.timeout(180_000);
    const ns = await namespace('secret');
    await createSampleSet(ns, 'waiting', { partitions: 1, noSync: true, secretRef: { name: 'jfs-later' } });
    const blocked = await ssWhere(ns, 'waiting', 'Ready=False SecretNotFound', (s) => cond(s, 'Ready')?.reason === 'SecretNotFound');
    expect(cond(blocked, 'Ready')!.status).to.equal('False');
    expect(cond(blocked, 'Ready')!.message).to.contain(`${ns}/jfs-later`);
    expect(blocked.metadata.finalizers).to.include(SAMPLESET_FINALIZER);
    expect(await api.get(STATEFULSET, 'waiting-runtime', ns)).to.equal(undefined);
    const events = await cp.kubectl([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      'reason=SecretNotFound',
      '-o',
      'jsonpath={.items[*].type}',
    ]);
    expect(events.stdout).to.contain('Warning');

    await volumeSecret(ns, 'jfs-later');
    const ss = await ssWhere(ns, 'waiting', 'Ready after the Secret appeared', (s) => s.status?.phase === 'Ready');
    expect(cond(ss, 'Ready')!.status).to.equal('True');
  });

  it('4b. an unknown engine, a Secret without a required key and an unsupported source scheme each say so, and wait', async function () {
    this.timeout(120_000);
    const ns = await namespace('invalid');
    await volumeSecret(ns, 'jfs');
    await api.create<V1Secret>(SECRET, { metadata: { name: 'no-metaurl', namespace: ns }, stringData: { name: 'vol-x', storage: 'file' } });
    await createSampleSet(ns, 'engine', { partitions: 1, noSync: true, csi: { driver: 'alluxio' } });
    await createSampleSet(ns, 'key', { partitions: 1, noSync: true, secretRef: { name: 'no-metaurl' } });
    await createSampleSet(ns, 'scheme', { partitions: 1, source: { uri: 'gopher://bucket/data/' } });
    const expectations: Array<[string, string, RegExp]> = [
      ['engine', 'UnknownEngine', /alluxio/],
      ['key', 'SecretKeyMissing', /metaurl/],
      ['scheme', 'InvalidSource', /gopher/],
    ];
    for (const [name, reason, message] of expectations) {
      const s = await ssWhere(ns, name, `Ready=False ${reason}`, (x) => cond(x, 'Ready')?.reason === reason);
      expect(cond(s, 'Ready')!.status).to.equal('False');
      expect(cond(s, 'Ready')!.message).to.match(message);
      expect(s.status!.observedGeneration).to.equal(s.metadata.generation);
    }
    // nothing was created, and nothing keeps rewriting the status (no hot loop)
    const rvs = await Promise.all(['engine', 'key', 'scheme'].map(async (n) => (await getSS(ns, n))!.metadata.resourceVersion));
    await sleep(3000);
    expect(await Promise.all(['engine', 'key', 'scheme'].map(async (n) => (await getSS(ns, n))!.metadata.resourceVersion))).to.deep.equal(
      rvs,
    );
    for (const n of ['engine', 'key', 'scheme']) expect(await api.get(STATEFULSET, `${n}-runtime`, ns), n).to.equal(undefined);
    const reasons = (await cp.kubectl(['get', 'events', '-n', ns, '--field-selector', 'type=Warning', '-o', 'jsonpath={.items[*].reason}']))
      .stdout;
    for (const [, reason] of expectations) expect(reasons).to.contain(reason);
  });

  it('5. scales 2 → 3 → 1: runtime pods, node labels and status follow', async function () {
    this.timeout(240_000);
    const ns = await namespace('scale');
    const v = await volumeSecret(ns, 'jfs');
    const filled = await fillVolume(v, { 'x.bin': 64 * 1024, 'y/z.bin': 8 * 1024 });
    await createSampleSet(ns, 'elastic', { partitions: 2, noSync: true });
    await ssWhere(
      ns,
      'elastic',
      'Ready with 2',
      (s) => readyWith(filled.files, filled.bytes)(s) && s.status?.runtimeStatus?.runtimeReady === '2/2',
    );
    await labelsFollowPods(ns, 'elastic', 2);

    await api.patch(SAMPLESET, 'elastic', ns, { spec: { partitions: 3 } });
    const three = await ssWhere(
      ns,
      'elastic',
      'Ready with 3',
      (s) =>
        s.status?.phase === 'Ready' &&
        s.status.runtimeStatus?.runtimeReady === '3/3' &&
        s.status.observedGeneration === s.metadata.generation,
    );
    expect(three.status!.nodes!.map((n) => n.pod)).to.deep.equal(['elastic-runtime-0', 'elastic-runtime-1', 'elastic-runtime-2']);
    expect(new Set(three.status!.nodes!.map((n) => n.node)).size).to.equal(3);
    const labels3 = await labelsFollowPods(ns, 'elastic', 3);
    expect(Object.keys(labels3)).to.have.length(3);
    expect((await api.get<V1StatefulSet>(STATEFULSET, 'elastic-runtime', ns))!.spec!.replicas).to.equal(3);

    await api.patch(SAMPLESET, 'elastic', ns, { spec: { partitions: 1 } });
    const one = await ssWhere(
      ns,
      'elastic',
      'Ready with 1',
      (s) =>
        s.status?.phase === 'Ready' &&
        s.status.runtimeStatus?.runtimeReady === '1/1' &&
        s.status.observedGeneration === s.metadata.generation,
    );
    expect(one.status!.nodes!.map((n) => n.pod)).to.deep.equal(['elastic-runtime-0']);
    const labels1 = await labelsFollowPods(ns, 'elastic', 1);
    expect(Object.values(labels1)).to.deep.equal(['elastic-runtime-0']);
    await waitFor('scaled-down pods to go', async () => ((await runtimePods(ns, 'elastic')).length === 1 ? true : undefined), WAIT);
    await ssWhere(
      ns,
      'elastic',
      'statistics from the one pod',
      (s) => readyWith(filled.files, filled.bytes)(s) && /elastic-runtime-0$/.test(cond(s, 'CacheStatsAvailable')!.message),
    );
  });

  it('6. a deleted runtime pod is recreated and the SampleSet is Ready again with correct statistics', async function () {
    this.timeout(240_000);
    const ns = await namespace('podloss');
    const v = await volumeSecret(ns, 'jfs');
    const filled = await fillVolume(v, { 'one.bin': 200_000, 'dir/two.bin': 30_000, 'dir/three.txt': 5 });
    await createSampleSet(ns, 'resilient', { partitions: 2, noSync: true });
    await ssWhere(ns, 'resilient', 'Ready', readyWith(filled.files, filled.bytes));
    const before = (await runtimePods(ns, 'resilient')).find((p) => p.metadata!.name === 'resilient-runtime-1')!;

    await api.delete(POD, 'resilient-runtime-1', ns);
    await waitFor(
      'resilient-runtime-1 to be recreated and served',
      async () => {
        const p = (await runtimePods(ns, 'resilient')).find((x) => x.metadata!.name === 'resilient-runtime-1');
        if (!p || p.metadata!.uid === before.metadata!.uid || p.status?.phase !== 'Running') return undefined;
        return sim.pods().some((s) => s.name === 'resilient-runtime-1' && s.namespace === ns && s.uid === p.metadata!.uid && s.serving)
          ? p
          : undefined;
      },
      WAIT,
    );
    const ss = await ssWhere(
      ns,
      'resilient',
      'Ready again with statistics from both pods',
      (s) =>
        readyWith(filled.files, filled.bytes)(s) &&
        s.status?.runtimeStatus?.runtimeReady === '2/2' &&
        /resilient-runtime-0, resilient-runtime-1$/.test(cond(s, 'CacheStatsAvailable')!.message),
    );
    expect(ss.status!.nodes!.every((n) => n.ready)).to.equal(true);
    await labelsFollowPods(ns, 'resilient', 2);
  });

  it('7. deleting the SampleSet leaves no PV, PVC, StatefulSet, Service, Secret or node label; the volume data is kept', async function () {
    this.timeout(240_000);
    const ns = await namespace('delete');
    const v = await volumeSecret(ns, 'jfs');
    const filled = await fillVolume(v, { 'keep/me.bin': 70_000 });
    await createSampleSet(ns, 'doomed', { partitions: 2, noSync: true });
    await ssWhere(ns, 'doomed', 'Ready', readyWith(filled.files, filled.bytes));
    await labelsFollowPods(ns, 'doomed', 2);

    await api.delete(SAMPLESET, 'doomed', ns);
    await nothingLeft(ns, 'doomed');
    // the user's Secret stays, and so does the data in the JuiceFS volume
    expect(await api.get(SECRET, 'jfs', ns)).to.not.equal(undefined);
    await waitFor('the simulated mounts of the deleted pods to go', () => !sim.pods().some((p) => p.namespace === ns), WAIT);
    expect(await countVolume(v)).to.deep.equal(filled);
  });

  it('8. a deletion requested while the operator is down completes once it starts', async function () {
    this.timeout(240_000);
    const ns = await namespace('offline');
    const v = await volumeSecret(ns, 'jfs');
    const filled = await fillVolume(v, { 'f.bin': 1000 });
    await createSampleSet(ns, 'orphan', { partitions: 1, noSync: true });
    await ssWhere(ns, 'orphan', 'Ready', readyWith(filled.files, filled.bytes));

    await operator!.stop();
    operator = undefined;
    await cp.kubectl(['delete', 'sampleset', 'orphan', '-n', ns, '--wait=false']);
    await sleep(2000);
    const pending = await getSS(ns, 'orphan');
    expect(pending?.metadata.deletionTimestamp, 'held by the finalizer while the operator is down').to.not.equal(undefined);

    operator = await startOperator();
    await nothingLeft(ns, 'orphan');
  });

  it('9. two SampleSets in two namespaces sharing nodes do not disturb each other’s labels or caches', async function () {
    this.timeout(300_000);
    const nsA = await namespace('share-a');
    const nsB = await namespace('share-b');
    const files = { 'p/0.bin': 300_000, 'p/1.bin': 300_000, 'q.bin': 100_000 };
    const va = await volumeSecret(nsA, 'jfs');
    const vb = await volumeSecret(nsB, 'jfs');
    const fa = await fillVolume(va, files);
    const fb = await fillVolume(vb, files);
    await createSampleSet(nsA, 'alpha', { partitions: 2, noSync: true });
    await createSampleSet(nsB, 'beta', { partitions: 2, noSync: true });
    await ssWhere(nsA, 'alpha', 'Ready', readyWith(fa.files, fa.bytes));
    await ssWhere(nsB, 'beta', 'Ready', readyWith(fb.files, fb.bytes));
    const la = await labelsFollowPods(nsA, 'alpha', 2);
    const lb = await labelsFollowPods(nsB, 'beta', 2);
    const shared = Object.keys(la).filter((n) => n in lb);
    expect(shared.length, '3 nodes, 2 + 2 pods: at least one node is shared').to.be.greaterThan(0);

    // read everything through every beta mount: each beta node caches the whole dataset
    await Promise.all([0, 1].map((i) => sim.waitForRuntime(nsB, `beta-runtime-${i}`)));
    const betaPods = sim.pods().filter((p) => p.namespace === nsB);
    expect(betaPods).to.have.length(2);
    for (const p of betaPods) {
      const mp = Object.values(p.mounts)[0];
      for (const rel of Object.keys(files)) fs.readFileSync(path.join(mp, rel));
    }
    const betaCacheBytes = (): number => betaPods.reduce((n, p) => n + p.cacheDirs.reduce((m, d) => m + dirBytes(d), 0), 0);
    // the mounts write cache blocks in the background: wait until both nodes hold the dataset and it settles
    let previous = -1;
    const cachedBefore = await waitFor(
      'beta blocks in both node caches',
      () => {
        const now = betaCacheBytes();
        const settled = now === previous && now >= 2 * fb.bytes;
        previous = now;
        return settled ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const betaCached = await ssWhere(nsB, 'beta', 'cached bytes reported', (s) => (s.status?.cacheStatus?.cachedBytes ?? 0) > 0);

    // deleting alpha (whose preStop cleans alpha's cache dirs on the shared node) leaves beta alone
    await api.delete(SAMPLESET, 'alpha', nsA);
    await nothingLeft(nsA, 'alpha');
    expect(await nodeLabels('beta')).to.deep.equal(lb);
    expect(betaCacheBytes()).to.equal(cachedBefore);
    const after = await getSS(nsB, 'beta');
    expect(after!.status!.phase).to.equal('Ready');
    expect(after!.status!.cacheStatus!.cachedBytes).to.be.at.least(betaCached.status!.cacheStatus!.cachedBytes!);
    expect(Object.keys(await nodeLabels('alpha'))).to.have.length(0);
  });

  it('adopts nothing it did not create: a foreign object of the same name → ObjectConflict until it is gone', async function () {
    this.timeout(180_000);
    const ns = await namespace('conflict');
    const v = await volumeSecret(ns, 'jfs');
    const filled = await fillVolume(v, { 'c.bin': 2048 });
    await api.create<V1Service>(SERVICE, {
      metadata: { name: 'taken-runtime', namespace: ns },
      spec: { clusterIP: 'None', ports: [{ port: 80 }] },
    });
    await createSampleSet(ns, 'taken', { partitions: 1, noSync: true });
    const blocked = await ssWhere(ns, 'taken', 'Ready=False ObjectConflict', (s) => cond(s, 'Ready')?.reason === 'ObjectConflict');
    expect(cond(blocked, 'Ready')!.message).to.contain(`Service ${ns}/taken-runtime`);
    const svc = await api.get<V1Service>(SERVICE, 'taken-runtime', ns);
    expect(svc!.metadata!.ownerReferences ?? []).to.have.length(0);
    expect(await api.get(STATEFULSET, 'taken-runtime', ns)).to.equal(undefined);

    await api.delete(SERVICE, 'taken-runtime', ns);
    const ss = await ssWhere(ns, 'taken', 'Ready once the foreign Service is gone', readyWith(filled.files, filled.bytes));
    expect(cond(ss, 'Ready')!.status).to.equal('True');
  });

  it('refreshes cache statistics when told a job ended, not by a fast poll, and writes status only when it changes', async function () {
    this.timeout(180_000);
    // this test wants a slow periodic refresh, to see the invalidation act
    await operator!.stop();
    operator = await startOperator({ statsIntervalMs: 600_000, statsRetryMs: 1000 });
    const ns = await namespace('refresh');
    const v = await volumeSecret(ns, 'jfs');
    const files = { 'r/a.bin': 400_000, 'r/b.bin': 300_000 };
    const filled = await fillVolume(v, files);
    await createSampleSet(ns, 'fresh', { partitions: 1, noSync: true });
    const ready = await ssWhere(ns, 'fresh', 'Ready with statistics', readyWith(filled.files, filled.bytes));
    expect(ready.status!.cacheStatus!.cachedBytes).to.equal(0);

    // quiet: nothing changes, so nothing is written
    const rv = ready.metadata.resourceVersion;
    await sleep(4000);
    expect((await getSS(ns, 'fresh'))!.metadata.resourceVersion, 'no status write without a change').to.equal(rv);

    // read the data through the node's mount (as a trainer would): the cache fills, status does not move yet
    const pod = await sim.waitForRuntime(ns, 'fresh-runtime-0');
    const mp = Object.values(pod.mounts)[0];
    for (const rel of Object.keys(files)) fs.readFileSync(path.join(mp, rel));
    await waitFor(
      'blocks in the node cache',
      () => (pod.cacheDirs.reduce((n, d) => n + dirBytes(d), 0) >= filled.bytes ? true : undefined),
      WAIT,
    );
    await sleep(2000);
    expect((await getSS(ns, 'fresh'))!.status!.cacheStatus!.cachedBytes, 'no fast poll').to.equal(0);

    // a SampleJob operator would say "job ended": statistics follow at once
    const t0 = Date.now();
    operator.notifier.invalidate(ns, 'fresh');
    const after = await ssWhere(
      ns,
      'fresh',
      'cached bytes after the invalidation',
      (s) => (s.status?.cacheStatus?.cachedBytes ?? 0) >= filled.bytes,
      15_000,
    );
    expect(Date.now() - t0).to.be.below(10_000);
    expect(after.status!.cacheStatus!.cachedPercentage).to.equal('100.0%');
    expect(after.status!.lastCacheUpdateTime).to.be.a('string');

    await operator.stop();
    operator = await startOperator();
  });
});
