// Mocha root hooks for the e2e suite: ONE real control plane per run (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, KWOK with 3 nodes) with the CRDs from crds/ installed.
// Component logs stay in .cache/e2e/<timestamp>/logs (the last 5 runs are kept) and their tails are
// printed after every failed test. PADDLE_E2E_RUN_DIR overrides the run directory.
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { ControlPlane } from '../harness/control-plane.js';
import { pidAlive, repoRoot } from '../harness/util.js';
import { setTestCluster, testCluster } from './cluster.js';

const KEEP_RUNS = 5;
let cluster: ControlPlane | undefined;

function runDirectory(): string {
  if (process.env.PADDLE_E2E_RUN_DIR) return path.resolve(process.env.PADDLE_E2E_RUN_DIR);
  const base = path.join(repoRoot(), '.cache', 'e2e');
  fs.mkdirSync(base, { recursive: true });
  // prune old runs, never one whose cluster is still running (parallel runs share .cache/e2e)
  const old = fs
    .readdirSync(base)
    .sort()
    .filter((dir) => !inUse(path.join(base, dir)));
  for (const dir of old.slice(0, Math.max(0, old.length - (KEEP_RUNS - 1))))
    fs.rmSync(path.join(base, dir), { recursive: true, force: true });
  return path.join(base, new Date().toISOString().replace(/[:.]/g, '-'));
}

function inUse(runDir: string): boolean {
  try {
    const { owner } = JSON.parse(fs.readFileSync(path.join(runDir, 'pids.json'), 'utf8')) as { owner: number };
    return pidAlive(owner);
  } catch {
    return false;
  }
}

const log = (msg: string): void => {
  process.stderr.write(`      [cluster] ${msg}\n`);
};

export const mochaHooks = {
  async beforeAll(this: Context): Promise<void> {
    // Includes resolving the toolchain (cached by `npm run test:e2e` before mocha starts).
    this.timeout(600_000);
    cluster = await ControlPlane.start({ runDir: runDirectory(), crdsDir: 'crds', log });
    setTestCluster(cluster);
  },

  afterEach(this: Context): void {
    if (this.currentTest?.state === 'failed' && cluster) {
      log(`"${this.currentTest.fullTitle()}" failed; component logs follow (full logs in ${cluster.logDir})`);
      testCluster().dumpLogs(40);
    }
  },

  async afterAll(this: Context): Promise<void> {
    this.timeout(60_000);
    setTestCluster(undefined);
    if (!cluster) return;
    await cluster.stop();
    // keep the logs, drop etcd's preallocated WAL files
    fs.rmSync(path.join(cluster.runDir, 'etcd'), { recursive: true, force: true });
    log(`stopped; logs kept in ${cluster.logDir}`);
    cluster = undefined;
  },
};
