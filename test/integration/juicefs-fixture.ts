// Real JuiceFS for the integration tests: volumes with SQLite metadata and local object storage,
// FUSE mounts (one per simulated node, each with its own cache dir), a `juicefs gateway` (S3 API)
// over a separate volume, and real `paddle-runtime` processes on loopback addresses.
//
// The juicefs binary: $JUICEFS_BIN, else $PADDLE_TOOLCHAIN_BIN/juicefs, else the bin directory that
// `bash test/toolchain/build.sh` prints on its last line (it builds or reuses the pinned toolchain).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RuntimeJobState } from '../../src/api/runtime-protocol.js';
import { freePorts, pidAlive, repoRoot, sleep, waitFor } from '../harness/util.js';

let binPromise: Promise<string> | undefined;

/** Absolute path of the juicefs binary (see the header). */
export function juicefsBin(): Promise<string> {
  binPromise ??= (async () => {
    if (process.env.JUICEFS_BIN) return path.resolve(process.env.JUICEFS_BIN);
    if (process.env.PADDLE_TOOLCHAIN_BIN) return path.join(path.resolve(process.env.PADDLE_TOOLCHAIN_BIN), 'juicefs');
    const script = path.join(repoRoot(), 'test', 'toolchain', 'build.sh');
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', [script], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`${script} exited with ${code}`))));
    });
    const dir = out.trim().split('\n').pop()!.trim();
    const bin = path.join(dir, 'juicefs');
    fs.accessSync(bin, fs.constants.X_OK);
    return bin;
  })();
  return binPromise;
}

/** Runs juicefs to completion; throws with its output on failure. */
export function jfs(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(bin, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`juicefs ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr?.slice(-2000)}`);
  return `${r.stdout}${r.stderr}`;
}

export class Volume {
  readonly metaUrl: string;
  readonly bucket: string;
  constructor(
    readonly bin: string,
    readonly dir: string,
    readonly name: string,
  ) {
    this.metaUrl = `sqlite3://${path.join(dir, `${name}.db`)}`;
    this.bucket = path.join(dir, `${name}-bucket`) + '/';
  }

  /** Formats a fresh volume (no trash, so removals free space at once). */
  static create(bin: string, dir: string, name: string): Volume {
    const v = new Volume(bin, dir, name);
    fs.mkdirSync(dir, { recursive: true });
    jfs(bin, ['format', '--trash-days', '0', '--no-update', v.metaUrl, name, '--storage', 'file', '--bucket', v.bucket]);
    return v;
  }

  /** Mounts it in the background (one simulated node: its own cache dir). */
  mount(mountpoint: string, cacheDir: string, extra: string[] = []): Mount {
    fs.mkdirSync(mountpoint, { recursive: true });
    fs.mkdirSync(cacheDir, { recursive: true });
    jfs(this.bin, [
      'mount',
      '-d',
      '--no-usage-report',
      '--backup-meta',
      '0',
      '--cache-dir',
      cacheDir,
      '--metrics',
      '127.0.0.1:0',
      '--log',
      path.join(this.dir, `mount-${path.basename(mountpoint)}.log`),
      ...extra,
      this.metaUrl,
      mountpoint,
    ]);
    const m = new Mount(this.bin, mountpoint, cacheDir);
    mounts.add(m);
    return m;
  }

  /** Copies a local directory into the volume without a mount (`jfs://` with the META-URL in an env var). */
  load(localDir: string, volPath: string): void {
    jfs(
      this.bin,
      ['sync', '--dirs', localDir.replace(/\/?$/, '/'), `jfs://PADDLE_TEST_META/${volPath.replace(/^\/+/, '').replace(/\/?$/, '/')}`],
      { PADDLE_TEST_META: this.metaUrl },
    );
  }

  uuid(): string {
    const out = jfs(this.bin, ['status', this.metaUrl]);
    const json = out.slice(out.indexOf('{'));
    return (JSON.parse(json.slice(0, json.lastIndexOf('}') + 1)) as { Setting: { UUID: string } }).Setting.UUID;
  }
}

const mounts = new Set<Mount>();

export class Mount {
  constructor(
    readonly bin: string,
    readonly mountpoint: string,
    readonly cacheDir: string,
  ) {}

  umount(): void {
    if (!mounts.delete(this)) return;
    for (const args of [
      ['umount', this.mountpoint],
      ['umount', '--force', this.mountpoint],
    ]) {
      const r = spawnSync(this.bin, args, { encoding: 'utf8', timeout: 30_000 });
      if (r.status === 0) return;
    }
    spawnSync('umount', ['-l', this.mountpoint]);
  }
}

/** Unmounts everything still mounted (also from a process 'exit' hook). */
export function umountAll(): void {
  for (const m of [...mounts]) m.umount();
}
process.on('exit', umountAll);

/** A long-running child (gateway, runtime) with its output kept in memory and a log file. */
export class Proc {
  readonly output: string[] = [];
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (c: Buffer) => this.output.push(c.toString('utf8'));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    procs.add(this);
  }

  get pid(): number {
    return this.child.pid!;
  }

  text(): string {
    return this.output.join('');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    procs.delete(this);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  }
}

const procs = new Set<Proc>();
process.on('exit', () => {
  for (const p of procs) p.child.kill('SIGKILL');
});

export interface Gateway {
  proc: Proc;
  endpoint: string;
  user: string;
  password: string;
}

