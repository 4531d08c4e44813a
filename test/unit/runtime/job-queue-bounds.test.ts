// The queue's bounds: a full pending queue refuses new jobs (class 5), and cancel / terminate /
// close end a job whose runner ignores its abort signal within the grace period (class 3).
import { expect } from 'chai';
import type { JobExecution } from '../../../src/engines/cache-engine.js';
import { DEFAULT_MAX_PENDING, JobQueue, QueueFullError } from '../../../src/runtime/job-queue.js';
import type { RuntimeJobRequest } from '../../../src/api/runtime-protocol.js';
import { Deferred } from './fake-runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function req(id: string): RuntimeJobRequest {
  return { id, type: 'rmr', options: { paths: [`/${id}`] } };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await sleep(5);
  }
}

interface Started {
  id: string;
  exec: JobExecution;
  /** Settles the runner by hand (it ignores abort when `stubborn`). */
  done: Deferred;
}

/** A queue whose runners for ids in `stubborn` never react to abort (a wedged child, a FIFO read). */
function queueWith(opts: { stubborn?: string[]; maxPending?: number; cancelWaitMs?: number; logs?: unknown[][] }) {
  const started: Started[] = [];
  const queue = new JobQueue({
    maxPending: opts.maxPending,
    cancelWaitMs: opts.cancelWaitMs ?? 150,
    log: (...a) => opts.logs?.push(a),
    run: (job, exec) => {
      const done = new Deferred();
      started.push({ id: job.id, exec, done });
      if (!opts.stubborn?.includes(job.id)) exec.signal.addEventListener('abort', () => done.reject(new Error('killed')), { once: true });
      return done.promise;
    },
  });
  return { queue, started };
}

describe('JobQueue bounds', () => {
  it('bounds the pending queue: a new job is refused when full, a known id is still answered', async () => {
    const { queue, started } = queueWith({ maxPending: 2 });
    expect(queue.pendingLimit()).to.equal(2);
    queue.submit(req('a'));
    await until(() => started.length === 1);
    queue.submit(req('b'));
    queue.submit(req('c'));
    expect(() => queue.submit(req('d'))).to.throw(QueueFullError, /queue is full \(2 pending jobs\)/);
    // idempotent resubmission of known jobs (running or queued) is not refused
    expect(queue.submit(req('a')).created).to.equal(false);
    expect(queue.submit(req('c'))).to.deep.include({ created: false });
    expect(queue.get('d')).to.equal(undefined);
    // once a slot frees, new jobs are accepted again
    started[0].done.resolve();
    await until(() => started.length === 2);
    expect(queue.submit(req('d')).created).to.equal(true);
    expect(queue.queued()).to.deep.equal(['c', 'd']);
  });

  it('has a default bound', () => {
    const { queue } = queueWith({});
    expect(queue.pendingLimit()).to.equal(DEFAULT_MAX_PENDING);
    for (let i = 0; i < DEFAULT_MAX_PENDING; i++) queue.submit(req(`j${i}`)); // none has started yet: all pending
    expect(() => queue.submit(req('over'))).to.throw(QueueFullError);
  });

  it('cancel ends a job whose runner ignores abort, frees the slot, and ignores what the runner does later', async () => {
    const logs: unknown[][] = [];
    const { queue, started } = queueWith({ stubborn: ['a'], cancelWaitMs: 150, logs });
    queue.submit(req('a'));
    queue.submit(req('b'));
    await until(() => started.length === 1);
    const t0 = Date.now();
    const s = await queue.cancel('a');
    expect(Date.now() - t0).to.be.within(100, 1000);
    expect(s?.status).to.equal('cancelled');
    expect(s?.message).to.match(/did not stop within .* abandoned/);
    expect(logs.some(([level, msg]) => level === 'error' && /abandoned/.test(String(msg)))).to.equal(true);
    // the next job runs
    await until(() => started.length === 2);
    expect(queue.running()).to.equal('b');
    expect(queue.get('b')?.status).to.equal('running');
    // the abandoned runner wakes up: progress, message and result change nothing
    const a = started[0];
    a.exec.onProgress({ filesDone: 99 });
    a.exec.setMessage?.('late message');
    a.done.resolve();
    await sleep(20);
    const after = queue.get('a')!;
    expect(after.status).to.equal('cancelled');
    expect(after.progress).to.equal(undefined);
    expect(after.message).to.match(/abandoned/);
    // and it does not free b's slot: c waits for b
    queue.submit(req('c'));
    await sleep(20);
    expect(started.map((x) => x.id)).to.deep.equal(['a', 'b']);
    expect(queue.running()).to.equal('b');
    started[1].done.resolve();
    await until(() => started.length === 3);
    expect(queue.get('b')?.status).to.equal('succeeded');
  });

  it('a late failure of an abandoned runner is ignored too', async () => {
    const { queue, started } = queueWith({ stubborn: ['a'], cancelWaitMs: 50 });
    queue.submit(req('a'));
    await until(() => started.length === 1);
    await queue.cancel('a');
    started[0].done.reject(new Error('exploded late'));
    await sleep(20);
    expect(queue.get('a')?.status).to.equal('cancelled');
    expect(queue.get('a')?.message).to.not.include('exploded');
  });

  it('terminate ends a stubborn running job within the grace period and the queue goes on', async () => {
    const { queue, started } = queueWith({ stubborn: ['a'], cancelWaitMs: 100 });
    queue.submit(req('a'));
    queue.submit(req('b'));
    await until(() => started.length === 1);
    const t0 = Date.now();
    expect(await queue.terminate()).to.deep.equal(['a', 'b']);
    expect(Date.now() - t0).to.be.below(1000);
    expect(queue.get('a')?.status).to.equal('cancelled');
    expect(queue.get('b')?.status).to.equal('cancelled');
    expect(queue.running()).to.equal(undefined);
    queue.submit(req('c'));
    await until(() => started.length === 2);
    expect(started[1].id).to.equal('c');
  });

  it('close ends a stubborn running job within the grace period and wakes long-polls with the final state', async () => {
    const { queue, started } = queueWith({ stubborn: ['a'], cancelWaitMs: 100 });
    queue.submit(req('a'));
    queue.submit(req('b'));
    await until(() => started.length === 1);
    const poll = queue.wait('a', 5000);
    const t0 = Date.now();
    await queue.close();
    expect(Date.now() - t0).to.be.below(1000);
    expect((await poll)?.status).to.equal('cancelled');
    expect(queue.get('a')?.message).to.match(/runtime shutting down/);
    expect(queue.get('b')?.status).to.equal('cancelled');
    expect(started).to.have.length(1); // b never started
  });
});
