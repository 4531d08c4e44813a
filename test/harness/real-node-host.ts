// Host-side plumbing of the real-node harness: the Linux bridge the nodes hang off (claimed per
// harness process so parallel runs pick different addresses), veths and routes, v1 cgroups, and
// the crash cleanup that finds leftovers by their fixed prefix (REAL_NODE_PREFIX) and by the state
// files each bridge and node writes.
//
// Where state lives:
//  - <tmpdir>/paddle-real-node/bridge-<b>.json  {owner pid, runDir}: who holds bridge <b>;
//  - <runDir>/real-nodes/<node>/state.json       NodeState below: what one node made on the host.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { bridgeAddress, bridgeName, MAX_BRIDGES, REAL_NODE_PREFIX } from './real-node-config.js';
import { defaultLog, errorMessage, pidAlive, sleep, type LogFn } from './util.js';

const execFileP = promisify(execFile);

/** Runs a command; throws with its stderr on failure. */
export async function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Runs a command and ignores its failure (cleanup of things that may already be gone). */
export async function tryRun(cmd: string, args: string[]): Promise<void> {
  await run(cmd, args).catch(() => undefined);
}

export const claimsDir = (): string => path.join(os.tmpdir(), 'paddle-real-node');
const claimFile = (b: number): string => path.join(claimsDir(), `bridge-${b}.json`);

interface BridgeClaim {
  owner: number;
  runDir: string;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** What one node made on the host; enough to undo it after a crash. */
export interface NodeState {
  owner: number;
  name: string;
  bridge: number;
  index: number;
  /** pid of the `unshare` holder and of the PID namespace's init inside it. */
  holderPid: number;
  initPid: number;
  hostVeth: string;
  nodeIP: string;
  podCIDR: string;
  cgroupRoot: string;
  nodeDir: string;
  /** Identities (`pid:[4026532…]`, …) of the node's namespaces, to prove afterwards that no process is left in them. */
  namespaces?: string[];
}

const NAMESPACE_KINDS = ['pid', 'mnt', 'net'] as const;

/** The pid, mount and network namespace identities of a process (readlink /proc/<pid>/ns/*). */
export function namespacesOf(pid: number): string[] {
  return NAMESPACE_KINDS.map((k) => fs.readlinkSync(`/proc/${pid}/ns/${k}`));
}

/** `pid command` of every process in any of the given namespaces. */
export function processesIn(namespaces: string[]): string[] {
  const wanted = new Set(namespaces);
  const out: string[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    for (const k of NAMESPACE_KINDS) {
      let id: string;
      try {
        id = fs.readlinkSync(`/proc/${e}/ns/${k}`);
      } catch {
        continue;
      }
      if (wanted.has(id)) {
        const cmd = (() => {
          try {
            return fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim();
          } catch {
            return '?';
          }
        })();
        out.push(`${e} ${cmd.slice(0, 160)}`);
        break;
      }
    }
  }
  return out;
}

export const nodeStateFile = (nodeDir: string): string => path.join(nodeDir, 'state.json');

export interface NodeBridge {
  /** Index b: the bridge is `pdlrn<b>` with address 10.201.<b>.1/24. */
  index: number;
  name: string;
  address: string;
  runDir: string;
  /** Removes the bridge (and with it every route through it) and gives up the claim. */
  remove(): Promise<void>;
}

export function linkExists(name: string): Promise<boolean> {
  return Promise.resolve(fs.existsSync(`/sys/class/net/${name}`));
}

/**
 * Claims a free bridge index for this process, creates the bridge with its address and brings it
 * up. Leftovers of crashed runs are removed first (cleanupStaleRealNodes).
 */
export async function createNodeBridge(opts: { runDir: string; log?: LogFn }): Promise<NodeBridge> {
  const log = opts.log ?? defaultLog;
  await cleanupStaleRealNodes({ log });
  fs.mkdirSync(claimsDir(), { recursive: true });
  for (let b = 0; b < MAX_BRIDGES; b++) {
    const name = bridgeName(b);
    if (await linkExists(name)) continue; // someone else's, alive (stale ones were just removed)
    try {
      fs.writeFileSync(claimFile(b), JSON.stringify({ owner: process.pid, runDir: path.resolve(opts.runDir) } satisfies BridgeClaim), {
        flag: 'wx',
      });
    } catch {
      continue;
    }
    const address = bridgeAddress(b);
    try {
      await run('ip', ['link', 'add', name, 'type', 'bridge']);
      await run('ip', ['addr', 'add', `${address}/24`, 'dev', name]);
      await run('ip', ['link', 'set', name, 'up']);
    } catch (err) {
      await tryRun('ip', ['link', 'del', name]);
      fs.rmSync(claimFile(b), { force: true });
      throw err;
    }
    log(`bridge ${name} ${address}/24 up`);
    let removed = false;
    return {
      index: b,
      name,
      address,
      runDir: path.resolve(opts.runDir),
      async remove(): Promise<void> {
        if (removed) return;
        removed = true;
        await tryRun('ip', ['link', 'del', name]);
        fs.rmSync(claimFile(b), { force: true });
      },
    };
  }
  throw new Error(`no free real-node bridge among ${REAL_NODE_PREFIX}0..${MAX_BRIDGES - 1}`);
}

// ------------------------------------------------------------------------------------ cgroups

/** Mount points of every cgroup hierarchy (v1 controllers, named hierarchies, and the v2 one if mounted). */
export function cgroupMounts(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' - '))
    .filter(([, rest]) => rest?.startsWith('cgroup ') || rest?.startsWith('cgroup2 '))
    .map(([left]) => left.split(' ')[4]);
}

