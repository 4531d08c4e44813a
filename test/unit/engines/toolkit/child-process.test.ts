import { expect } from 'chai';
import fs from 'node:fs';
import { liveChildGroups, runChild } from '../../../../src/engines/toolkit/child-process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Running (a zombie waiting for its new parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('runChild', () => {
  it('collects scrubbed lines and the exit code', async () => {
    const lines: string[] = [];
    const r = await runChild({
      bin: 'sh',
      args: ['-c', 'echo hello secret; echo oops >&2; exit 3'],
      env: { PATH: process.env.PATH },
      scrub: (l) => l.replace('secret', '****'),
      onLine: (l) => lines.push(l),
    });
    expect(r.code).to.equal(3);
    expect(lines).to.have.members(['hello ****', 'oops']);
    expect(r.tail).to.have.members(['hello ****', 'oops']);
    expect(r.killed).to.equal(false);
  });

  it('kills the whole process group on abort (grandchildren too), SIGKILL after the grace period', async () => {
    const ac = new AbortController();
    let childPid = 0;
    const pids: number[] = [];
    // The shell ignores SIGTERM; its background grandchild sleeps.
    const p = runChild({
      bin: 'sh',
      args: ['-c', "trap '' TERM; sleep 30 & echo $!; wait"],
      env: { PATH: process.env.PATH },
      signal: ac.signal,
      killGraceMs: 300,
      onSpawn: (pid) => (childPid = pid),
      onLine: (l) => pids.push(Number(l)),
    });
    while (pids.length === 0) await sleep(10);
    expect(liveChildGroups()).to.include(childPid);
    const t0 = Date.now();
    ac.abort();
    const r = await p;
    expect(Date.now() - t0).to.be.below(2000);
    expect(r.killed).to.equal(true);
    await sleep(50);
    expect(alive(childPid)).to.equal(false);
    expect(alive(pids[0])).to.equal(false);
    expect(liveChildGroups()).to.not.include(childPid);
  });

  it('times out', async () => {
    const r = await runChild({ bin: 'sleep', args: ['10'], env: { PATH: process.env.PATH }, timeoutMs: 100, killGraceMs: 100 });
    expect(r.timedOut).to.equal(true);
  });

  it('rejects when the binary does not exist', async () => {
    try {
      await runChild({ bin: '/nonexistent/juicefs', args: [], env: {} });
      expect.fail('should reject');
    } catch (err) {
      expect((err as Error).message).to.match(/cannot run/);
    }
  });

  it('does not start when already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runChild({ bin: 'sleep', args: ['10'], env: {}, signal: ac.signal });
    expect(r.killed).to.equal(true);
  });
});
