import { expect } from 'chai';
import type { JobExecution } from '../../../src/engines/cache-engine.js';
import { canonicalJson, JobConflictError, JobQueue, QueueClosedError } from '../../../src/runtime/job-queue.js';
import type { RuntimeJobRequest } from '../../../src/api/runtime-protocol.js';
import { Deferred } from './fake-runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function req(id: string, extra: Partial<RuntimeJobRequest> = {}): RuntimeJobRequest {
  return { id, type: 'rmr', options: { paths: [`/${id}`] }, ...extra };
}

interface Started {
  id: string;
  exec: JobExecution;
  credentials?: Record<string, string>;
  done: Deferred;
}

function controlledQueue(opts: { historyLimit?: number; logs?: unknown[][] } = {}) {
  const started: Started[] = [];
  const queue = new JobQueue({
    historyLimit: opts.historyLimit,
    cancelWaitMs: 2000,
    log: (...args) => opts.logs?.push(args),
    run: (job, exec) => {
      const done = new Deferred();
      started.push({ id: job.id, exec, credentials: job.credentials, done });
      exec.signal.addEventListener('abort', () => done.reject(new Error('killed')), { once: true });
      return done.promise;
    },
  });
  return { queue, started };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await sleep(5);
  }
}

describe('JobQueue', () => {
  it('runs jobs one at a time in FIFO order', async () => {
    const { queue, started } = controlledQueue();
    for (const id of ['a', 'b', 'c']) queue.submit(req(id));
    await until(() => started.length === 1);
    expect(queue.get('a')?.status).to.equal('running');
    expect(queue.get('b')?.status).to.equal('pending');
    expect(queue.queued()).to.deep.equal(['b', 'c']);
    await sleep(20);
    expect(started.length).to.equal(1);
    started[0].done.resolve();
    await until(() => started.length === 2);
    expect(started.map((s) => s.id)).to.deep.equal(['a', 'b']);
    expect(queue.get('a')?.status).to.equal('succeeded');
    expect(queue.get('a')?.completionTime).to.be.a('string');
    started[1].done.reject(new Error('boom'));
    await until(() => started.length === 3);
    expect(queue.get('b')).to.include({ status: 'failed', message: 'boom' });
    started[2].done.resolve();
    await until(() => queue.get('c')?.status === 'succeeded');
  });

  it('is idempotent on id: the same job is returned, never re-run, even when finished', async () => {
    const { queue, started } = controlledQueue();
    expect(queue.submit(req('a')).created).to.equal(true);
    expect(queue.submit(req('a')).created).to.equal(false);
    await until(() => started.length === 1);
    started[0].done.resolve();
    await until(() => queue.get('a')?.status === 'succeeded');
    const again = queue.submit(req('a'));
    expect(again.created).to.equal(false);
    expect(again.state.status).to.equal('succeeded');
    await sleep(20);
    expect(started.length).to.equal(1);
  });

  it('rejects the same id with different options (key order does not matter)', () => {
    const { queue } = controlledQueue();
    queue.submit({ id: 'x', type: 'warmup', options: { shard: 0, shards: 2, paths: ['a'] } });
    expect(queue.submit({ id: 'x', type: 'warmup', options: { paths: ['a'], shards: 2, shard: 0 } }).created).to.equal(false);
    expect(() => queue.submit({ id: 'x', type: 'warmup', options: { shard: 1, shards: 2, paths: ['a'] } })).to.throw(JobConflictError);
    expect(() => queue.submit({ id: 'x', type: 'clear', options: {} })).to.throw(JobConflictError);
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] })).to.equal('{"a":[1,{"d":2}],"b":1}');
  });

  it('cancels a queued job at once and a running one by aborting it', async () => {
    const { queue, started } = controlledQueue();
    queue.submit(req('a'));
    queue.submit(req('b'));
    await until(() => started.length === 1);
    const b = await queue.cancel('b');
    expect(b?.status).to.equal('cancelled');
    const a = await queue.cancel('a');
    expect(a?.status).to.equal('cancelled');
    expect(started[0].exec.signal.aborted).to.equal(true);
    await sleep(20);
    expect(started.length).to.equal(1);
    expect(await queue.cancel('nope')).to.equal(undefined);
  });

  it('terminate cancels the running job and every queued one; the queue goes on afterwards', async () => {
    const { queue, started } = controlledQueue();
    for (const id of ['a', 'b', 'c']) queue.submit(req(id));
    await until(() => started.length === 1);
    const ids = await queue.terminate();
    expect(ids).to.deep.equal(['a', 'b', 'c']);
    for (const id of ids) expect(queue.get(id)?.status).to.equal('cancelled');
    queue.submit(req('d'));
    await until(() => started.length === 2);
    expect(started[1].id).to.equal('d');
  });

  it('long-poll resolves early on progress and status changes, at once when finished, else on timeout', async () => {
    const { queue, started } = controlledQueue();
    queue.submit(req('a'));
    await until(() => started.length === 1);
    const t0 = Date.now();
    const timedOut = await queue.wait('a', 100);
    expect(Date.now() - t0).to.be.within(80, 1000);
    expect(timedOut?.status).to.equal('running');

    const p = queue.wait('a', 5000);
    setTimeout(() => started[0].exec.onProgress({ filesDone: 1, filesTotal: 4 }), 30);
    const t1 = Date.now();
    const progressed = await p;
    expect(Date.now() - t1).to.be.below(1000);
    expect(progressed?.progress).to.deep.equal({ filesDone: 1, filesTotal: 4 });

    // an identical progress report is no change
    const same = queue.wait('a', 150);
    started[0].exec.onProgress({ filesDone: 1 });
    expect((await same)?.progress).to.deep.equal({ filesDone: 1, filesTotal: 4 });

    const p2 = queue.wait('a', 5000);
    setTimeout(() => started[0].done.resolve(), 30);
    expect((await p2)?.status).to.equal('succeeded');
    const t2 = Date.now();
    expect((await queue.wait('a', 5000))?.status).to.equal('succeeded');
    expect(Date.now() - t2).to.be.below(50);
    expect(await queue.wait('unknown', 10)).to.equal(undefined);
  });

  it('keeps a bounded history of finished jobs', async () => {
    const queue = new JobQueue({ historyLimit: 3, run: async () => {} });
    for (let i = 0; i < 6; i++) queue.submit(req(`j${i}`));
    await until(() => queue.get('j5')?.status === 'succeeded');
    expect(queue.get('j0')).to.equal(undefined);
    expect(queue.get('j2')).to.equal(undefined);
    expect(queue.get('j3')?.status).to.equal('succeeded');
    expect(queue.finishedCount()).to.equal(6);
  });

  it('hands credentials to the runner only, and scrubs them from messages and logs', async () => {
    const logs: unknown[][] = [];
    const { queue, started } = controlledQueue({ logs });
    const creds = { 'access-key': 'AKIAXYZ', 'secret-key': 'sup3rs3cret' };
    const { state } = queue.submit(req('a', { type: 'sync', options: { source: 's3://b/x' }, credentials: creds }));
    expect(JSON.stringify(state)).to.not.include('sup3rs3cret');
    await until(() => started.length === 1);
    expect(started[0].credentials).to.deep.equal(creds);
    started[0].exec.log('child said sup3rs3cret and AKIAXYZ');
    started[0].exec.setMessage?.('progress with sup3rs3cret');
    expect(queue.get('a')?.message).to.equal('progress with ****');
    started[0].done.reject(new Error('failed: s3://AKIAXYZ:sup3rs3cret@b/x'));
    await until(() => queue.get('a')?.status === 'failed');
    const all = JSON.stringify([queue.get('a'), logs]);
    expect(all).to.not.include('sup3rs3cret');
    expect(all).to.not.include('AKIAXYZ');
  });

  it('close cancels everything and refuses new jobs', async () => {
    const { queue, started } = controlledQueue();
    queue.submit(req('a'));
    queue.submit(req('b'));
    await until(() => started.length === 1);
    await queue.close();
    expect(queue.get('a')?.status).to.equal('cancelled');
    expect(queue.get('b')?.status).to.equal('cancelled');
    expect(() => queue.submit(req('c'))).to.throw(QueueClosedError);
  });

  it('a runner that throws synchronously fails the job and the queue continues', async () => {
    let n = 0;
    const queue = new JobQueue({
      run: () => {
        n++;
        if (n === 1) throw new Error('sync throw');
        return Promise.resolve();
      },
    });
    queue.submit(req('a'));
    queue.submit(req('b'));
    await until(() => queue.get('b')?.status === 'succeeded');
    expect(queue.get('a')).to.include({ status: 'failed', message: 'sync throw' });
  });
});
