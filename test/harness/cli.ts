// `npm run cluster:up` / `npm run cluster:down`: a long-lived local control plane for working by
// hand. `up` starts `node cli.js serve` detached (it owns the ControlPlane and outlives npm),
// waits until it reports ready, and prints how to use it. Everything lives in .cluster/ (ignored
// by git):
//   .cluster/kubeconfig    admin kubeconfig (real CA)
//   .cluster/bin/          kubectl and juicefs from the toolchain (symlinks)
//   .cluster/state.json    pid of the serve process, server URL, run dir
//   .cluster/serve.log     the serve process's own output
//   .cluster/run/          certificates, etcd data, logs/<component>.log
// Both commands are idempotent: `up` on a running cluster only reprints the usage; `down` with
// nothing running only cleans up leftovers of a crashed run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlPlane, killStaleProcesses } from './control-plane.js';
import { toolchainBinDir } from './toolchain.js';
import { errorMessage, httpRequest, pidAlive, repoRoot, sleep, tailFile } from './util.js';

interface State {
  status: 'starting' | 'ready';
  pid: number;
  runDir: string;
  server?: string;
  kubeconfig?: string;
  binDir?: string;
  startedAt: string;
  startupMs?: number;
}

const clusterDir = path.join(repoRoot(), '.cluster');
const statePath = path.join(clusterDir, 'state.json');
const runDir = path.join(clusterDir, 'run');
const serveLog = path.join(clusterDir, 'serve.log');
const kubeconfigPath = path.join(clusterDir, 'kubeconfig');
const binLinkDir = path.join(clusterDir, 'bin');

const say = (msg: string): void => {
  process.stdout.write(`${msg}\n`);
};

function readState(): State | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function writeState(state: State): void {
  fs.mkdirSync(clusterDir, { recursive: true });
  const tmp = `${statePath}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
  fs.renameSync(tmp, statePath);
}

async function apiserverReady(state: State): Promise<boolean> {
  if (!state.server) return false;
  try {
    const pki = path.join(state.runDir, 'pki');
    const res = await httpRequest(`${state.server}/readyz`, {
      ca: fs.readFileSync(path.join(pki, 'ca.crt')),
      cert: fs.readFileSync(path.join(pki, 'admin.crt')),
      key: fs.readFileSync(path.join(pki, 'admin.key')),
      timeoutMs: 3000,
    });
    return res.status === 200;
  } catch {
    return false;
  }
}

function usage(state: State): void {
  const rel = (p: string): string => path.relative(process.cwd(), p) || '.';
  say(`Local cluster is up: ${state.server} (KWOK nodes; component logs in ${rel(path.join(state.runDir, 'logs'))}/)`);
  say('Use it from this shell with:');
  say(`  export KUBECONFIG=${kubeconfigPath} PATH=${binLinkDir}:$PATH`);
  say('  kubectl get nodes');
  say('Stop it with: npm run cluster:down');
}

async function up(): Promise<void> {
  const existing = readState();
  if (existing && pidAlive(existing.pid)) {
    if (existing.status === 'starting') {
      say(`A cluster is starting (pid ${existing.pid}); waiting for it…`);
      await waitReady(existing.pid);
      usage(readState() as State);
      return;
    }
    if (await apiserverReady(existing)) {
      say('Already running.');
      usage(existing);
      return;
    }
    say(`The cluster (pid ${existing.pid}) is not answering; restarting it.`);
  }
  await down(true);

  const binDir = await toolchainBinDir();
  fs.mkdirSync(clusterDir, { recursive: true });
  fs.writeFileSync(serveLog, '');
  const out = fs.openSync(serveLog, 'a');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    cwd: repoRoot(),
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, PADDLE_TOOLCHAIN_BIN: binDir },
  });
  fs.closeSync(out);
  child.unref();
  if (child.pid === undefined) throw new Error('failed to start the cluster process');
  say(`Starting the local cluster (pid ${child.pid}, log ${path.relative(process.cwd(), serveLog)})…`);
  await waitReady(child.pid);
  usage(readState() as State);
}

async function waitReady(pid: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const state = readState();
    if (state?.pid === pid && state.status === 'ready') return;
    if (!pidAlive(pid)) {
      throw new Error(`the cluster process exited during start-up; last lines of ${serveLog}:\n${tailFile(serveLog, 40)}`);
    }
    if (Date.now() > deadline) throw new Error(`the cluster did not become ready within 180 s; see ${serveLog}`);
    await sleep(200);
  }
}

async function serve(): Promise<void> {
  const log = (msg: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
  };
  const startedAt = new Date().toISOString();
  writeState({ status: 'starting', pid: process.pid, runDir, startedAt });
  await killStaleProcesses(runDir, log);
  fs.rmSync(runDir, { recursive: true, force: true });

  let cp: ControlPlane | undefined;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the cluster`);
    await cp?.stop();
    const state = readState();
    if (state?.pid === process.pid) fs.rmSync(statePath, { force: true });
    log('stopped');
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig));

  try {
    cp = await ControlPlane.start({ runDir, crdsDir: 'crds', log });
  } catch (err) {
    fs.rmSync(statePath, { force: true });
    throw err;
  }
  if (stopping) return;
  fs.copyFileSync(cp.kubeconfigPath, kubeconfigPath);
  fs.mkdirSync(binLinkDir, { recursive: true });
  for (const b of ['kubectl', 'juicefs']) {
    const link = path.join(binLinkDir, b);
    fs.rmSync(link, { force: true });
    const target = path.join(cp.binDir, b);
    if (fs.existsSync(target)) fs.symlinkSync(target, link);
  }
  writeState({
    status: 'ready',
    pid: process.pid,
    runDir,
    server: cp.server,
    kubeconfig: kubeconfigPath,
    binDir: cp.binDir,
    startedAt,
    startupMs: cp.startupMs,
  });
  log('ready; waiting for SIGTERM (npm run cluster:down)');
  // Stay alive: the control plane's child processes keep the event loop busy, but be explicit.
  setInterval(() => undefined, 1 << 30);
}

/** Stops the serve process (and anything a crashed run left behind). `quiet` when called from up. */
async function down(quiet = false): Promise<void> {
  const state = readState();
  let stopped = false;
  if (state && pidAlive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (pidAlive(state.pid) && Date.now() < deadline) await sleep(100);
    if (pidAlive(state.pid)) {
      say(`cluster process ${state.pid} did not stop within 30 s; killing it`);
      process.kill(state.pid, 'SIGKILL');
      await sleep(200);
    }
    stopped = true;
  }
  const leftovers = await killStaleProcesses(runDir, quiet ? () => undefined : say);
  fs.rmSync(statePath, { force: true });
  fs.rmSync(kubeconfigPath, { force: true });
  if (!quiet) {
    if (stopped) say('Local cluster stopped.');
    else if (leftovers > 0) say(`No cluster was running; killed ${leftovers} leftover process(es).`);
    else say('No local cluster is running.');
  }
}

async function main(): Promise<void> {
  const cmd = process.argv[2];
  switch (cmd) {
    case 'up':
      await up();
      break;
    case 'down':
      await down();
      break;
    case 'serve':
      await serve();
      break;
    default:
      process.stderr.write('usage: node dist/test/harness/cli.js up|down\n');
      process.exit(2);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${errorMessage(err)}\n`);
  process.exit(1);
});
