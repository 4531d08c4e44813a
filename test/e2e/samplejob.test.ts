// SampleJob operator against the real control plane, with the SampleSet operator next to it (both
// in this process, production informers/queues/clients), simulated cache nodes (real paddle-runtime
// processes, each with its own real JuiceFS FUSE mount and cache dir) and a `juicefs gateway` as the
// remote object store. Scenarios 1–10.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { KubeConfig, V1Pod, V1Secret } from '@kubernetes/client-node';
import { POD, SAMPLEJOB, SAMPLESET, SECRET } from '../../src/api/constants.js';
import type { SampleJob, SampleJobSpec } from '../../src/api/samplejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { installedEngines } from '../../src/engines/installed.js';
import { ApiError, isNotFound } from '../../src/kube/api-error.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { SampleJobOperator } from '../../src/operators/samplejob/samplejob-operator.js';
import { childName } from '../../src/operators/samplejob/schedule.js';
import { SampleSetOperator } from '../../src/operators/sampleset/sampleset-operator.js';
import { CacheStatsNotifier } from '../../src/operators/shared/cache-stats-notifier.js';
import { readRuntimeToken, runtimeBaseUrl } from '../../src/operators/shared/runtime-pods.js';
import { RuntimeClient } from '../../src/operators/shared/runtime-client.js';
import { startCacheNodeSimulator, startS3Gateway, type CacheNodeSimulator, type S3Gateway } from '../harness/cache-nodes.js';
import type { ControlPlane } from '../harness/control-plane.js';
import { sleep, waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { operatorContext, type TestOperatorContext } from './operator-context.js';

const suffix = (): string => crypto.randomBytes(3).toString('hex');
const WAIT = { timeoutMs: 90_000, intervalMs: 100 };
const SS = 'ds';
const TRAIN_FILES = 1600;
const TRAIN_FILE_BYTES = 8 * 1024;
const EXTRA_FILES = 24;
const EXTRA_FILE_BYTES = 16 * 1024;
/** Synced with --bwlimit 1 (Mbps): ~3 minutes, far longer than any test waits for it. */
const BIG_BYTES = 24 * 1024 * 1024;

describe('SampleJob operator (real control plane, simulated cache nodes, real JuiceFS)', function () {
  let cp: ControlPlane;
  let kc: KubeConfig;
  let api: KubeApi;
  let opCtx: TestOperatorContext | undefined;
  let sim: CacheNodeSimulator;
  let s3: S3Gateway;
  let ssOp: SampleSetOperator;
  let sjOp: SampleJobOperator;
  let startSampleJobOperator: () => Promise<SampleJobOperator>;
  const runtime = new RuntimeClient({ retries: 1 });
  const ns = `e2e-sj-${suffix()}`;
  let workDir: string;
  let trainBytes = 0;

  // ---- helpers ---------------------------------------------------------------------------------

  async function createJob(name: string, spec: Partial<SampleJobSpec>): Promise<SampleJob> {
    return api.create<SampleJob>(SAMPLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name, namespace: ns },
      spec: { sampleSetRef: { name: SS }, ...spec } as SampleJobSpec,
    });
  }
  const getJob = (name: string): Promise<SampleJob | undefined> => api.get<SampleJob>(SAMPLEJOB, name, ns);
  const getSampleSet = async (): Promise<SampleSet> => (await api.get<SampleSet>(SAMPLESET, SS, ns))!;
  const cond = (j: SampleJob | undefined): { reason?: string; message?: string; status?: string } | undefined =>
    j?.status?.conditions?.find((c) => c.type === 'Succeeded');

  async function jobWhere(name: string, what: string, ok: (j: SampleJob) => boolean, timeoutMs = WAIT.timeoutMs): Promise<SampleJob> {
    let last: SampleJob | undefined;
    try {
      return await waitFor(
        `SampleJob ${ns}/${name} ${what}`,
        async () => {
          last = await getJob(name);
          return last && ok(last) ? last : undefined;
        },
        { ...WAIT, timeoutMs },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last status: ${JSON.stringify(last?.status)}`);
    }
  }
  const finished = (name: string, timeoutMs?: number): Promise<SampleJob> =>
    jobWhere(name, 'Succeeded or Failed', (j) => j.status?.phase === 'Succeeded' || j.status?.phase === 'Failed', timeoutMs);

  async function expectSucceeded(name: string, timeoutMs?: number): Promise<SampleJob> {
    const t0 = Date.now();
    const j = await finished(name, timeoutMs);
    if (process.env.SJ_E2E_TRACE)
      process.stderr.write(
        `      [trace] ${name} ${j.status?.phase} after ${Date.now() - t0} ms (start ${j.status?.startTime}, end ${j.status?.completionTime})\n`,
      );
    expect(j.status?.phase, `${name}: ${JSON.stringify(j.status)}`).to.equal('Succeeded');
    return j;
  }

  async function sampleSetWhere(what: string, ok: (s: SampleSet) => boolean, timeoutMs = WAIT.timeoutMs): Promise<SampleSet> {
    let last: SampleSet | undefined;
    try {
      return await waitFor(
        `SampleSet ${ns}/${SS} ${what}`,
        async () => {
          last = await getSampleSet();
          return ok(last) ? last : undefined;
        },
        { ...WAIT, timeoutMs },
      );
    } catch (e) {
      throw new Error(
        `${(e as Error).message}; last status: ${JSON.stringify({ phase: last?.status?.phase, cacheStatus: last?.status?.cacheStatus })}`,
      );
    }
  }

  /** The dataset root as mounted for runtime pod `i` (the same JuiceFS volume on every node). */
  function datasetRoot(i = 0): string {
    const p = sim.pods().find((x) => x.namespace === ns && x.name === `${SS}-runtime-${i}`);
    if (!p) throw new Error(`runtime pod ${i} is not simulated`);
    const mount = Object.values(p.mounts)[0];
    if (!mount) throw new Error(`runtime pod ${i} has no volume mount`);
    return mount;
  }

  async function token(): Promise<string> {
    const s = await api.get<V1Secret>(SECRET, `${SS}-runtime-token`, ns);
    const t = readRuntimeToken(s);
    if (!t) throw new Error('no runtime token');
    return t;
  }

  /** Cached bytes of this SampleSet per runtime pod, straight from each runtime. */
  async function cachedPerNode(): Promise<number[]> {
    const t = await token();
    const pods = (await api.list<V1Pod>(POD, ns)).items
      .filter((p) => p.metadata?.name?.startsWith(`${SS}-runtime-`))
      .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
    return Promise.all(pods.map(async (p) => (await runtime.cacheStats(runtimeBaseUrl(p)!, t)).cachedBytes));
  }

  async function events(name: string): Promise<{ reason?: string; note?: string; type?: string }[]> {
    const r = await api.request<{ items: { reason?: string; note?: string; type?: string; regarding?: { name?: string } }[] }>(
      'GET',
      `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
    );
    return r.items.filter((e) => e.regarding?.name === name);
  }

  /** Events are recorded after the status write, without waiting: a check waits for them a little. */
  async function eventuallyEvent(name: string, ok: (e: { reason?: string; type?: string }[]) => boolean): Promise<boolean> {
    return waitFor(`Events of SampleJob ${name}`, async () => ok(await events(name)) || undefined, {
      timeoutMs: 10_000,
      intervalMs: 100,
    }).catch(() => false);
  }

  async function deleteJob(name: string): Promise<void> {
    await api.delete(SAMPLEJOB, name, ns);
    await waitFor(`SampleJob ${name} gone`, async () => !(await getJob(name)), WAIT);
  }

  // ---- setup -------------------------------------------------------------------------------------

  before(async function () {
    this.timeout(300_000);
    cp = testCluster();
    kc = cp.kubeConfig();
    api = new KubeApi(kc);
    await cp.ensureNamespace(ns);
    workDir = fs.mkdtempSync(path.join(cp.runDir, 'samplejob-'));

    s3 = await startS3Gateway({ dir: path.join(workDir, 's3'), juicefsBin: path.join(cp.binDir, 'juicefs') });
    const train: Record<string, number> = {};
    for (let i = 0; i < TRAIN_FILES; i++) train[`train/c${i % 16}/img-${String(i).padStart(5, '0')}.bin`] = TRAIN_FILE_BYTES;
    trainBytes = s3.put('data', train).bytes;
    const extra: Record<string, number> = {};
    for (let i = 0; i < EXTRA_FILES; i++) extra[`extra/part-${i}.bin`] = EXTRA_FILE_BYTES;
    s3.put('data', extra);
    s3.put('data', { 'big/blob.bin': BIG_BYTES });

    const volDir = path.join(workDir, 'volume');
    fs.mkdirSync(volDir, { recursive: true });
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'jfs-volume', namespace: ns },
      stringData: {
        name: `e2e-sj-${suffix()}`,
        metaurl: `sqlite3://${path.join(volDir, 'meta.db')}`,
        storage: 'file',
        bucket: path.join(volDir, 'objects') + '/',
      },
    });
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'source', namespace: ns },
      stringData: { 'access-key': s3.accessKey, 'secret-key': s3.secretKey },
    });

    sim = await startCacheNodeSimulator(cp, { namespaces: [ns] });
    // the operators run on the ServiceAccount's credentials (kustomize/default RBAC), as in production
    opCtx = await operatorContext();
    const ctx = opCtx.ctx;
    const engines = installedEngines();
    const notifier = new CacheStatsNotifier();
    ssOp = new SampleSetOperator(ctx, engines, runtime, { runtimeImage: 'paddle-operator:e2e', statsIntervalMs: 5000 }, notifier);
    startSampleJobOperator = async () => {
      const op = new SampleJobOperator(ctx, engines, runtime, notifier, { podWaitTimeoutMs: 90_000, progressIntervalMs: 250 });
      await op.start();
      return op;
    };
    [sjOp] = await Promise.all([startSampleJobOperator(), ssOp.start()]);

    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: SS, namespace: ns },
      spec: {
        partitions: 2,
        secretRef: { name: 'jfs-volume' },
        source: { uri: s3.uri('data', 'train/'), secretRef: { name: 'source' } },
        // under a default --cache-root (the simulated nodes map host paths into the run directory);
        // the SampleSet's own <namespace>_<name> directory is added below it
        cache: { levels: [{ mediumType: 'SSD', path: '/var/lib/paddle-operator/cache/e2e', cacheSize: 1024 }] },
      },
    });
    await sampleSetWhere(
      'Ready with the dataset counted',
      (s) => s.status?.phase === 'Ready' && (s.status.cacheStatus?.totalBytes ?? 0) >= trainBytes * 0.95,
      240_000,
    );
  });

  after(async function () {
    this.timeout(120_000);
    await sjOp?.stop();
    // delete the SampleSet while its operator still runs, so its finalizer (runtime, PVC, PV) completes
    if (api) {
      for (const j of (await api.list<SampleJob>(SAMPLEJOB, ns).catch(() => ({ items: [] as SampleJob[] }))).items) {
        await api.patch(SAMPLEJOB, j.metadata.name!, ns, { metadata: { finalizers: null } }).catch(() => undefined);
      }
      await api.delete(SAMPLESET, SS, ns).catch(() => undefined);
      await waitFor('SampleSet deleted', async () => !(await api.get(SAMPLESET, SS, ns)), { timeoutMs: 60_000, intervalMs: 250 }).catch(
        () => undefined,
      );
    }
    await ssOp?.stop();
    await opCtx?.stop();
    await sim?.stop();
    await s3?.stop();
    await cp?.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
  });

  // ---- scenarios ---------------------------------------------------------------------------------

  it('1. sync of a second prefix into a subdirectory: Succeeded, files present, SampleSet totals grow', async function () {
    this.timeout(120_000);
    const before = (await getSampleSet()).status!.cacheStatus!;
    await createJob('sync-extra', {
      type: 'sync',
      secretRef: { name: 'source' },
      syncOptions: { source: s3.uri('data', 'extra/'), destination: '/extra' },
    });
    const j = await expectSucceeded('sync-extra');
    expect(j.status?.nodes).to.have.length(1);
    expect(j.status?.nodes?.[0]).to.include({ pod: `${SS}-runtime-0`, phase: 'Succeeded', attempts: 1 });
    expect(j.status?.startTime).to.be.a('string');
    expect(j.status?.completionTime).to.be.a('string');
    expect(j.status?.progress?.percent).to.equal('100%');
    expect(fs.readdirSync(path.join(datasetRoot(1), 'extra')).sort()).to.have.length(EXTRA_FILES);
    const grown = await sampleSetWhere(
      'totals grown by the extra files',
      (s) => (s.status?.cacheStatus?.totalBytes ?? 0) >= (before.totalBytes ?? 0) + EXTRA_FILES * EXTRA_FILE_BYTES,
      30_000,
    );
    expect(grown.status!.cacheStatus!.fileCount ?? 0).to.be.at.least((before.fileCount ?? 0) + EXTRA_FILES);
    expect(
      await eventuallyEvent('sync-extra', (evs) => ['Pending', 'Succeeded'].every((r) => evs.some((e) => e.reason === r))),
      'Pending and Succeeded Events',
    ).to.equal(true);
  });

  it('2. clear then warmup on 2 partitions: cached drops to ~0, then rises to ≈ the dataset split across both nodes, progress rising', async function () {
    this.timeout(180_000);
    await createJob('clear-all', { type: 'clear' });
    const cleared = await expectSucceeded('clear-all');
    expect(cleared.status?.nodes?.map((n) => n.pod).sort()).to.deep.equal([`${SS}-runtime-0`, `${SS}-runtime-1`]);
    const afterClear = await cachedPerNode();
    expect(
      afterClear.reduce((a, b) => a + b, 0),
      `after clear: ${afterClear.join(',')}`,
    ).to.be.lessThan(trainBytes * 0.05);
    await sampleSetWhere('cached ~0 after clear', (s) => (s.status?.cacheStatus?.cachedBytes ?? Infinity) < trainBytes * 0.05, 30_000);

    await createJob('warm-all', { type: 'warmup', warmupOptions: { paths: ['/'] } });
    const seen: string[] = [];
    const j = await jobWhere(
      'warm-all',
      'finished (recording progress)',
      (x) => {
        const p = x.status?.progress?.percent;
        if (p && seen[seen.length - 1] !== p) seen.push(p);
        return x.status?.phase === 'Succeeded' || x.status?.phase === 'Failed';
      },
      120_000,
    );
    expect(j.status?.phase, JSON.stringify(j.status)).to.equal('Succeeded');
    const nums = seen.map((p) => Number(p.replace('%', '')));
    expect(nums[nums.length - 1]).to.equal(100);
    expect(nums.length, `progress seen: ${seen.join(' ')}`).to.be.at.least(2);
    expect([...nums].sort((a, b) => a - b)).to.deep.equal(nums); // never goes back
    expect(j.status?.progress?.filesTotal).to.be.at.least(TRAIN_FILES);
    const perNode = await cachedPerNode();
    const total = perNode.reduce((a, b) => a + b, 0);
    expect(total, `per node: ${perNode.join(',')}`).to.be.at.least(trainBytes * 0.9);
    for (const n of perNode) expect(n, `per node: ${perNode.join(',')}`).to.be.within(trainBytes * 0.3, trainBytes * 0.8);
    await sampleSetWhere('cached ≈ dataset', (s) => (s.status?.cacheStatus?.cachedBytes ?? 0) >= trainBytes * 0.9, 30_000);
  });

  it('3. rmr of one directory: gone, other data untouched, SampleSet totals shrink', async function () {
    this.timeout(120_000);
    const before = (await getSampleSet()).status!.cacheStatus!;
    await createJob('rm-extra', { type: 'rmr', rmrOptions: { paths: ['/extra'] } });
    await expectSucceeded('rm-extra');
    expect(fs.existsSync(path.join(datasetRoot(0), 'extra'))).to.equal(false);
    expect(fs.readdirSync(path.join(datasetRoot(0))).filter((n) => n.startsWith('c'))).to.have.length(16);
    expect(fs.readdirSync(path.join(datasetRoot(0), 'c3')).length).to.equal(TRAIN_FILES / 16);
    await sampleSetWhere(
      'totals shrunk',
      (s) => (s.status?.cacheStatus?.totalBytes ?? Infinity) <= (before.totalBytes ?? 0) - EXTRA_FILES * EXTRA_FILE_BYTES,
      30_000,
    );
  });

  it('4. rmr path safety: `..` rejected by the apiserver; /etc is <root>/etc; a symlink escape fails with nothing deleted', async function () {
    this.timeout(120_000);
    // `..` never reaches the operator
    try {
      await createJob('rm-dotdot', { type: 'rmr', rmrOptions: { paths: ['/c1/../../etc'] } });
      expect.fail('the apiserver accepted a path with ..');
    } catch (e) {
      expect(e).to.be.instanceOf(ApiError);
      expect((e as ApiError).code).to.equal(422);
      expect((e as ApiError).message).to.match(/\.\./);
    }
    // /etc means <root>/etc
    const root = datasetRoot(0);
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'not the host one\n');
    const hostPasswd = fs.statSync('/etc/passwd');
    await createJob('rm-etc', { type: 'rmr', rmrOptions: { paths: ['/etc'] } });
    await expectSucceeded('rm-etc');
    expect(fs.existsSync(path.join(root, 'etc'))).to.equal(false);
    expect(fs.statSync('/etc/passwd').ino).to.equal(hostPasswd.ino);
    // a symlink that leads outside the dataset root
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'sj-victim-'));
    fs.writeFileSync(path.join(outside, 'victim'), 'keep me');
    fs.symlinkSync(outside, path.join(root, 'escape'));
    await createJob('rm-escape', { type: 'rmr', rmrOptions: { paths: ['/escape/victim'] } });
    const j = await finished('rm-escape');
    expect(j.status?.phase).to.equal('Failed');
    expect(cond(j)?.reason).to.equal('UnsafePath');
    expect(cond(j)?.message).to.match(/"escape" is a symlink/);
    expect(fs.readFileSync(path.join(outside, 'victim'), 'utf8')).to.equal('keep me');
    expect(
      await eventuallyEvent('rm-escape', (evs) => evs.some((e) => e.type === 'Warning' && e.reason === 'UnsafePath')),
      'an UnsafePath Warning',
    ).to.equal(true);
    fs.unlinkSync(path.join(root, 'escape'));
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('5. a long sync, then a job with terminate: true — the first is cancelled, the second runs', async function () {
    this.timeout(120_000);
    await createJob('sync-long', {
      type: 'sync',
      secretRef: { name: 'source' },
      syncOptions: { source: s3.uri('data', 'big/'), destination: '/big', bwlimit: 1 },
    });
    await jobWhere('sync-long', 'Running', (j) => j.status?.phase === 'Running');
    await createJob('after-terminate', { type: 'rmr', terminate: true, rmrOptions: { paths: ['/c15/img-00015.bin'] } });
    const first = await finished('sync-long', 60_000);
    expect(first.status?.phase).to.equal('Failed');
    expect(cond(first)?.reason).to.equal('Cancelled');
    await expectSucceeded('after-terminate');
    expect(fs.existsSync(path.join(datasetRoot(0), 'c15', 'img-00015.bin'))).to.equal(false);
    expect(await eventuallyEvent('after-terminate', (evs) => evs.some((e) => e.reason === 'Terminated')), 'a Terminated Event').to.equal(
      true,
    );
  });

  it('6. a runtime pod killed during a warmup: the job still ends Succeeded (its shard is resubmitted)', async function () {
    this.timeout(180_000);
    // Keep pod 0 busy with a job no SampleJob owns (straight to its runtime), so the warmup's shard 0
    // is queued there when the pod dies; the new pod knows neither, and only the warmup comes back.
    const pod0 = (await api.get<V1Pod>(POD, `${SS}-runtime-0`, ns))!;
    await runtime.submit(runtimeBaseUrl(pod0)!, await token(), {
      id: `blocker-${suffix()}`,
      type: 'sync',
      options: { source: s3.uri('data', 'big/'), destination: '/big2', flags: { bwlimit: 1 } },
      credentials: { 'access-key': s3.accessKey, 'secret-key': s3.secretKey },
    });
    await createJob('warm-kill', { type: 'warmup' });
    await jobWhere('warm-kill', 'Running on pod 1, queued on pod 0', (j) => {
      const nodes = j.status?.nodes ?? [];
      return (
        j.status?.phase === 'Running' && nodes.length === 2 && nodes.every((n) => (n.attempts ?? 0) === 1) && nodes[0].phase === 'Pending'
      );
    });
    await api.delete(POD, `${SS}-runtime-0`, ns, { gracePeriodSeconds: 0 });
    await waitFor(
      'runtime pod 0 replaced',
      async () => {
        const p = await api.get<V1Pod>(POD, `${SS}-runtime-0`, ns);
        return p && p.metadata?.uid !== pod0.metadata?.uid;
      },
      WAIT,
    );
    const j = await finished('warm-kill', 150_000);
    expect(j.status?.phase, JSON.stringify(j.status)).to.equal('Succeeded');
    const n0 = j.status!.nodes!.find((n) => n.pod === `${SS}-runtime-0`)!;
    expect(n0.attempts).to.equal(2);
    expect(j.status!.nodes!.find((n) => n.pod === `${SS}-runtime-1`)!.attempts).to.equal(1);
    expect(await eventuallyEvent('warm-kill', (evs) => evs.some((e) => e.reason === 'Resubmitted')), 'a Resubmitted Event').to.equal(true);
    await sampleSetWhere('Ready again', (s) => s.status?.phase === 'Ready', 120_000);
  });

  it('7. scheduled warmup every minute: a child runs, history pruned, Forbid skips while one is active, suspend stops new runs', async function () {
    this.timeout(240_000);
    // a long sync occupies pod 0 before either schedule can fire, so the first run queues behind it
    // and stays active across the next minute (a run submitted first would finish at once)
    await createJob('sync-hold', {
      type: 'sync',
      secretRef: { name: 'source' },
      syncOptions: { source: s3.uri('data', 'big/'), destination: '/big3', bwlimit: 1 },
    });
    try {
      await jobWhere('sync-hold', 'Running', (j) => j.status?.phase === 'Running');
      await scheduledWarmups();
    } finally {
      // never leave the three-minute sync queued ahead of the next scenarios' jobs
      if (await getJob('sync-hold')) await deleteJob('sync-hold');
      for (const p of ['every-minute', 'suspend-me'])
        await api.patch(SAMPLEJOB, p, ns, { spec: { suspend: true } }).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
    }
  });

  async function scheduledWarmups(): Promise<void> {
    const spec: Partial<SampleJobSpec> = {
      type: 'warmup',
      schedule: '* * * * *',
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 1,
    };
    const forbid = await createJob('every-minute', spec);
    const susp = await createJob('suspend-me', { type: 'warmup', schedule: '* * * * *' });

    // history from earlier runs (never ran: their SampleSet does not exist), pruned to the limits at once
    const old = async (name: string, minutesAgo: number, phase: 'Succeeded' | 'Failed'): Promise<string> => {
      const t = new Date(Math.floor(Date.now() / 60_000 - minutesAgo) * 60_000);
      const n = childName('every-minute', t);
      await api.create<SampleJob>(SAMPLEJOB, {
        apiVersion: 'batch.paddlepaddle.org/v1alpha1',
        kind: 'SampleJob',
        metadata: {
          name: n,
          namespace: ns,
          annotations: { 'paddlepaddle.org/scheduled-at': t.toISOString().replace('.000Z', 'Z') },
          ownerReferences: [
            {
              apiVersion: forbid.apiVersion,
              kind: 'SampleJob',
              name: 'every-minute',
              uid: forbid.metadata.uid!,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { type: 'warmup', sampleSetRef: { name: 'no-such-sampleset' } },
      });
      // let the operator record that it waits (so its status write cannot race ours)
      await jobWhere(n, 'waiting for its SampleSet', (j) => cond(j)?.reason === 'SampleSetNotFound');
      await api.patch(
        SAMPLEJOB,
        n,
        ns,
        { status: { phase, completionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } },
        'merge',
        { subresource: 'status' },
      );
      return n;
    };
    const oldOk = [await old('ok-a', 30, 'Succeeded'), await old('ok-b', 20, 'Succeeded')];
    const oldBad = [await old('bad-a', 25, 'Failed'), await old('bad-b', 15, 'Failed')];
    await waitFor('history pruned to 1 succeeded + 1 failed', async () => !(await getJob(oldOk[0])) && !(await getJob(oldBad[0])), WAIT);
    expect(await getJob(oldOk[1])).to.not.equal(undefined);
    expect(await getJob(oldBad[1])).to.not.equal(undefined);

    const childrenOf = async (parentUid: string): Promise<SampleJob[]> =>
      (await api.list<SampleJob>(SAMPLEJOB, ns)).items.filter((c) =>
        c.metadata?.ownerReferences?.some((r) => r.uid === parentUid && r.controller),
      );
    const first = await waitFor(
      'first scheduled child',
      async () => {
        const live = (await childrenOf(forbid.metadata.uid!)).filter(
          (c) => !oldOk.includes(c.metadata.name!) && !oldBad.includes(c.metadata.name!),
        );
        return live[0];
      },
      { timeoutMs: 75_000, intervalMs: 250 },
    );
    const firstMinute = Number(first.metadata.name!.split('-').pop());
    expect(first.metadata.name).to.equal(childName('every-minute', firstMinute * 60_000));
    expect(first.spec.schedule).to.equal(undefined);
    const parent = await waitFor(
      'parent status',
      async () => {
        const p = await getJob('every-minute');
        return p?.status?.active?.some((a) => a.name === first.metadata.name) ? p : undefined;
      },
      WAIT,
    );
    expect(parent.status?.lastScheduleTime).to.equal(new Date(firstMinute * 60_000).toISOString().replace('.000Z', 'Z'));
    // the other parent ran once too; now suspend it
    await waitFor('suspend-me ran', async () => (await childrenOf(susp.metadata.uid!)).length === 1, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await api.patch(SAMPLEJOB, 'suspend-me', ns, { spec: { suspend: true } });

    // next minute: Forbid skips (the first child is still active); suspend-me creates nothing
    await waitFor('the next minute skipped', async () => (await events('every-minute')).some((e) => e.reason === 'RunSkipped'), {
      timeoutMs: 75_000,
      intervalMs: 250,
    });
    await sleep(3000);
    expect((await childrenOf(forbid.metadata.uid!)).map((c) => c.metadata.name).sort()).to.deep.equal(
      [first.metadata.name, oldOk[1], oldBad[1]].sort(),
    );
    expect(await childrenOf(susp.metadata.uid!)).to.have.length(1);
    const suspended = (await getJob('suspend-me'))!;
    expect(suspended.status?.conditions?.find((c) => c.type === 'Scheduled')?.reason).to.equal('Suspended');

    // release pod 0: the first run finishes, and history keeps only it among the succeeded
    await deleteJob('sync-hold');
    await expectSucceeded(first.metadata.name!, 60_000);
    await waitFor('older succeeded run pruned', async () => !(await getJob(oldOk[1])), WAIT);
    const after = await waitFor(
      'lastSuccessfulTime',
      async () => {
        const p = await getJob('every-minute');
        return p?.status?.lastSuccessfulTime ? p : undefined;
      },
      WAIT,
    );
    expect(after.status?.active ?? []).to.deep.equal([]);
  }

  it('8. a run past spec.activeDeadlineSeconds fails with DeadlineExceeded instead of waiting without bound', async function () {
    this.timeout(60_000);
    await createJob('bounded', { type: 'warmup', sampleSetRef: { name: 'never-created' }, activeDeadlineSeconds: 3 });
    await jobWhere('bounded', 'waiting for its SampleSet', (j) => cond(j)?.reason === 'SampleSetNotFound');
    const j = await finished('bounded', 30_000);
    expect(j.status?.phase).to.equal('Failed');
    expect(cond(j)).to.include({ reason: 'DeadlineExceeded' });
    expect(cond(j)?.message).to.contain('activeDeadlineSeconds (3 s)');
  });

  it('9. a SampleSet deleted and created again under the same name never receives an older run (SampleSetReplaced)', async function () {
    this.timeout(360_000);
    await createJob('before-replace', {
      type: 'sync',
      secretRef: { name: 'source' },
      syncOptions: { source: s3.uri('data', 'big/'), destination: '/big-again', bwlimit: 1 },
    });
    const running = await jobWhere('before-replace', 'Running', (j) => j.status?.phase === 'Running');
    const oldUid = (await getSampleSet()).metadata.uid!;
    expect(running.status?.sampleSetUID).to.equal(oldUid);
    // the SampleJob operator is down while the SampleSet is replaced
    await sjOp.stop();
    const spec = (await getSampleSet()).spec;
    await api.delete(SAMPLESET, SS, ns);
    await waitFor('the SampleSet gone', async () => !(await api.get(SAMPLESET, SS, ns)), { timeoutMs: 120_000, intervalMs: 250 });
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name: SS, namespace: ns },
      spec,
    });
    const again = await sampleSetWhere('Ready again', (x) => x.status?.phase === 'Ready', 240_000);
    expect(again.metadata.uid).to.not.equal(oldUid);
    sjOp = await startSampleJobOperator();
    const j = await finished('before-replace', 60_000);
    expect(j.status?.phase).to.equal('Failed');
    expect(cond(j)).to.include({ reason: 'SampleSetReplaced' });
    // nothing of the old run reached the new runtime pods
    const t = await token();
    for (const p of (await api.list<V1Pod>(POD, ns)).items.filter((x) => x.metadata?.name?.startsWith(`${SS}-runtime-`))) {
      const state = await runtime.get(`http://${p.status!.podIP}:7716`, t, running.status!.jobName!);
      expect(state, `${p.metadata?.name} knows the old run`).to.equal(undefined);
    }
  });

  it('10. a scale-up after a warmup: every partition warms its shard of the new sharding by itself, the new node included', async function () {
    this.timeout(300_000);
    await createJob('warm-before-scale', { type: 'warmup', warmupOptions: { paths: ['/'] } });
    await expectSucceeded('warm-before-scale', 120_000);
    await sleep(1000);
    expect((await getSampleSet()).status?.nodes?.map((n) => n.rewarm)).to.deep.equal([undefined, undefined]);

    await api.patch(SAMPLESET, SS, ns, { spec: { partitions: 3 } });
    const done = await sampleSetWhere(
      'three partitions, each re-warmed for 3 shards',
      (x) =>
        x.status?.nodes?.length === 3 &&
        x.status.nodes.every((n) => n.rewarm?.shards === 3 && (n.rewarm.phase === 'Succeeded' || n.rewarm.phase === 'Failed')),
      240_000,
    );
    for (const n of done.status!.nodes!) {
      expect(n.rewarm, JSON.stringify(n)).to.include({ phase: 'Succeeded', warmup: 'warm-before-scale', shard: n.partition, shards: 3 });
    }
    // the new node holds about a third of the dataset: its shard, warmed without anyone asking
    const perNode = await cachedPerNode();
    expect(perNode, `per node: ${perNode.join(',')}`).to.have.length(3);
    expect(perNode[2], `per node: ${perNode.join(',')}`).to.be.within(trainBytes * 0.15, trainBytes * 0.6);
    expect((await events(SS)).filter((e) => e.reason === 'RewarmSucceeded')).to.have.length(3);
  });
});
