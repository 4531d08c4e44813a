/**
 * Leader failover with work in flight (issue 8): two `paddle-operator` processes with leader
 * election at its default timing (lease 15 s, renew deadline 10 s, retry 2 s), on the
 * ServiceAccount kustomize/default creates. The leader is killed with SIGKILL while a SampleSet's
 * initial sync and a SampleJob's sync are running on the runtimes (and a warmup is queued behind
 * it); a SampleJob is created while no replica leads. Then:
 *  - the standby takes the Lease within the lease duration of the kill;
 *  - every object converges (SampleSets Ready with the source's totals, SampleJobs Succeeded);
 *  - no job ran twice: the runtimes' own logs show each job id queued and started once per pod,
 *    and every SampleJob / SampleSet sync ran under exactly the one id its status names.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { V1Lease, V1Secret } from '@kubernetes/client-node';
import { EVENT, LEASE, SAMPLEJOB, SAMPLESET, SECRET } from '../../src/api/constants.js';
import type { SampleJob, SampleJobSpec } from '../../src/api/samplejob.js';
import type { SampleSet } from '../../src/api/sampleset.js';
import { KubeApi } from '../../src/kube/kube-api.js';
import { startCacheNodeSimulator, startS3Gateway, type CacheNodeSimulator, type S3Gateway } from '../harness/cache-nodes.js';
import { waitFor } from '../harness/util.js';
import { testCluster } from './cluster.js';
import { OPERATOR_NAMESPACE, operatorKubeConfig, operatorKubeConfigPath } from './operator-context.js';
import { soleLeader, startOperator, tryJson, type OperatorProcess } from './operator-processes.js';

const LEASE_SECONDS = 15; // the default; the replicas are started without timing flags
const PARTITIONS = 2;

interface RuntimeJobLog {
  pod: string;
  msg: string;
  job: string;
  type?: string;
}

describe('leader failover with SampleSets and SampleJobs in flight (two operator processes)', function () {
  this.timeout(300_000);
  const ns = `e2e-failover-${crypto.randomBytes(3).toString('hex')}`;
  const leaseName = `paddle-operator-${ns}`;
  let api: KubeApi;
  let sim: CacheNodeSimulator;
  let gw: S3Gateway;
  let dir: string;
  let log: fs.WriteStream;
  const replicas: OperatorProcess[] = [];
  const sources: Record<string, { files: number; bytes: number }> = {};
  const baseObjects: Record<string, number> = {};
  const SLOW_BYTES = 2 * 1024 * 1024;

  /** What every runtime pod of this namespace logged about jobs, in order. */
  function runtimeJobLogs(): RuntimeJobLog[] {
    const out: RuntimeJobLog[] = [];
    for (const p of sim.pods().filter((x) => x.namespace === ns)) {
      if (!fs.existsSync(p.logPath)) continue;
      for (const line of fs.readFileSync(p.logPath, 'utf8').split('\n')) {
        const o = tryJson(line);
        if (o && typeof o.job === 'string' && typeof o.msg === 'string' && o.msg.startsWith('job '))
          out.push({ pod: p.name, msg: o.msg, job: o.job, type: o.type as string | undefined });
      }
    }
    return out;
  }
  /** The last thing each pod said about each job: `<pod> <job name prefix>` → message. */
  const lastWord = (logs: RuntimeJobLog[]): Map<string, string> =>
    new Map(logs.map((l) => [`${l.pod} ${l.job.replace(/-[0-9a-f]{10,}$/, '').replace(/^(sync)-[0-9a-z]{8}-g\d+$/, '$1')}`, l.msg]));
  const runningOn = (logs: RuntimeJobLog[], podPrefix: string, idPrefix: string): boolean =>
    logs.some((l) => l.pod.startsWith(podPrefix) && l.msg === 'job started' && l.job.startsWith(idPrefix)) &&
    !logs.some((l) => l.pod.startsWith(podPrefix) && /^job (succeeded|failed|cancelled)$/.test(l.msg) && l.job.startsWith(idPrefix));

  async function createSampleSet(name: string, source: string): Promise<void> {
    await api.create<V1Secret>(SECRET, {
      metadata: { name: `jfs-${name}`, namespace: ns },
      stringData: {
        name: `vol-${name}`,
        metaurl: `sqlite3://${path.join(dir, `${name}.db`)}`,
        storage: 'file',
        bucket: path.join(dir, `${name}-objects`) + '/',
      },
    });
    await api.create<SampleSet>(SAMPLESET, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleSet',
      metadata: { name, namespace: ns },
      spec: { partitions: PARTITIONS, secretRef: { name: `jfs-${name}` }, source: { uri: gw.uri(source), secretRef: { name: 'source' } } },
    });
  }
  const createJob = (name: string, spec: Partial<SampleJobSpec>): Promise<SampleJob> =>
    api.create<SampleJob>(SAMPLEJOB, {
      apiVersion: 'batch.paddlepaddle.org/v1alpha1',
      kind: 'SampleJob',
      metadata: { name, namespace: ns },
      spec: { sampleSetRef: { name: 'base' }, ...spec } as SampleJobSpec,
    });

  async function readySampleSet(name: string, timeoutMs: number, src = sources[name]): Promise<SampleSet> {
    let last: SampleSet | undefined;
    return waitFor(
      `SampleSet ${name} Ready with the source totals`,
      async () => {
        last = await api.get<SampleSet>(SAMPLESET, name, ns);
        const cs = last?.status?.cacheStatus;
        return last?.status?.phase === 'Ready' && cs?.fileCount === src.files && cs?.totalBytes === src.bytes ? last : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; last status: ${JSON.stringify(last?.status)}`);
    });
  }
  async function succeededJob(name: string, timeoutMs: number): Promise<SampleJob> {
    let last: SampleJob | undefined;
    const j = await waitFor(
      `SampleJob ${name} to finish`,
      async () => {
        last = await api.get<SampleJob>(SAMPLEJOB, name, ns);
        return last?.status?.phase === 'Succeeded' || last?.status?.phase === 'Failed' ? last : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; last status: ${JSON.stringify(last?.status)}`);
    });
    expect(j.status?.phase, `${name}: ${JSON.stringify(j.status)}`).to.equal('Succeeded');
    return j;
  }
  before(async function () {
    this.timeout(120_000);
    const cp = testCluster();
    api = new KubeApi(cp.kubeConfig());
    await operatorKubeConfig();
    await cp.ensureNamespace(ns);
    dir = path.join(cp.runDir, ns);
    fs.mkdirSync(dir, { recursive: true });
    log = fs.createWriteStream(path.join(dir, 'operators.log'));
    sim = await startCacheNodeSimulator(cp, { podFilter: (p) => p.metadata?.namespace === ns });
    gw = await startS3Gateway({ dir: path.join(dir, 's3'), juicefsBin: path.join(cp.binDir, 'juicefs') });
    for (let i = 0; i < 60; i++) baseObjects[`train/part-${i % 3}/s-${i}.bin`] = 4096 + ((i * 7919) % 20000);
    sources.base = gw.put('base', baseObjects);
    // large enough that its initial sync takes a few seconds
    const late: Record<string, number> = {};
    for (let i = 0; i < 48; i++) late[`shard-${i}.bin`] = 1024 * 1024 + i;
    for (let i = 0; i < 300; i++) late[`small/f-${i}.txt`] = 100 + i;
    sources.late = gw.put('late', late);
    // synced with --bwlimit 1 (Mbit/s): ~35 s, so it runs across the takeover
    gw.put('slow', { 'blob.bin': SLOW_BYTES });
    await api.create<V1Secret>(SECRET, {
      metadata: { name: 'source', namespace: ns },
      stringData: { 'access-key': gw.accessKey, 'secret-key': gw.secretKey },
    });
    const args = [
      '--leader-elect=true',
      `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
      `--leader-election-id=${leaseName}`,
      `--namespace=${ns}`,
      '--runtime-image=paddle-operator:e2e',
    ];
    replicas.push(await startOperator('replica-a', operatorKubeConfigPath(), args, { log }));
    replicas.push(await startOperator('replica-b', operatorKubeConfigPath(), args, { log }));
  });

  after(async function () {
    this.timeout(120_000);
    // a live replica finishes the deletions so finalizers do not pin the namespace
    for (const name of ['base', 'late']) await api.delete(SAMPLESET, name, ns).catch(() => undefined);
    await waitFor('the SampleSets to be deleted', async () => ((await api.list(SAMPLESET, ns)).items.length === 0 ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 500,
    }).catch(() => undefined);
    for (const r of replicas) await r.kill();
    await testCluster().kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFail: true });
    await api.delete(LEASE, leaseName, OPERATOR_NAMESPACE).catch(() => undefined);
    await sim?.stop();
    await gw?.stop();
    log?.end();
  });

  it('the standby takes over within the lease duration, everything converges, and no job runs twice', async () => {
    const first = await waitFor('one leader', () => soleLeader(replicas), { timeoutMs: 30_000, intervalMs: 200 });
    const standby = replicas.find((r) => r !== first)!;

    await createSampleSet('base', 'base');
    await readySampleSet('base', 120_000);

    // work that will be in flight at the kill: a slow sync, a warmup queued behind it on the same
    // pod, and the initial sync of a new SampleSet
    await createJob('sync-slow', {
      type: 'sync',
      secretRef: { name: 'source' },
      syncOptions: { source: gw.uri('slow'), destination: '/slow', bwlimit: 1 },
    });
    await waitFor('sync-slow to run', () => runningOn(runtimeJobLogs(), 'base-runtime-', 'sync-slow-') || undefined, {
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    await createJob('warm', { type: 'warmup', warmupOptions: { paths: ['/train'] } });
    await createSampleSet('late', 'late');
    const atKill = await waitFor(
      'the sync of SampleSet late to run, with sync-slow running and warm queued behind it',
      () => {
        const logs = runtimeJobLogs();
        const slowPod = logs.find((l) => l.msg === 'job started' && l.job.startsWith('sync-slow-'))?.pod;
        const warmOnSlowPod = lastWord(logs).get(`${slowPod} warm`);
        return runningOn(logs, 'late-runtime-', '') && runningOn(logs, 'base-runtime-', 'sync-slow-') && warmOnSlowPod === 'job queued'
          ? logs
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    const killedAt = Date.now();
    await first.kill();
    const inFlight = [...lastWord(atKill)].filter(([, msg]) => msg === 'job queued' || msg === 'job started');
    process.stderr.write(
      `      [failover] killed ${first.name} with in flight: ${inFlight.map(([k, msg]) => `${k} (${msg.slice(4)})`).join(', ')}\n`,
    );

    // created while nobody leads
    await createJob('rmr-gap', { type: 'rmr', rmrOptions: { paths: ['/train/part-0'] } });

    await waitFor('the standby to lead', async () => ((await standby.isLeader()) ? true : undefined), {
      timeoutMs: (LEASE_SECONDS + 15) * 1000,
      intervalMs: 200,
    });
    const lease = await api.get<V1Lease>(LEASE, leaseName, OPERATOR_NAMESPACE);
    expect(lease?.spec?.holderIdentity).to.match(new RegExp(`^${standby.name}_`));
    const tookOverMs = Date.parse(String(lease!.spec!.acquireTime)) - killedAt;
    process.stderr.write(`      [failover] ${standby.name} took the lease ${tookOverMs} ms after kill -9 (lease ${LEASE_SECONDS} s)\n`);
    expect(tookOverMs).to.be.below(LEASE_SECONDS * 1000 + 500);

    // every object converges under the new leader
    const late = await readySampleSet('late', 120_000);
    const slow = await succeededJob('sync-slow', 120_000);
    const warm = await succeededJob('warm', 60_000);
    const rmr = await succeededJob('rmr-gap', 60_000);
    // the dataset now holds the slow blob and lacks part-0, and its totals say so
    const removed = Object.entries(baseObjects).filter(([k]) => k.startsWith('train/part-0/'));
    const base = await readySampleSet('base', 60_000, {
      files: sources.base.files + 1 - removed.length,
      bytes: sources.base.bytes + SLOW_BYTES - removed.reduce((a, [, n]) => a + n, 0),
    });
    process.stderr.write(`      [failover] converged ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill\n`);
    for (const s of [late, base]) {
      expect(s.status!.syncJob?.phase).to.equal('Succeeded');
      expect(s.status!.runtimeStatus?.runtimeReady).to.equal(`${PARTITIONS}/${PARTITIONS}`);
      expect(s.status!.observedGeneration).to.equal(s.metadata.generation);
    }

    // no job ran twice: each id queued and started once per pod ...
    const logs = runtimeJobLogs();
    for (const msg of ['job queued', 'job started']) {
      const seen = new Map<string, number>();
      for (const l of logs.filter((x) => x.msg === msg)) seen.set(`${l.pod} ${l.job}`, (seen.get(`${l.pod} ${l.job}`) ?? 0) + 1);
      const twice = [...seen].filter(([, n]) => n > 1);
      expect(twice, `${msg} more than once on a pod`).to.deep.equal([]);
    }
    // ... and each piece of work ran under the one id its status names, on as many pods as it fans out to
    const startedIds = (podPrefix: string, type: string): Map<string, number> => {
      const ids = new Map<string, number>();
      for (const l of logs)
        if (l.msg === 'job started' && l.pod.startsWith(podPrefix) && l.type === type) ids.set(l.job, (ids.get(l.job) ?? 0) + 1);
      return ids;
    };
    const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => a.localeCompare(b));
    expect(sorted(startedIds('late-runtime-', 'sync'))).to.deep.equal([[late.status!.syncJob!.id, 1]]);
    expect(sorted(startedIds('base-runtime-', 'sync'))).to.deep.equal(
      sorted(
        new Map([
          [base.status!.syncJob!.id!, 1],
          [slow.status!.jobName!, 1],
        ]),
      ),
    );
    expect(sorted(startedIds('base-runtime-', 'warmup'))).to.deep.equal([[warm.status!.jobName, PARTITIONS]]);
    expect(sorted(startedIds('base-runtime-', 'rmr'))).to.deep.equal([[rmr.status!.jobName, 1]]);
    // and the operator never resubmitted: one attempt per pod the job fans out to
    expect([slow, warm, rmr].map((j) => j.status?.attempts)).to.deep.equal([1, PARTITIONS, 1]);

    // both leaderships are on record for `kubectl get events -n paddle-system`
    const events = (
      await api.list<{ reason?: string; regarding?: { name?: string }; note?: string; metadata?: object }>(EVENT, OPERATOR_NAMESPACE)
    ).items;
    const elected = events.filter((e) => e.reason === 'LeaderElected' && e.regarding?.name === leaseName).map((e) => e.note?.split('_')[0]);
    expect(elected).to.have.members([first.name, standby.name]);
  });
});
