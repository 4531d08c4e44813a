// A child process of the harness: stdout+stderr appended to a log file, stopped with SIGTERM then
// SIGKILL, and never outliving the harness:
//  - on Linux each child is started through `setpriv --pdeathsig KILL`, so the kernel kills it
//    when the node process that started it dies, even by SIGKILL;
//  - every live child is SIGKILLed from a process 'exit' handler;
//  - the owner records pids in a file (see ControlPlane's pids.json) so `cli.js down` can clean up
//    after a crash where neither of the above ran.
// Children get their own process group (detached), so a Ctrl-C in the terminal reaches only the
// harness, which then stops them in order.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { tailFile } from './util.js';

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.killNow();
  });
}

let setprivPath: string | null | undefined;
function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform === 'linux') {
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
      const candidate = `${dir}/setpriv`;
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        setprivPath = candidate;
        break;
      } catch {
        // keep looking
      }
    }
  }
  return setprivPath;
}

export interface SpawnOptions {
  /** Short component name, used in messages. */
  name: string;
  /** Absolute path of the executable. */
  bin: string;
  args: string[];
  /** stdout and stderr are appended here. */
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly pid: number;
  readonly commandLine: string;
  private readonly child: ChildProcess;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<void>;
  private stopping = false;

  private constructor(opts: SpawnOptions) {
    this.name = opts.name;
    this.logPath = opts.logPath;
    if (!fs.existsSync(opts.bin)) throw new Error(`${opts.name}: binary ${opts.bin} does not exist (run test/toolchain/build.sh)`);
    try {
      fs.accessSync(opts.bin, fs.constants.X_OK);
    } catch {
      throw new Error(`${opts.name}: ${opts.bin} is not executable`);
    }
    this.commandLine = [opts.bin, ...opts.args].join(' ');
    fs.appendFileSync(opts.logPath, `==== ${new Date().toISOString()} starting ${opts.name}: ${this.commandLine}\n`);
    const fd = fs.openSync(opts.logPath, 'a');
    try {
      const setpriv = findSetpriv();
      const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', opts.bin, ...opts.args]] : [opts.bin, opts.args];
      this.child = spawn(file, argv, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      fs.closeSync(fd);
    }
    if (this.child.pid === undefined) throw new Error(`${opts.name}: failed to start ${opts.bin}`);
    this.pid = this.child.pid;
    live.add(this);
    installExitHook();
    this.exitPromise = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exitInfo) return;
        this.exitInfo = { code, signal };
        live.delete(this);
        try {
          fs.appendFileSync(opts.logPath, `==== ${new Date().toISOString()} ${opts.name} exited (${this.describeExit()})\n`);
        } catch {
          // the run dir may already be gone
        }
        resolve();
      };
      this.child.once('exit', done);
      this.child.once('error', (err) => {
        try {
          fs.appendFileSync(opts.logPath, `==== spawn error: ${err.message}\n`);
        } catch {
          // ignore
        }
        done(-1, null);
      });
    });
  }

  static spawn(opts: SpawnOptions): ManagedProcess {
    return new ManagedProcess(opts);
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Resolves when the process has exited. */
  get exited(): Promise<void> {
    return this.exitPromise;
  }

  describeExit(): string {
    if (!this.exitInfo) return 'running';
    return this.exitInfo.signal ? `signal ${this.exitInfo.signal}` : `exit code ${this.exitInfo.code}`;
  }

  /** Throws (with the log tail) when the process has exited; for use inside polling loops. */
  assertRunning(): void {
    if (this.running) return;
    throw new Error(`${this.name} exited unexpectedly (${this.describeExit()}); last log lines from ${this.logPath}:\n${this.tail(30)}`);
  }

  tail(lines = 40): string {
    return tailFile(this.logPath, lines);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Synchronous SIGKILL, for process 'exit' handlers. */
  killNow(): void {
    this.signal('SIGKILL');
  }

  /** Whether stop() was requested (an exit after that is expected). */
  get stopRequested(): boolean {
    return this.stopping;
  }

  private signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }
}