/** `juicefs gateway` over `vol` (S3 API on loopback); its single bucket is named after the volume. */
export async function startGateway(vol: Volume, user: string, password: string): Promise<Gateway> {
  const [port] = await freePorts(1);
  const child = spawn(
    vol.bin,
    ['gateway', '--no-usage-report', '--backup-meta', '0', '--cache-dir', path.join(vol.dir, 'gw-cache'), vol.metaUrl, `127.0.0.1:${port}`],
    {
      env: { ...process.env, MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const proc = new Proc('gateway', child);
  const endpoint = `127.0.0.1:${port}`;
  await waitFor(
    'juicefs gateway',
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${proc.text().slice(-1000)}`);
      try {
        const r = await fetch(`http://${endpoint}/minio/health/live`);
        return r.status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return { proc, endpoint, user, password };
}

export interface RuntimeProc {
  proc: Proc;
  base: string;
  token: string;
  /** Every JSON response body received by `call` (scanned for secrets). */
  responses: string[];
  /** `T`: the body's shape as the caller expects it (parsed JSON, or the text when it is not JSON). */
  call<T = unknown>(method: string, route: string, body?: unknown, token?: string | null): Promise<{ status: number; body: T }>;
  /** Polls a job until it is finished. */
  waitJob(id: string, timeoutMs?: number): Promise<RuntimeJobState>;
  stop(): Promise<number | null>;
}

let nextHost = 10;

/** Starts `node dist/src/bin/paddle-runtime.js` on its own loopback address. */
export async function startRuntime(opts: {
  dataDir: string;
  cacheDirs: string[];
  hostCacheDirs?: string[];
  fileSourceRoots?: string[];
  token: string;
  bin: string;
  extraEnv?: NodeJS.ProcessEnv;
}): Promise<RuntimeProc> {
  const host = `127.0.77.${nextHost++}`;
  const [port] = await freePorts(1, host);
  const script = path.join(repoRoot(), 'dist', 'src', 'bin', 'paddle-runtime.js');
  const args = [
    script,
    'serve',
    '--engine',
    'juicefs',
    '--data-dir',
    opts.dataDir,
    '--listen',
    `${host}:${port}`,
    '--binary',
    opts.bin,
    '--log-level',
    'debug',
  ];
  for (const d of opts.cacheDirs) args.push('--cache-dir', d);
  for (const d of opts.hostCacheDirs ?? []) args.push('--host-cache-dir', d);
  for (const d of opts.fileSourceRoots ?? []) args.push('--file-source-root', d);
  const child = spawn(process.execPath, args, {
    env: { ...process.env, PADDLE_RUNTIME_TOKEN: opts.token, ...opts.extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new Proc(`runtime-${host}`, child);
  const base = `http://${host}:${port}`;
  await waitFor(
    'paddle-runtime /healthz',
    async () => {
      if (child.exitCode !== null) throw new Error(`paddle-runtime exited: ${proc.text().slice(-2000)}`);
      try {
        return (await fetch(`${base}/healthz`)).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  const responses: string[] = [];
  const call = async <T = unknown>(
    method: string,
    route: string,
    body?: unknown,
    token: string | null = opts.token,
  ): Promise<{ status: number; body: T }> => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let r: Response | undefined;
    // Every call is idempotent: one retry covers a kept-alive socket the server closed meanwhile.
    for (let attempt = 0; !r; attempt++) {
      try {
        r = await fetch(`${base}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (err) {
        const cause = (err as { cause?: { message?: string; code?: string } }).cause;
        if (attempt === 0 && cause?.code === 'UND_ERR_SOCKET') continue;
        throw new Error(
          `${method} ${route}: ${(err as Error).message} (${cause?.code ?? ''} ${cause?.message ?? ''}); runtime output: ${proc.text().slice(-1500)}`,
        );
      }
    }
    const text = await r.text();
    responses.push(text);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep text
    }
    return { status: r.status, body: parsed as T };
  };
  const waitJob = async (id: string, timeoutMs = 120_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<RuntimeJobState>('GET', `/jobs/${encodeURIComponent(id)}?waitSeconds=10`);
      if (r.status !== 200) throw new Error(`GET /jobs/${id} → ${r.status} ${JSON.stringify(r.body)}`);
      if (['succeeded', 'failed', 'cancelled'].includes(r.body.status)) return r.body;
      if (Date.now() > end) throw new Error(`job ${id} still ${r.body.status} after ${timeoutMs} ms`);
    }
  };
  return { proc, base, token: opts.token, responses, call, waitJob, stop: () => proc.stop() };
}

/** Pids of live `juicefs` processes whose parent is `ppid`, with their command lines. */
export function juicefsChildren(ppid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes('juicefs')) out.push({ pid: Number(entry), cmdline });
    } catch {
      // gone
    }
  }
  return out;
}

export { pidAlive, sleep };

/** A fresh temporary directory under the system temp dir. */
export function tempDir(prefix: string): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** Writes files of random content under dir; returns their total size. */
export function makeDataset(dir: string, files: { path: string; size: number }[]): number {
  let total = 0;
  for (const f of files) {
    const p = path.join(dir, f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, crypto.randomBytes(f.size));
    total += f.size;
  }
  return total;
}

/** Sum of file sizes under dir (no symlinks followed). */
export function duBytes(dir: string): number {
  let total = 0;
  if (!fs.existsSync(dir)) return 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += fs.statSync(p).size;
    }
  };
  walk(dir);
  return total;
}
