import { expect } from 'chai';
import { DelayedKeys, timerStep } from '../../../src/kube/delayed-keys.js';

/** A manual clock whose timers fire in time order as it moves on; it records every duration armed. */
class ManualClock {
  t = 0;
  now = (): number => this.t;
  armed: number[] = [];
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private next = 1;
  setTimer = (fn: () => void, ms: number): unknown => {
    this.armed.push(ms);
    const id = this.next++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimer = (id: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };
  get live(): number {
    return this.timers.length;
  }
  advanceTo(t: number): void {
    for (;;) {
      const next = this.timers.filter((x) => x.at <= t).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      this.timers = this.timers.filter((x) => x !== next);
      next.fn();
    }
    this.t = t;
  }
}

/** A small deterministic generator (the same sequence every run). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe('DelayedKeys', () => {
  it('arms waits from a small set of durations, never beyond the wait', () => {
    const steps = new Set<number>();
    for (let ms = 0; ms <= 400_000; ms += 7) {
      const step = timerStep(ms);
      expect(step).to.be.at.most(Math.max(ms, 0));
      expect(step).to.be.greaterThan(ms <= 32 ? ms - 1 : ms / 2);
      steps.add(step);
    }
    expect(steps.size).to.be.at.most(60);
    expect(timerStep(2 ** 40)).to.equal(2 ** 30); // within what setTimeout takes
    expect(timerStep(-5)).to.equal(0);
  });

  it('hands out every key at its due time, in order, never early, behind one timer', () => {
    const clock = new ManualClock();
    const want = new Map<string, number>();
    let fired = 0;
    let last = 0;
    const keys = new DelayedKeys((k) => {
      expect(clock.t, k).to.equal(want.get(k)); // at the due time that was live, not before or after
      expect(clock.t).to.be.at.least(last);
      last = clock.t;
      want.delete(k);
      fired++;
    }, clock);
    const rnd = random(7);
    for (let i = 0; i < 2000; i++) {
      const key = `k${Math.floor(rnd() * 300)}`;
      const at = clock.t + Math.floor(rnd() * 300_000);
      if (rnd() < 0.15) {
        keys.cancel(key);
        want.delete(key);
      } else {
        keys.schedule(key, at);
        if (!want.has(key) || want.get(key)! > at) want.set(key, at);
      }
      expect(clock.live).to.be.at.most(1);
      if (i % 50 === 49) clock.advanceTo(clock.t + Math.floor(rnd() * 40_000));
    }
    clock.advanceTo(clock.t + 400_000);
    expect(want.size).to.equal(0);
    expect(keys.size).to.equal(0);
    expect(fired).to.be.greaterThan(250);
    expect(new Set(clock.armed).size).to.be.at.most(60);
  });

  it('fires exactly at the due time, not a millisecond early', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const keys = new DelayedKeys(() => fired.push(clock.t), clock);
    keys.schedule('a', 12_345);
    clock.advanceTo(12_344);
    expect(fired).to.deep.equal([]);
    expect(keys.dueIn('a')).to.equal(1);
    clock.advanceTo(12_345);
    expect(fired).to.deep.equal([12_345]);
    expect(keys.dueIn('a')).to.equal(undefined);
  });

  it('keeps the earlier of two due times; a cancelled key never fires', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const keys = new DelayedKeys((k) => fired.push(`${k}@${clock.t}`), clock);
    keys.schedule('a', 5000);
    keys.schedule('a', 9000);
    keys.schedule('b', 3000);
    keys.schedule('b', 1000);
    keys.schedule('c', 2000);
    keys.cancel('c');
    clock.advanceTo(10_000);
    expect(fired).to.deep.equal(['b@1000', 'a@5000']);
  });

  it('holds no more entries than about twice the waiting keys, however often keys are rescheduled', () => {
    const clock = new ManualClock();
    const keys = new DelayedKeys(() => undefined, clock);
    for (let round = 0; round < 200; round++) {
      for (let k = 0; k < 50; k++) {
        keys.schedule(`k${k}`, 1_000_000 - round * 100 - k); // always earlier: the old entry goes stale
        if (k % 3 === 0) keys.cancel(`k${k}`);
      }
    }
    expect(keys.size).to.equal(33);
    expect((keys as unknown as { heap: unknown[] }).heap.length).to.be.at.most(2 * 50 + 32 + 1);
  });

  it('clear() forgets everything and disarms the timer', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const keys = new DelayedKeys((k) => fired.push(k), clock);
    keys.schedule('a', 100);
    keys.clear();
    expect(clock.live).to.equal(0);
    clock.advanceTo(1000);
    expect(fired).to.deep.equal([]);
  });

  it('a key scheduled while others fire is handed out in its turn', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const keys = new DelayedKeys((k) => {
      fired.push(`${k}@${clock.t}`);
      if (k === 'a') keys.schedule('again', clock.t + 50);
    }, clock);
    keys.schedule('a', 100);
    keys.schedule('b', 100);
    clock.advanceTo(1000);
    expect(fired).to.deep.equal(['a@100', 'b@100', 'again@150']);
  });
});
