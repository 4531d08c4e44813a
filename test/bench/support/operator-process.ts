// The real `paddle-operator` process for benchmarks: the entry point in dist/src/bin, started the
// way the image starts it (the Node flags of the entry point's `#!` line), watched from outside
// through /proc (resident memory, CPU time) and its own /metrics (API requests, reconciles).
//
//   const op = await startOperatorProcess(cp.kubeconfigPath, ['--operators=paddlejob']);
//   … op.rssBytes(), op.peakRssBytes, await op.cpuSeconds(), await op.metrics() …
//   await op.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, sleep, waitFor } from '../../harness/util.js';

export const OPERATOR_ENTRY = path.join(repoRoot(), 'dist', 'src', 'bin', 'paddle-operator.js');

/**
 * The Node flags the entry point's `#!/usr/bin/env -S [VAR=value …] node …` line gives it (what the
 * image runs), or, to compare others, those in $PADDLE_BENCH_NODE_FLAGS ("none" for none).
 */
export function entryNodeFlags(entry = OPERATOR_ENTRY): string[] {
  const override = process.env.PADDLE_BENCH_NODE_FLAGS;
  if (override !== undefined) return override === 'none' ? [] : override.split(/\s+/).filter(Boolean);
  return entryLine(entry).flags;
}

/**
 * The environment the entry point's `#!` line sets (e.g. MALLOC_ARENA_MAX), each unless the bench's
 * own environment sets it (to compare other values).
 */
export function entryEnv(entry = OPERATOR_ENTRY): Record<string, string> {
  const env = entryLine(entry).env;
  for (const k of Object.keys(env)) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

function entryLine(entry: string): { env: Record<string, string>; flags: string[] } {
  const first = fs.readFileSync(entry, 'utf8').split('\n', 1)[0];
  const m = /^#!\S*env\s+(?:-S\s+)?((?:\w+=\S*\s+)*)node\s*(.*)$/.exec(first);
  if (!m) return { env: {}, flags: [] };
  const env = Object.fromEntries(
    m[1]
      .split(/\s+/)
      .filter(Boolean)
      .map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]),
  );
  return { env, flags: m[2].split(/\s+/).filter(Boolean) };
}

/** How a benchmark names the way it started the operator: the `#!` line's environment and Node flags. */
export function describeStart(op: { env: Record<string, string>; nodeFlags: string[] }): string {
  const parts = [...Object.entries(op.env).map(([k, v]) => `${k}=${v}`), ...op.nodeFlags];
  return parts.join(' ') || '(no Node flags)';
}

/**
 * Resident set size of a process now, its high-water mark, and the resident part that is anonymous
 * memory (heaps) rather than mapped files (the node binary, libraries) (Linux /proc/<pid>/status).
 */
export function procMemory(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), anon: kib('RssAnon'), file: kib('RssFile') };
}

/** Where the resident memory was at the highest sample: anonymous and file-backed, and the V8 heap then. */
export interface PeakBreakdown {
  anon: number;
  file: number;
  /**
   * V8 heap committed and used, from the nearest /metrics scrape (every second) at or after the peak;
   * only with PADDLE_BENCH_PEAK_HEAP=1.
   */
  heapTotal?: number;
  heapUsed?: number;
  /** Memory outside the V8 heap that JavaScript objects hold (Buffers and the like). */
  external?: number;
}

/** User + system CPU seconds a process has used (Linux /proc/<pid>/stat, clock ticks of 1/100 s). */
export function procCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "(comm) " the fields start at state (3rd of the man page); utime is 14th, stime 15th
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Sum of a Prometheus counter's samples whose labels match every `where` pair. */
export function metricSum(text: string, name: string, where: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(where).every(([k, v]) => labels[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/** Per `verb resource` sums of a counter with those labels (e.g. the API requests; failures by code apart), largest first. */
export function metricBreakdown(text: string, name: string): Array<[string, number]> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)\{([^}]*)\}\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const key = `${labels.verb} ${labels.resource}${labels.code && !labels.code.startsWith('2') ? ` (${labels.code})` : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return [...out].sort((a, b) => b[1] - a[1]);
}

export interface OperatorProcessHandle {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly nodeFlags: string[];
  /** Environment variables set for it as its `#!` line sets them. */
  readonly env: Record<string, string>;
  /** Highest RSS seen by the 100 ms sampler since start (or since resetPeak). */
  peakRssBytes: number;
  /** What the peak was made of (see PeakBreakdown). */
  peakBreakdown: PeakBreakdown;
  rssBytes(): number;
  resetPeak(): void;
  cpuSeconds(): number;
  /** The text of its /metrics. */
  metrics(): Promise<string>;
  /** API requests it has made (paddle_operator_kube_requests_total), optionally of one verb. */
  kubeRequests(verb?: string): Promise<number>;
  reconciles(): Promise<number>;
  /** The last lines it wrote (stdout and stderr). */
  readonly lines: string[];
  stop(): Promise<void>;
}

