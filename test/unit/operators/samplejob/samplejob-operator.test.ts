import { expect } from 'chai';
import { POD, SAMPLEJOB, SAMPLEJOB_FINALIZER, SAMPLESET, SECRET } from '../../../../src/api/constants.js';
import type { SampleJob } from '../../../../src/api/samplejob.js';
import { ApiError } from '../../../../src/kube/api-error.js';
import { CacheStatsNotifier } from '../../../../src/operators/shared/cache-stats-notifier.js';
import { ManualClock, type Clock } from '../../../../src/kube/clock.js';
import { childName } from '../../../../src/operators/samplejob/schedule.js';
import { SampleJobOperator, type SampleJobOperatorOptions } from '../../../../src/operators/samplejob/samplejob-operator.js';
import { FakeCluster } from '../../support/fake-cluster.js';
import { FakeRuntime } from './fake-runtime.js';
import { baseUrl, getJob, NS, registry, runtimePod, sampleJob, sampleSet, setSampleSetPhase, until } from './fixtures.js';

describe('SampleJobOperator', () => {
  let kube: FakeCluster;
  let rt: FakeRuntime;
  let notifier: CacheStatsNotifier;
  let invalidated: string[];
  let op: SampleJobOperator;

  async function startOperator(opts: SampleJobOperatorOptions = {}, clock?: Clock): Promise<void> {
    op = new SampleJobOperator(kube.context(4, clock), registry(), rt, notifier, {
      longPollSeconds: 20,
      progressIntervalMs: 50,
      resyncMs: 500,
      statsSettleMs: 0,
      ...opts,
    });
    await op.start();
  }

  beforeEach(() => {
    kube = new FakeCluster();
    rt = new FakeRuntime();
    notifier = new CacheStatsNotifier();
    invalidated = [];
    notifier.subscribe((r) => invalidated.push(`${r.namespace}/${r.name}`));
  });
  afterEach(async () => {
    await op?.stop(1000);
  });

  const phase = (name: string): string | undefined => getJob(kube, name)?.status?.phase;
  const reason = (name: string): string | undefined => getJob(kube, name)?.status?.conditions?.find((c) => c.type === 'Succeeded')?.reason;
  const submits = (): { baseUrl: string; id?: string; shard?: number; shards?: number }[] =>
    rt.calls
      .filter((c) => c.op === 'submit')
      .map((c) => ({
        baseUrl: c.baseUrl,
        id: c.id,
        shard: (c.req?.options as { shard?: number }).shard,
        shards: (c.req?.options as { shards?: number }).shards,
      }));

  describe('one-shot runs', () => {
    it('runs an rmr on runtime pod 0: Pending → Running → Succeeded, with times, nodes, events and a cache refresh', async () => {
      sampleSet(kube);
      runtimePod(kube, 'ds', 0);
      runtimePod(kube, 'ds', 1);
      await startOperator();
      sampleJob(kube, 'rm', { type: 'rmr', rmrOptions: { paths: ['/train/a'] } });
      await until(() => submits().length === 1, 2000, 'submission');
      const pending = getJob(kube, 'rm')!;
      expect(pending.status?.phase).to.equal('Pending');
      expect(pending.metadata?.finalizers).to.include(SAMPLEJOB_FINALIZER);
      expect(submits()[0]).to.include({ baseUrl: baseUrl(0), id: pending.status!.jobName });
      rt.update(baseUrl(0), pending.status!.jobName!, 'running', { progress: { filesDone: 0, filesTotal: 1 } });
      await until(() => phase('rm') === 'Running', 2000, 'Running');
      rt.update(baseUrl(0), pending.status!.jobName!, 'succeeded', { progress: { filesDone: 1, filesTotal: 1 } });
      await until(() => phase('rm') === 'Succeeded' && !getJob(kube, 'rm')!.metadata?.finalizers?.length, 2000, 'Succeeded');
      const done = getJob(kube, 'rm')!;
      expect(done.status?.startTime).to.be.a('string');
      expect(done.status?.completionTime).to.be.a('string');
      expect(done.status?.nodes).to.deep.equal([{ pod: 'ds-runtime-0', node: 'node-0', phase: 'Succeeded', attempts: 1 }]);
      expect(done.status?.progress).to.deep.include({ filesDone: 1, filesTotal: 1, percent: '100%' });
      expect(done.status?.conditions?.find((c) => c.type === 'Succeeded')).to.include({ status: 'True', reason: 'Succeeded' });
      expect(kube.events.map((e) => e.reason)).to.include.members(['Pending', 'Running', 'Succeeded']);
      expect(invalidated).to.deep.equal(['ns/ds']);
      expect(op.watcher.size).to.equal(0);
    });

    it('writes the run id to status before submitting: a failed status write submits nothing, the retry uses the same id', async () => {
      sampleSet(kube);
      runtimePod(kube, 'ds', 0);
      await startOperator();
      kube.api.failNext = {
        match: (c) => c.verb === 'patch' && c.subresource === 'status',
        count: 1,
        error: () => new ApiError(500, 'InternalError', 'etcd timeout'),
      };
      const statusWrites = (): { status: { jobName?: string } }[] =>
        kube.api.calls
          .filter((c) => c.verb === 'patch' && c.subresource === 'status')
          .map((c) => c.body as { status: { jobName?: string } });
      let writesBeforeSubmit = -1;
      const submit = rt.submit.bind(rt);
      rt.submit = (...args) => {
        writesBeforeSubmit = statusWrites().length;
        return submit(...args);
      };
      sampleJob(kube, 'rm', { type: 'rmr', rmrOptions: { paths: ['/a'] } });
      await until(() => submits().length === 1, 3000, 'submission after retry');
      expect(kube.api.failNext.count).to.equal(0);
      // the first write (with the id) failed; the submission came only after a second one succeeded, with the same id
      expect(writesBeforeSubmit).to.equal(2);
      expect(statusWrites()[0].status.jobName).to.equal(submits()[0].id);
      expect(statusWrites()[1].status.jobName).to.equal(submits()[0].id);
      expect(getJob(kube, 'rm')!.status!.jobName).to.equal(submits()[0].id);
      await new Promise((r) => setTimeout(r, 50));
      expect(new Set(submits().map((s) => s.id)).size).to.equal(1);
    });

    it('sends a warmup to every runtime pod, sharded by ordinal, and sums progress as it rises', async () => {
      sampleSet(kube, 'ds', 2);
      runtimePod(kube, 'ds', 0);
      runtimePod(kube, 'ds', 1);
      await startOperator();
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 2, 2000, 'two submissions');
      expect(
        submits()
          .map((s) => [s.baseUrl, s.shard, s.shards])
          .sort(),
      ).to.deep.equal([
        [baseUrl(0), 0, 2],
        [baseUrl(1), 1, 2],
      ]);
      const id = getJob(kube, 'warm')!.status!.jobName!;
      rt.update(baseUrl(0), id, 'running', { progress: { filesDone: 1, filesTotal: 4, bytesDone: 100, bytesTotal: 400 } });
      rt.update(baseUrl(1), id, 'running', { progress: { filesDone: 0, filesTotal: 4, bytesDone: 0, bytesTotal: 400 } });
      await until(() => getJob(kube, 'warm')!.status?.progress?.percent === '12%', 2000, '12%');
      rt.update(baseUrl(1), id, 'running', { progress: { filesDone: 2, filesTotal: 4, bytesDone: 200, bytesTotal: 400 } });
      await until(() => getJob(kube, 'warm')!.status?.progress?.percent === '37%', 2000, '37%');
      expect(getJob(kube, 'warm')!.status?.progress).to.deep.equal({
        filesDone: 3,
        filesTotal: 8,
        bytesDone: 300,
        bytesTotal: 800,
        percent: '37%',
      });
      rt.update(baseUrl(0), id, 'succeeded', { progress: { filesDone: 4, filesTotal: 4, bytesDone: 400, bytesTotal: 400 } });
      await until(() => getJob(kube, 'warm')!.status?.nodes?.[0].phase === 'Succeeded', 2000, 'node 0 done');
      expect(phase('warm')).to.equal('Running');
      rt.update(baseUrl(1), id, 'succeeded', { progress: { filesDone: 4, filesTotal: 4, bytesDone: 400, bytesTotal: 400 } });
      await until(() => phase('warm') === 'Succeeded', 2000, 'Succeeded');
    });

    it('throttles progress-only status writes', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      await startOperator({ progressIntervalMs: 300 });
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 1);
      const id = getJob(kube, 'warm')!.status!.jobName!;
      rt.update(baseUrl(0), id, 'running', { progress: { filesDone: 0, filesTotal: 100 } });
      await until(() => phase('warm') === 'Running');
      const writes = (): number => kube.api.calls.filter((c) => c.verb === 'patch' && c.subresource === 'status').length;
      const before = writes();
      for (let i = 1; i <= 20; i++) {
        rt.update(baseUrl(0), id, 'running', { progress: { filesDone: i, filesTotal: 100 } });
        await new Promise((r) => setTimeout(r, 10));
      }
      await until(() => getJob(kube, 'warm')!.status?.progress?.filesDone === 20, 2000, 'latest progress written');
      expect(writes() - before).to.be.at.most(3);
    });

    it('waits for a missing or not-ready SampleSet, then runs when it is usable', async () => {
      await startOperator();
      sampleJob(kube, 'rm', { type: 'rmr', rmrOptions: { paths: ['/a'] } });
      await until(() => reason('rm') === 'SampleSetNotFound', 2000, 'SampleSetNotFound');
      expect(phase('rm')).to.equal('Pending');
      sampleSet(kube, 'ds', 1, 'Syncing');
      await until(() => reason('rm') === 'SampleSetNotReady', 2000, 'SampleSetNotReady');
      runtimePod(kube, 'ds', 0);
      setSampleSetPhase(kube, 'ds', 'Ready');
      await until(() => submits().length === 1, 2000, 'submission');
      expect(kube.events.map((e) => e.reason)).to.include.members(['SampleSetNotFound', 'SampleSetNotReady']);
    });

    it('fails with a reason: unsafe option paths (from the engine) and a missing sync Secret', async () => {
      sampleSet(kube);
      runtimePod(kube, 'ds', 0);
      await startOperator();
      sampleJob(kube, 'bad', { type: 'rmr', rmrOptions: { paths: ['/link-escape'] } });
      sampleJob(kube, 'sync', { type: 'sync', secretRef: { name: 'nope' } });
      await until(() => phase('bad') === 'Failed' && phase('sync') === 'Failed', 2000, 'both failed');
      expect(reason('bad')).to.equal('UnsafePath');
      expect(reason('sync')).to.equal('SecretNotFound');
      expect(submits()).to.have.length(0);
      expect(kube.events.filter((e) => e.type === 'Warning').map((e) => e.reason)).to.include.members(['UnsafePath', 'SecretNotFound']);
      // terminal: nothing more happens
      expect(getJob(kube, 'bad')!.metadata?.finalizers ?? []).to.deep.equal([]);
    });

    it('passes the sync Secret (spec.secretRef, else the SampleSet source Secret) to the engine', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      kube.put(SECRET, { metadata: { name: 'src', namespace: NS }, data: { 'access-key': Buffer.from('AK').toString('base64') } });
      await startOperator();
      sampleJob(kube, 'sync', { type: 'sync', syncOptions: { destination: '/more' } });
      await until(() => submits().length === 1);
      expect(rt.calls.find((c) => c.op === 'submit')!.req!.credentials).to.deep.equal({ 'access-key': 'AK' });
    });

    // Class 7 of issue 12: a Secret of another namespace is never read.
    it("refuses a Secret of another namespace (its own secretRef or the SampleSet's) without reading it: CrossNamespaceSecret", async () => {
      const ss = sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      kube.put(SECRET, {
        metadata: { name: 'src', namespace: 'victim' },
        data: { 'access-key': Buffer.from('VICTIM').toString('base64') },
      });
      kube.put(SECRET, { metadata: { name: 'src', namespace: NS }, data: { 'access-key': Buffer.from('OWN').toString('base64') } });
      const other = sampleSet(kube, 'other', 1);
      kube.put(SAMPLESET, {
        ...other,
        spec: { ...other.spec, source: { uri: 's3://bucket/prefix', secretRef: { name: 'src', namespace: 'victim' } } },
      });
      runtimePod(kube, 'other', 0);
      await startOperator();
      sampleJob(kube, 'steal', { type: 'sync', secretRef: { name: 'src', namespace: 'victim' } });
      sampleJob(kube, 'via-set', { type: 'sync', sampleSetRef: { name: 'other' } });
      sampleJob(kube, 'own', { type: 'sync', secretRef: { name: 'src', namespace: NS } });
      await until(() => phase('steal') === 'Failed' && phase('via-set') === 'Failed' && submits().length === 1, 2000, 'refused');
      expect(reason('steal')).to.equal('CrossNamespaceSecret');
      expect(reason('via-set')).to.equal('CrossNamespaceSecret');
      expect(getJob(kube, 'steal')!.status!.conditions!.find((c) => c.type === 'Succeeded')!.message).to.include('"victim"');
      expect(kube.events.filter((e) => e.type === 'Warning' && e.reason === 'CrossNamespaceSecret')).to.have.length(2);
      expect(kube.api.calls.filter((c) => c.plural === 'secrets' && c.namespace === 'victim')).to.deep.equal([]);
      expect(JSON.stringify(rt.calls)).to.not.include('VICTIM');
      expect(rt.calls.find((c) => c.op === 'submit')!.req!.credentials).to.deep.equal({ 'access-key': 'OWN' });
      expect(ss.metadata.namespace).to.equal(NS);
    });

    // Class 6 of issue 12: runtime messages quote juicefs's errors, which quote URIs.
    it('masks URI userinfo in runtime messages before they reach status or Events', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      await startOperator();
      sampleJob(kube, 'rm', { type: 'rmr', rmrOptions: { paths: ['/x'] } });
      await until(() => submits().length === 1, 2000, 'submission');
      const id = getJob(kube, 'rm')!.status!.jobName!;
      rt.update(baseUrl(0), id, 'failed', { message: 'juicefs sync failed: parse "webdav://AKIDX:Zq9/xW7@host/": invalid port' });
      await until(() => phase('rm') === 'Failed', 2000, 'Failed');
      const text =
        JSON.stringify(getJob(kube, 'rm')!.status) + JSON.stringify(kube.events) + JSON.stringify(kube.api.calls.map((c) => c.body));
      expect(text).to.include('webdav://****@host/');
      expect(text).to.not.include('Zq9');
      expect(text).to.not.include('AKIDX');
    });

    it('re-runs a Failed job when its spec is edited, with a new id', async () => {
      sampleSet(kube);
      runtimePod(kube, 'ds', 0);
      await startOperator();
      sampleJob(kube, 'rm', { type: 'rmr', rmrOptions: { paths: ['/a'] } });
      await until(() => submits().length === 1);
      const first = getJob(kube, 'rm')!.status!.jobName!;
      rt.update(baseUrl(0), first, 'failed', { message: 'stat /a: no such file' });
      await until(() => phase('rm') === 'Failed');
      expect(getJob(kube, 'rm')!.status?.nodes?.[0].message).to.equal('stat /a: no such file');
      expect(reason('rm')).to.equal('JobFailed');
      await kube.editSpec(SAMPLEJOB, 'rm', NS, { ...getJob(kube, 'rm')!.spec, rmrOptions: { paths: ['/b'] } });
      await until(() => submits().length === 2, 2000, 'resubmission');
      const second = getJob(kube, 'rm')!.status!.jobName!;
      expect(second).to.not.equal(first);
      rt.update(baseUrl(0), second, 'succeeded');
      await until(() => phase('rm') === 'Succeeded');
      // Succeeded is terminal: an edit does nothing
      await kube.editSpec(SAMPLEJOB, 'rm', NS, { ...getJob(kube, 'rm')!.spec, rmrOptions: { paths: ['/c'] } });
      await new Promise((r) => setTimeout(r, 50));
      expect(submits()).to.have.length(2);
      expect(phase('rm')).to.equal('Succeeded');
    });

    it('terminate: cancels what the runtime pods run before its first submission, once', async () => {
      sampleSet(kube, 'ds', 2);
      runtimePod(kube, 'ds', 0);
      runtimePod(kube, 'ds', 1);
      await startOperator();
      sampleJob(kube, 'long', { type: 'rmr', rmrOptions: { paths: ['/big'] } });
      await until(() => submits().length === 1);
      const longId = getJob(kube, 'long')!.status!.jobName!;
      rt.update(baseUrl(0), longId, 'running');
      await until(() => phase('long') === 'Running');
      sampleJob(kube, 'next', { type: 'rmr', terminate: true, rmrOptions: { paths: ['/tmp'] } });
      await until(() => submits().length === 2, 2000, 'second submission');
      expect(rt.count('terminate')).to.equal(2); // both pods
      const order = rt.calls.filter((c) => c.op === 'terminate' || c.op === 'submit').map((c) => c.op);
      expect(order).to.deep.equal(['submit', 'terminate', 'terminate', 'submit']);
      await until(() => phase('long') === 'Failed', 2000, 'first cancelled');
      expect(reason('long')).to.equal('Cancelled');
      rt.update(baseUrl(0), getJob(kube, 'next')!.status!.jobName!, 'succeeded');
      await until(() => phase('next') === 'Succeeded');
      expect(rt.count('terminate')).to.equal(2);
      expect(kube.events.map((e) => e.reason)).to.include('Terminated');
    });

    it('resubmits to a runtime pod that restarted, then fails with RuntimeLost after maxAttempts', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      await startOperator({ maxAttempts: 3 });
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 1);
      const id = getJob(kube, 'warm')!.status!.jobName!;
      rt.update(baseUrl(0), id, 'running');
      await until(() => phase('warm') === 'Running');
      rt.restart(baseUrl(0)); // the pod restarted: the job is unknown
      await until(() => submits().length === 2, 2000, 'second attempt');
      expect(submits()[1].id).to.equal(id);
      await until(() => getJob(kube, 'warm')!.status?.nodes?.[0].attempts === 2);
      rt.restart(baseUrl(0));
      await until(() => submits().length === 3, 2000, 'third attempt');
      rt.restart(baseUrl(0));
      await until(() => phase('warm') === 'Failed', 2000, 'RuntimeLost');
      expect(reason('warm')).to.equal('RuntimeLost');
      expect(submits()).to.have.length(3);
      expect(getJob(kube, 'warm')!.status?.nodes?.[0]).to.include({ phase: 'Failed', attempts: 3 });
      expect(kube.events.filter((e) => e.reason === 'Resubmitted')).to.have.length(2);
    });

    it('resubmits a job cancelled by a runtime shutting down, retrying while the old process still answers', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      await startOperator();
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 1);
      const id = getJob(kube, 'warm')!.status!.jobName!;
      rt.update(baseUrl(0), id, 'cancelled', { message: 'runtime shutting down before it started' });
      // the old process answers POSTs with the cancelled job: not accepted, retried
      await until(() => submits().length >= 3, 3000, 'retries against the old process');
      expect(phase('warm')).to.not.equal('Failed');
      rt.restart(baseUrl(0)); // the new process: knows nothing
      await until(() => rt.job(baseUrl(0), id)?.state.status === 'pending', 3000, 'accepted by the new process');
      rt.update(baseUrl(0), id, 'succeeded');
      await until(() => phase('warm') === 'Succeeded', 3000, 'Succeeded');
      expect(getJob(kube, 'warm')!.status?.nodes?.[0].attempts).to.equal(2);
    });

    it('resubmits when the pod is replaced (new UID) and finishes on the new pod', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      await startOperator();
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 1);
      const id = getJob(kube, 'warm')!.status!.jobName!;
      rt.update(baseUrl(0), id, 'running');
      await until(() => phase('warm') === 'Running');
      // the pod is deleted and the StatefulSet recreates it (new uid, new IP, not ready yet)
      kube.remove(POD, 'ds-runtime-0', NS);
      runtimePod(kube, 'ds', 0, { uid: 'pod-new', ip: '10.0.1.1', ready: false });
      await new Promise((r) => setTimeout(r, 30));
      expect(submits()).to.have.length(1);
      runtimePod(kube, 'ds', 0, { uid: 'pod-new', ip: '10.0.1.1', ready: true });
      await until(() => submits().length === 2, 2000, 'resubmission to the new pod');
      expect(submits()[1].baseUrl).to.equal('http://10.0.1.1:7716');
      rt.update('http://10.0.1.1:7716', id, 'succeeded');
      await until(() => phase('warm') === 'Succeeded');
    });

    it('a node whose pod never comes back fails after the wait deadline (never stuck)', async () => {
      sampleSet(kube, 'ds', 2, 'PartialReady');
      runtimePod(kube, 'ds', 0);
      await startOperator({ podWaitTimeoutMs: 200 });
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 1);
      const id = getJob(kube, 'warm')!.status!.jobName!;
      rt.update(baseUrl(0), id, 'succeeded');
      await until(() => phase('warm') === 'Failed', 3000, 'Failed');
      expect(reason('warm')).to.equal('RuntimeUnavailable');
      expect(getJob(kube, 'warm')!.status?.nodes?.map((n) => n.phase)).to.deep.equal(['Succeeded', 'Failed']);
    });

    it('deleting a running job cancels it on the runtime pods, then lets it go', async () => {
      sampleSet(kube, 'ds', 2);
      runtimePod(kube, 'ds', 0);
      runtimePod(kube, 'ds', 1);
      await startOperator();
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 2);
      const id = getJob(kube, 'warm')!.status!.jobName!;
      await kube.api.delete(SAMPLEJOB, 'warm', NS);
      await until(() => getJob(kube, 'warm') === undefined, 2000, 'deleted');
      expect(
        rt.calls
          .filter((c) => c.op === 'cancel')
          .map((c) => [c.baseUrl, c.id])
          .sort(),
      ).to.deep.equal([
        [baseUrl(0), id],
        [baseUrl(1), id],
      ]);
      expect(op.watcher.size).to.equal(0);
    });

    it('deleting a job whose runtime pods are gone does not block', async () => {
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      await startOperator();
      sampleJob(kube, 'warm', { type: 'warmup' });
      await until(() => submits().length === 1);
      kube.remove(POD, 'ds-runtime-0', NS);
      await kube.api.delete(SAMPLEJOB, 'warm', NS);
      await until(() => getJob(kube, 'warm') === undefined, 2000, 'deleted');
      expect(rt.count('cancel')).to.equal(0);
    });
  });

  describe('scheduled jobs', () => {
    it('creates a child per scheduled time, never twice, records status, prunes history, honours suspend and Forbid', async () => {
      const clock = new ManualClock();
      sampleSet(kube, 'ds', 1);
      runtimePod(kube, 'ds', 0);
      await startOperator({}, clock);
      const parent = sampleJob(kube, 'nightly', {
        type: 'warmup',
        schedule: '* * * * *',
        successfulJobsHistoryLimit: 1,
        concurrencyPolicy: 'Forbid',
      });
      const created = Date.parse(parent.metadata.creationTimestamp as unknown as string);
      const minute = (n: number): number => (Math.floor(created / 60_000) + n) * 60_000;
      const children = (): SampleJob[] =>
        kube.informer<SampleJob>(SAMPLEJOB).list(NS, (j) => j.metadata?.ownerReferences?.[0]?.name === 'nightly');
      clock.set(minute(1) + 10);
      op.enqueue(parent);
      await until(() => children().length === 1, 2000, 'first child');
      const c1 = children()[0];
      expect(c1.metadata.name).to.equal(childName('nightly', minute(1)));
      expect(c1.spec.schedule).to.equal(undefined);
      await until(() => getJob(kube, 'nightly')!.status?.active?.length === 1);
      expect(getJob(kube, 'nightly')!.status?.lastScheduleTime).to.equal(new Date(minute(1)).toISOString().replace('.000Z', 'Z'));
      // the child runs like any job
      await until(() => submits().length === 1, 2000, 'child submitted');
      // Forbid: the next minute is skipped while the child is active
      clock.set(minute(2) + 10);
      op.enqueue(parent);
      await until(() => kube.events.some((e) => e.reason === 'RunSkipped'), 2000, 'RunSkipped');
      expect(children()).to.have.length(1);
      // the child finishes; the next minute runs; history keeps one succeeded child
      rt.update(baseUrl(0), getJob(kube, c1.metadata.name!)!.status!.jobName!, 'succeeded');
      await until(() => phase(c1.metadata.name!) === 'Succeeded');
      clock.set(minute(3) + 10);
      op.enqueue(parent);
      await until(() => children().some((c) => c.metadata.name === childName('nightly', minute(3))), 2000, 'third-minute child');
      const c3 = childName('nightly', minute(3));
      await until(() => submits().length === 2);
      rt.update(baseUrl(0), getJob(kube, c3)!.status!.jobName!, 'succeeded');
      await until(() => phase(c3) === 'Succeeded');
      await until(() => children().length === 1, 2000, 'pruned to 1');
      expect(children()[0].metadata.name).to.equal(c3);
      expect(getJob(kube, 'nightly')!.status?.lastSuccessfulTime).to.be.a('string');
      expect(getJob(kube, 'nightly')!.status?.active ?? []).to.deep.equal([]);
      // an operator restart (a fresh reconcile of the same minute) creates nothing new
      op.enqueue(parent);
      await new Promise((r) => setTimeout(r, 30));
      expect(kube.api.calls.filter((c) => c.verb === 'create' && c.plural === 'samplejobs')).to.have.length(2);
      // suspend: no new runs
      await kube.editSpec(SAMPLEJOB, 'nightly', NS, { ...getJob(kube, 'nightly')!.spec, suspend: true });
      clock.set(minute(4) + 10);
      op.enqueue(parent);
      await until(
        () => getJob(kube, 'nightly')!.status?.conditions?.some((c) => c.type === 'Scheduled' && c.reason === 'Suspended') === true,
      );
      expect(kube.api.calls.filter((c) => c.verb === 'create' && c.plural === 'samplejobs')).to.have.length(2);
    });

    it('reports an invalid time zone on the parent and creates nothing', async () => {
      await startOperator();
      sampleJob(kube, 'tz', { type: 'warmup', schedule: '* * * * *', timeZone: 'Mars/Olympus' });
      await until(
        () => getJob(kube, 'tz')!.status?.conditions?.some((c) => c.type === 'Scheduled' && c.reason === 'InvalidSchedule') === true,
      );
      expect(kube.api.calls.filter((c) => c.verb === 'create' && c.plural === 'samplejobs')).to.have.length(0);
    });
  });
});
