/**
 * Running an engine binary as a child of paddle-runtime: in its own process group (so a cancel
 * reaches its grandchildren too), SIGTERM then SIGKILL after a grace period when the job's signal
 * aborts, output split into lines and handed to the caller, a bounded tail kept for error messages.
 * Every live child group is SIGKILLed when paddle-runtime exits.
 */
import { spawn } from 'node:child_process';

export interface RunChildOptions {
  bin: string;
  args: string[];
  /** The complete environment of the child (nothing is inherited implicitly). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
  /** Each output line (stdout and stderr), already scrubbed by `scrub` when given. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Applied to every line before it is kept or handed out (removes secrets). */
  scrub?: (line: string) => string;
  /** Delay between SIGTERM and SIGKILL (default 1500 ms). */
  killGraceMs?: number;
  /** Kill the child after this long (default: never). */
  timeoutMs?: number;
  /** Lines kept for `tail` (default 50). */
  tailLines?: number;
  /** Called once the child is spawned. */
  onSpawn?: (pid: number) => void;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of output (scrubbed). */
  tail: string[];
  /** True when the child was stopped because the signal aborted or the timeout expired. */
  killed: boolean;
  timedOut: boolean;
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  });
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

/** Pids (process-group ids) of the children currently running. */
export function liveChildGroups(): number[] {
  return [...liveGroups];
}

/** Runs a child to completion. Never rejects for a non-zero exit; rejects only if it cannot start. */
export function runChild(opts: RunChildOptions): Promise<ChildResult> {
  installExitHook();
  const scrub = opts.scrub ?? ((s: string) => s);
  const tailMax = opts.tailLines ?? 50;
  const grace = opts.killGraceMs ?? 1500;
  return new Promise<ChildResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, tail: [], killed: true, timedOut: false });
      return;
    }
    const child = spawn(opts.bin, opts.args, { env: opts.env, cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let killed = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let spawned = false;

    const stop = (): void => {
      if (killed || child.pid === undefined) return;
      killed = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      }, grace);
      killTimer.unref();
    };
    const onAbort = (): void => stop();

    const lineReader = (stream: 'stdout' | 'stderr') => {
      let buf = '';
      return {
        push(chunk: Buffer): void {
          buf += chunk.toString('utf8');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            emit(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
          }
          // A progress bar without newlines must not grow the buffer without bound.
          if (buf.length > 64 * 1024) {
            emit(buf);
            buf = '';
          }
        },
        flush(): void {
          if (buf) emit(buf);
          buf = '';
        },
      };
      function emit(raw: string): void {
        // eslint-disable-next-line no-control-regex
        const line = scrub(raw.replace(/\r/g, '').replace(/\x1b\[[0-9;]*m/g, ''));
        if (!line.trim()) return;
        tail.push(line);
        if (tail.length > tailMax) tail.shift();
        opts.onLine?.(line, stream);
      }
    };
    const out = lineReader('stdout');
    const err = lineReader('stderr');
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));

    child.once('spawn', () => {
      spawned = true;
      if (child.pid !== undefined) {
        liveGroups.add(child.pid);
        opts.onSpawn?.(child.pid);
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        timeoutTimer = setTimeout(() => {
          timedOut = true;
          stop();
        }, opts.timeoutMs);
        timeoutTimer.unref();
      }
    });
    child.once('error', (e) => {
      if (!spawned) reject(new Error(`cannot run ${opts.bin}: ${e.message}`));
    });
    // A grandchild holding the output pipes would delay 'close': end the whole group on exit.
    child.once('exit', () => {
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    });
    child.once('close', (code, signal) => {
      out.flush();
      err.flush();
      if (killTimer) clearTimeout(killTimer);
      if (timeoutTimer) clearTimeout(timeoutTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) {
        // Whatever the child left behind in its group goes too.
        killGroup(child.pid, 'SIGKILL');
        liveGroups.delete(child.pid);
      }
      if (spawned) resolve({ code, signal, tail, killed, timedOut });
    });
  });
}
