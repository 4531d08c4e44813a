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
  /** stdout and stderr are appended here; when absent they are inherited (the child writes to our terminal). */
  logPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ManagedProcess {
  readonly name: string;
  readonly logPath: string | undefined;
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
    const logPath = opts.logPath;
    const note = (line: string): void => {
      if (!logPath) return;
      try {
        fs.appendFileSync(logPath, `==== ${new Date().toISOString()} ${line}\n`);
      } catch {
        // the run dir may already be gone
      }
    };
    note(`starting ${opts.name}: ${this.commandLine}`);
    const fd = logPath ? fs.openSync(logPath, 'a') : undefined;
    try {
      const setpriv = findSetpriv();
      const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', opts.bin, ...opts.args]] : [opts.bin, opts.args];
      this.child = spawn(file, argv, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: fd === undefined ? ['ignore', 'inherit', 'inherit'] : ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
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
        note(`${opts.name} exited (${this.describeExit()})`);
        resolve();
      };
      this.child.once('exit', done);
      this.child.once('error', (err) => {
        note(`spawn error: ${err.message}`);
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
    const where = this.logPath ? `; last log lines from ${this.logPath}:\n${this.tail(30)}` : '';
    throw new Error(`${this.name} exited unexpectedly (${this.describeExit()})${where}`);
  }

  tail(lines = 40): string {
    return this.logPath ? tailFile(this.logPath, lines) : '';
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
