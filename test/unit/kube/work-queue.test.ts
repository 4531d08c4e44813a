import { expect } from 'chai';
import { WorkQueue } from '../../../src/kube/work-queue.js';

/** Manual clock + timers so backoff and requeue-after are tested without waiting. */
class FakeTime {
  now = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private next = 1;
  setTimer = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  };
  clearTimer = (id: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };
  pending(): number[] {
    return this.timers.map((t) => t.at - this.now).sort((a, b) => a - b);
  }
  /** Moves the clock on, firing every timer due by then (also those the fired ones set). */
  advance(ms: number): void {
    this.now += ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= this.now);
      if (due.length === 0) return;
      this.timers = this.timers.filter((t) => t.at > this.now);
      for (const t of due) t.fn();
    }
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('coalesces repeated adds of a waiting key into one run', async () => {
    const runs: string[] = [];
    const q = new WorkQueue((k) => Promise.resolve(void runs.push(k)), { concurrency: 1 });
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).to.equal(2);
    q.start();
    await q.idle();
    expect(runs).to.deep.equal(['a', 'b']);
  });

  it('never runs one key twice at once, and re-runs it once if it changed meanwhile', async () => {
    const gate = deferred();
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const q = new WorkQueue(
      async () => {
        runs++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (runs === 1) await gate.promise;
        inFlight--;
      },
      { concurrency: 4 },
    );
    q.start();
    q.add('x');
    await tick();
    q.add('x');
    q.add('x');
    await tick();
    expect(runs).to.equal(1);
    gate.resolve();
    await q.idle();
    expect(runs).to.equal(2);
    expect(maxInFlight).to.equal(1);
  });

  it('runs different keys in parallel up to the concurrency', async () => {
    const gate = deferred();
    let inFlight = 0;
    let maxInFlight = 0;
    const q = new WorkQueue(
      async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await gate.promise;
        inFlight--;
      },
      { concurrency: 3 },
    );
    q.start();
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await tick();
    expect(q.inFlight).to.equal(3);
    expect(q.depth).to.equal(2);
    gate.resolve();
    await q.idle();
    expect(maxInFlight).to.equal(3);
  });

  it('backs off exponentially per key on errors and resets after a success', async () => {
    const t = new FakeTime();
    let fail = 3;
    const outcomes: string[] = [];
    const q = new WorkQueue(() => (fail-- > 0 ? Promise.reject(new Error('boom')) : Promise.resolve()), {
      baseDelayMs: 100,
      maxDelayMs: 250,
      setTimer: t.setTimer,
      clearTimer: t.clearTimer,
      now: () => t.now,
      onProcessed: (_k, o) => outcomes.push(o),
    });
    q.start();
    q.add('k');
    await q.idle();
    expect(q.delayedFor('k')).to.equal(100);
    t.advance(99);
    await q.idle();
    expect(outcomes).to.deep.equal(['error']); // not a millisecond early
    t.advance(1);
    await q.idle();
    expect(q.delayedFor('k')).to.equal(200);
    t.advance(200);
    await q.idle();
    expect(q.delayedFor('k')).to.equal(250); // capped
    t.advance(250);
    await q.idle();
    expect(outcomes).to.deep.equal(['error', 'error', 'error', 'success']);
    expect(q.failuresOf('k')).to.equal(0);
    expect(q.delayedFor('k')).to.equal(undefined);
    expect(t.pending()).to.deep.equal([]);
  });

  it('honours requeueAfter and lets an earlier event run the key sooner', async () => {
    const t = new FakeTime();
    let runs = 0;
    const q = new WorkQueue(
      () => {
        runs++;
        return Promise.resolve({ requeueAfterMs: 5000 });
      },
      { setTimer: t.setTimer, clearTimer: t.clearTimer, now: () => t.now },
    );
    q.start();
    q.add('k');
    await q.idle();
    expect(runs).to.equal(1);
    expect(q.delayedFor('k')).to.equal(5000);
    q.add('k'); // a watch event arrives: run now, drop the delay
    await q.idle();
    expect(runs).to.equal(2);
    expect(q.delayedFor('k')).to.equal(5000);
    t.advance(4999);
    await q.idle();
    expect(runs).to.equal(2);
    t.advance(1);
    await q.idle();
    expect(runs).to.equal(3);
  });

  it('waits out delays on the monotonic clock: a step of the wall clock neither releases nor holds a delayed key', () => {
    const t = new FakeTime();
    const wall = Date.now;
    let step = 0;
    Date.now = () => wall() + step;
    try {
      const q = new WorkQueue(() => Promise.resolve(), { setTimer: t.setTimer, clearTimer: t.clearTimer });
      q.addAfter('k', 60_000);
      step = 3_600_000; // the wall clock jumps an hour ahead
      expect(q.delayedFor('k')).to.be.within(59_000, 60_000);
      step = -3_600_000; // and an hour back
      expect(q.delayedFor('k')).to.be.within(59_000, 60_000);
    } finally {
      Date.now = wall;
    }
  });

  it('keeps the earliest of two delayed adds', () => {
    const t = new FakeTime();
    const q = new WorkQueue(() => Promise.resolve(), { setTimer: t.setTimer, clearTimer: t.clearTimer, now: () => t.now });
    q.addAfter('k', 1000);
    q.addAfter('k', 5000);
    expect(q.delayedFor('k')).to.equal(1000);
    q.addAfter('k', 10);
    expect(q.delayedFor('k')).to.equal(10);
    expect(t.pending()).to.deep.equal([10]);
  });

  it('stop() waits for running handlers, drops waiting keys and returns', async () => {
    const gate = deferred();
    let finished = false;
    let runs = 0;
    const q = new WorkQueue(
      async (k) => {
        runs++;
        if (k === 'slow') {
          await gate.promise;
          finished = true;
        }
      },
      { concurrency: 1 },
    );
    q.start();
    q.add('slow');
    q.add('other');
    await tick();
    const stopped = q.stop(5000);
    let stopReturned = false;
    void stopped.then(() => (stopReturned = true));
    await tick();
    expect(stopReturned).to.equal(false);
    gate.resolve();
    await stopped;
    expect(finished).to.equal(true);
    expect(runs).to.equal(1);
    q.add('late');
    await tick();
    expect(runs).to.equal(1);
  });

  it('stop() gives up on a stuck handler after its timeout', async () => {
    const q = new WorkQueue(() => new Promise(() => undefined));
    q.start();
    q.add('stuck');
    await tick();
    const t0 = Date.now();
    await q.stop(50);
    expect(Date.now() - t0).to.be.lessThan(1000);
  });
});
