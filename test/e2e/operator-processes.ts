// `paddle-operator` processes for end-to-end tests: the real entry point (dist/src/bin), started
// with the flags a test gives, its output kept line by line (and copied to a log file if asked).
//
//   const p = await startOperator('replica-a', operatorKubeConfigPath(), ['--leader-elect=true']);
//   await p.isLeader(); await p.kill();
import { spawn, type ChildProcess } from 'node:child_process';
import type fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '../harness/util.js';

export interface OperatorProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Every line it wrote to stdout and stderr so far. */
  readonly lines: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exit: Promise<number | null>;
  /** Bound ports of the endpoints and the webhook, once it said 'paddle-operator started' (0 = disabled). */
  ports: { health: number; metrics: number; webhook?: number };
  alive(): boolean;
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Its paddle_operator_leader gauge is 1. */
  isLeader(): Promise<boolean>;
  /** Its log lines that are JSON objects. */
  json(): Array<Record<string, unknown>>;
}

export function tryJson(line: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Spawns `paddle-operator --kubeconfig=<kubeconfig> --log-format=json <args>` without waiting for it. */
export function spawnOperator(name: string, kubeconfig: string, args: string[], opts: { log?: fs.WriteStream } = {}): OperatorProcess {
  const proc = spawn(
    process.execPath,
    [path.resolve('dist/src/bin/paddle-operator.js'), `--kubeconfig=${kubeconfig}`, '--log-format=json', ...args],
    {
      env: { ...process.env, POD_NAME: name },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const collect = (d: Buffer): void => {
    lines.push(...String(d).split('\n').filter(Boolean));
    opts.log?.write(d);
  };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
  const op: OperatorProcess = {
    name,
    proc,
    lines,
    exit,
    ports: { health: 0, metrics: 0 },
    alive,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!alive()) return;
      proc.kill(signal);
      await exit;
    },
    async isLeader() {
      if (!op.ports.metrics || !alive()) return false;
      const res = await fetch(`http://127.0.0.1:${op.ports.metrics}/metrics`).catch(() => undefined);
      return res?.status === 200 && /^paddle_operator_leader 1$/m.test(await res.text());
    },
    json: () => lines.map(tryJson).filter((o): o is Record<string, unknown> => o !== undefined),
  };
  return op;
}

/** The one replica whose leader gauge is 1, or undefined while there is none (or, briefly, two). */
export async function soleLeader(replicas: OperatorProcess[]): Promise<OperatorProcess | undefined> {
  const flags = await Promise.all(replicas.map((r) => r.isLeader()));
  return flags.filter(Boolean).length === 1 ? replicas[flags.indexOf(true)] : undefined;
}

/**
 * Spawns an operator with loopback metrics and health endpoints and no admission webhook (a test
 * that wants one passes --webhook-bind-address, which wins) and waits until it has started.
 */
export async function startOperator(
  name: string,
  kubeconfig: string,
  args: string[],
  opts: { log?: fs.WriteStream; timeoutMs?: number } = {},
): Promise<OperatorProcess> {
  const op = spawnOperator(
    name,
    kubeconfig,
    ['--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0', '--webhook-bind-address=0', ...args],
    opts,
  );
  try {
    const started = await waitFor(`${name} to start`, () => op.json().find((o) => o.msg === 'paddle-operator started'), {
      timeoutMs: opts.timeoutMs ?? 30_000,
      check: () => {
        if (!op.alive()) throw new Error(`${name} exited`);
      },
    });
    op.ports = started.ports as OperatorProcess['ports'];
    return op;
  } catch (e) {
    await op.kill();
    throw new Error(`${name} did not start (${(e as Error).message}):\n${op.lines.slice(-20).join('\n')}`);
  }
}