/**
 * Starts `paddle-operator --kubeconfig=<kubeconfig> <args>` with loopback endpoints and waits
 * until its caches are synced (/readyz answers 200). `nodeFlags` replace the entry point's own.
 */
export async function startOperatorProcess(
  kubeconfig: string,
  args: string[] = [],
  nodeFlags = entryNodeFlags(),
  env = entryEnv(),
): Promise<OperatorProcessHandle> {
  const proc = spawn(
    process.execPath,
    [
      ...nodeFlags,
      OPERATOR_ENTRY,
      `--kubeconfig=${kubeconfig}`,
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const lines: string[] = [];
  const collect = (d: Buffer): void => {
    lines.push(...String(d).split('\n').filter(Boolean));
    if (lines.length > 400) lines.splice(0, lines.length - 200);
  };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  const pid = proc.pid!;
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
  const ports = await waitFor(
    'paddle-operator to start',
    () => {
      for (const l of lines) {
        if (!l.includes('paddle-operator started')) continue;
        return (JSON.parse(l) as { ports: { metrics: number; health: number } }).ports;
      }
      return undefined;
    },
    {
      timeoutMs: 120_000,
      intervalMs: 50,
      check: () => {
        if (!alive()) throw new Error(`paddle-operator exited:\n${lines.slice(-20).join('\n')}`);
      },
    },
  );
  // a new peak asks the next heap scrape (if any) to record the V8 heap beside it
  let heapPending = false;
  const recordPeak = (m: ReturnType<typeof procMemory>): void => {
    handle.peakRssBytes = m.rss;
    handle.peakBreakdown = { anon: m.anon, file: m.file };
    heapPending = true;
  };
  const handle: OperatorProcessHandle = {
    proc,
    pid,
    nodeFlags,
    env,
    peakRssBytes: 0,
    peakBreakdown: { anon: 0, file: 0 },
    lines,
    rssBytes: () => procMemory(pid).rss,
    resetPeak: () => recordPeak(procMemory(pid)),
    cpuSeconds: () => procCpuSeconds(pid),
    metrics: async () => (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text(),
    kubeRequests: async (verb) => metricSum(await handle.metrics(), 'paddle_operator_kube_requests_total', verb ? { verb } : {}),
    reconciles: async () => metricSum(await handle.metrics(), 'paddle_operator_reconcile_total'),
    async stop() {
      clearInterval(sampler);
      if (heapSampler) clearInterval(heapSampler);
      if (!alive()) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (alive()) proc.kill('SIGKILL');
    },
  };
  const sampler = setInterval(() => {
    if (!alive()) return;
    const m = procMemory(pid);
    if (m.rss > handle.peakRssBytes) recordPeak(m);
  }, 100);
  // scraping costs the operator memory of its own (every per-object series is rendered): only on request
  const heapSampler =
    process.env.PADDLE_BENCH_PEAK_HEAP === '1'
      ? setInterval(() => {
          if (!alive() || !heapPending) return;
          heapPending = false;
          void handle
            .metrics()
            .then((text) => {
              const b = handle.peakBreakdown;
              b.heapTotal = metricSum(text, 'paddle_operator_nodejs_heap_size_total_bytes');
              b.heapUsed = metricSum(text, 'paddle_operator_nodejs_heap_size_used_bytes');
              b.external = metricSum(text, 'paddle_operator_nodejs_external_memory_bytes');
            })
            .catch(() => undefined);
        }, 1000)
      : undefined;
  await waitFor('paddle-operator ready', async () => (await fetch(`http://127.0.0.1:${ports.health}/readyz`)).status === 200, {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  return handle;
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** "anonymous 90 MiB + files 38 MiB; V8 heap 52 MiB committed, 40 MiB used, external 3 MiB (…)". */
export function peakParts(b: PeakBreakdown): string {
  const heap =
    b.heapTotal === undefined
      ? 'V8 heap not scraped (PADDLE_BENCH_PEAK_HEAP=1 scrapes it)'
      : `V8 heap ${mib(b.heapTotal)} committed, ${mib(b.heapUsed ?? 0)} used, external ${mib(b.external ?? 0)} (scraped within 1 s after)`;
  return `anonymous ${mib(b.anon)} + files ${mib(b.file)}; ${heap}`;
}
