/**
 * An in-memory paddle-runtime for the SampleJob unit tests: jobs per base URL, long-polls that
 * answer when the job changes (or after the wait, scaled down), and failure injection.
 */
import type { RuntimeJobRequest, RuntimeJobState, RuntimeJobStatus } from '../../../../src/api/runtime-protocol.js';
import type { RuntimeJobCalls } from '../../../../src/operators/shared/runtime-calls.js';
import { RuntimeBusyError } from '../../../../src/operators/shared/runtime-client.js';

interface Server {
  jobs: Map<string, { state: RuntimeJobState; req: RuntimeJobRequest }>;
  waiters: Set<() => void>;
  down: boolean;
}

export class FakeRuntime implements RuntimeJobCalls {
  readonly servers = new Map<string, Server>();
  readonly calls: { op: string; baseUrl: string; id?: string; req?: RuntimeJobRequest; waitSeconds?: number }[] = [];
  /** Real milliseconds per "waitSeconds" second of a long-poll. */
  msPerWaitSecond = 5;
  /** Runtimes whose pending queue is full: new jobs are refused with 429 (RuntimeBusyError). */
  readonly full = new Map<string, { limit: number; retryAfterMs?: number }>();

  private server(baseUrl: string): Server {
    let s = this.servers.get(baseUrl);
    if (!s) this.servers.set(baseUrl, (s = { jobs: new Map(), waiters: new Set(), down: false }));
    return s;
  }

  setDown(baseUrl: string, down: boolean): void {
    this.server(baseUrl).down = down;
    this.wake(baseUrl);
  }

  /** The pod restarted: it forgets every job. */
  restart(baseUrl: string): void {
    this.server(baseUrl).jobs.clear();
    this.wake(baseUrl);
  }

  job(baseUrl: string, id: string): { state: RuntimeJobState; req: RuntimeJobRequest } | undefined {
    return this.server(baseUrl).jobs.get(id);
  }

  update(baseUrl: string, id: string, status: RuntimeJobStatus, more: Partial<RuntimeJobState> = {}): void {
    const j = this.server(baseUrl).jobs.get(id);
    if (!j) throw new Error(`no job ${id} at ${baseUrl}`);
    j.state = { ...j.state, ...more, status };
    this.wake(baseUrl);
  }

  private wake(baseUrl: string): void {
    const s = this.server(baseUrl);
    for (const w of [...s.waiters]) w();
  }

  private check(baseUrl: string): Server {
    const s = this.server(baseUrl);
    if (s.down) throw new Error(`connect ECONNREFUSED ${baseUrl}`);
    return s;
  }

  async submit(baseUrl: string, _token: string, req: RuntimeJobRequest): Promise<RuntimeJobState> {
    this.calls.push({ op: 'submit', baseUrl, id: req.id, req });
    const s = this.check(baseUrl);
    const existing = s.jobs.get(req.id);
    if (existing) return existing.state;
    const full = this.full.get(baseUrl);
    if (full)
      throw new RuntimeBusyError(
        `POST /jobs → 429: the runtime's job queue is full (${full.limit} pending jobs); retry later`,
        full.retryAfterMs,
        full.limit,
      );
    const state: RuntimeJobState = { id: req.id, type: req.type, status: 'pending' };
    s.jobs.set(req.id, { state, req });
    return state;
  }

  async get(baseUrl: string, _token: string, id: string, waitSeconds = 0): Promise<RuntimeJobState | undefined> {
    this.calls.push({ op: 'get', baseUrl, id, waitSeconds });
    const s = this.check(baseUrl);
    const j = s.jobs.get(id);
    if (!j) return undefined;
    const before = JSON.stringify(j.state);
    if (waitSeconds > 0 && !['succeeded', 'failed', 'cancelled'].includes(j.state.status)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          s.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, waitSeconds * this.msPerWaitSecond);
        s.waiters.add(done);
      });
      void before;
    }
    const s2 = this.check(baseUrl);
    return s2.jobs.get(id)?.state;
  }

  async cancel(baseUrl: string, _token: string, id: string): Promise<RuntimeJobState | undefined> {
    this.calls.push({ op: 'cancel', baseUrl, id });
    const s = this.check(baseUrl);
    const j = s.jobs.get(id);
    if (!j) return undefined;
    j.state = { ...j.state, status: 'cancelled' };
    this.wake(baseUrl);
    return j.state;
  }

  async terminate(baseUrl: string): Promise<string[]> {
    this.calls.push({ op: 'terminate', baseUrl });
    const s = this.check(baseUrl);
    const out: string[] = [];
    for (const j of s.jobs.values()) {
      if (j.state.status === 'pending' || j.state.status === 'running') {
        j.state = { ...j.state, status: 'cancelled' };
        out.push(j.state.id);
      }
    }
    this.wake(baseUrl);
    return out;
  }

  count(op: string, baseUrl?: string): number {
    return this.calls.filter((c) => c.op === op && (!baseUrl || c.baseUrl === baseUrl)).length;
  }
}