/** Creates `cgroup` (e.g. /pdlrn0n1) in every hierarchy, as kubelet requires its cgroupRoot to exist. */
export function createCgroup(cgroup: string): void {
  for (const m of cgroupMounts()) {
    let dir = m;
    for (const part of cgroup.split('/').filter(Boolean)) {
      const parent = dir;
      dir = path.join(dir, part);
      if (!fs.existsSync(dir)) fs.mkdirSync(dir);
      // a new cpuset cgroup starts with no CPUs and no memory nodes: inherit the parent's
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (fs.existsSync(path.join(parent, f)) && fs.readFileSync(path.join(dir, f), 'utf8').trim() === '')
          fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(parent, f), 'utf8'));
      }
    }
  }
}

/** Every directory of `cgroup` and below it, in every hierarchy, deepest first. */
export function cgroupDirs(cgroup: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
    out.push(dir);
  };
  for (const m of cgroupMounts()) {
    const dir = path.join(m, cgroup);
    if (fs.existsSync(dir)) walk(dir);
  }
  return out;
}

/** Kills every process in `cgroup` (any hierarchy) and removes its directories; returns the ones left (should be none). */
export async function removeCgroup(cgroup: string, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dirs = cgroupDirs(cgroup);
    for (const dir of dirs) {
      for (const pid of readPids(path.join(dir, 'cgroup.procs'))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      try {
        fs.rmdirSync(dir);
      } catch {
        // busy (processes still exiting) or already gone: next round
      }
    }
    const left = cgroupDirs(cgroup);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}

function readPids(file: string): number[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// ----------------------------------------------------------------------------------- cleanup

/** Kills a node's holder (and so its whole PID namespace) and undoes what it did on the host. */
export async function teardownNodeState(st: NodeState, log: LogFn): Promise<string[]> {
  const problems: string[] = [];
  for (const pid of [st.holderPid, st.initPid]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 10_000;
  while ([st.holderPid, st.initPid].some(pidAlive) && Date.now() < deadline) await sleep(50);
  if ([st.holderPid, st.initPid].some(pidAlive)) problems.push(`holder of ${st.name} still alive`);
  if (st.namespaces) {
    // every process of the PID namespace died with its init; wait out the last exits
    const ns = st.namespaces;
    while (processesIn(ns).length > 0 && Date.now() < deadline + 5000) await sleep(50);
    const left = processesIn(ns);
    if (left.length) problems.push(`processes left in the node's namespaces: ${left.join(' | ')}`);
  }
  await tryRun('ip', ['route', 'del', st.podCIDR, 'via', st.nodeIP]);
  if (await linkExists(st.hostVeth)) await tryRun('ip', ['link', 'del', st.hostVeth]);
  const left = await removeCgroup(st.cgroupRoot);
  if (left.length > 0) problems.push(`cgroups left: ${left.join(', ')}`);
  // the node's overlay uppers (symlinks that dangle on the host, root-only work dirs) and containerd's
  // content go; its logs and configuration stay for reading
  for (const d of ['overlay', 'containerd']) await tryRun('rm', ['-rf', path.join(st.nodeDir, d)]);
  fs.rmSync(nodeStateFile(st.nodeDir), { force: true });
  log(`real node ${st.name}: torn down${problems.length ? ` with problems: ${problems.join('; ')}` : ''}`);
  return problems;
}

/**
 * Removes what crashed real-node runs left on this machine:
 *  - nodes (from the state files of every claimed run dir) whose owner or holder is dead;
 *  - bridges whose owner is dead (deleting a bridge also drops every route through it);
 *  - interfaces and cgroups named with REAL_NODE_PREFIX that no live bridge or node accounts for.
 * Safe to call while other harness processes run their own nodes. Returns what it removed.
 */
export async function cleanupStaleRealNodes(opts: { log?: LogFn } = {}): Promise<string[]> {
  const log = opts.log ?? defaultLog;
  const removed: string[] = [];
  const liveCgroups = new Set<string>();
  const liveLinks = new Set<string>();
  fs.mkdirSync(claimsDir(), { recursive: true });
  for (const f of fs.readdirSync(claimsDir())) {
    const m = /^bridge-(\d+)\.json$/.exec(f);
    if (!m) continue;
    const b = Number(m[1]);
    const claim = readJson<BridgeClaim>(path.join(claimsDir(), f));
    const ownerAlive = claim !== undefined && pidAlive(claim.owner);
    for (const st of claim ? nodeStates(claim.runDir) : []) {
      if (st.bridge !== b) continue;
      if (ownerAlive && pidAlive(st.owner) && pidAlive(st.holderPid)) {
        liveCgroups.add(st.cgroupRoot.replace(/^\//, ''));
        liveLinks.add(st.hostVeth);
        continue;
      }
      await teardownNodeState(st, log).catch((err: unknown) => log(`cleanup of ${st.name}: ${errorMessage(err)}`));
      removed.push(`node ${st.name}`);
    }
    if (ownerAlive) {
      liveLinks.add(bridgeName(b));
      continue;
    }
    await tryRun('ip', ['link', 'del', bridgeName(b)]);
    fs.rmSync(path.join(claimsDir(), f), { force: true });
    removed.push(`bridge ${bridgeName(b)}`);
  }
  for (const link of fs.existsSync('/sys/class/net') ? fs.readdirSync('/sys/class/net') : []) {
    if (!link.startsWith(REAL_NODE_PREFIX) || liveLinks.has(link)) continue;
    await tryRun('ip', ['link', 'del', link]);
    removed.push(`interface ${link}`);
  }
  const cgroupNames = new Set<string>();
  for (const m of cgroupMounts()) {
    for (const e of fs.existsSync(m) ? fs.readdirSync(m) : []) if (e.startsWith(REAL_NODE_PREFIX)) cgroupNames.add(e);
  }
  for (const name of cgroupNames) {
    if (liveCgroups.has(name)) continue;
    const left = await removeCgroup(`/${name}`);
    removed.push(`cgroup /${name}${left.length ? ` (left: ${left.join(', ')})` : ''}`);
  }
  if (removed.length) log(`stale real-node leftovers removed: ${removed.join(', ')}`);
  return removed;
}

/** The state files of every node under `<runDir>/real-nodes`. */
export function nodeStates(runDir: string): NodeState[] {
  const dir = path.join(runDir, 'real-nodes');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((n) => readJson<NodeState>(nodeStateFile(path.join(dir, n))))
    .filter((s): s is NodeState => s !== undefined);
}
