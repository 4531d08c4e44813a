// Locates the Go-built control-plane binaries: `test/toolchain/build.sh` builds them (or reuses its
// cache) and prints the bin directory on its last stdout line. PADDLE_TOOLCHAIN_BIN=<dir> skips
// the script entirely (useful when iterating, or with binaries from elsewhere). The real-node
// binaries (kubelet, containerd, the JuiceFS CSI driver, ...) come the same way from
// `test/toolchain/build-node.sh` (nodeToolchainBinDir, override PADDLE_NODE_TOOLCHAIN_BIN).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './util.js';

/** Every binary the harness and the local cluster use. */
export const TOOLCHAIN_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'juicefs',
] as const;
export type ToolchainBinary = (typeof TOOLCHAIN_BINARIES)[number];

/** Throws a readable error naming every missing or non-executable binary in `binDir`. */
export function checkToolchain(binDir: string, required: readonly string[] = TOOLCHAIN_BINARIES): void {
  const missing = required.filter((b) => {
    try {
      fs.accessSync(path.join(binDir, b), fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `toolchain directory ${binDir} lacks ${missing.join(', ')}; run \`bash test/toolchain/build.sh\` ` +
        '(or point PADDLE_TOOLCHAIN_BIN at a directory that has them)',
    );
  }
}

/** What a real node (real-node.ts) runs, built by `test/toolchain/build-node.sh`. */
export const NODE_TOOLCHAIN_BINARIES = [
  'kubelet',
  'kube-proxy',
  'pause',
  'runc',
  'containerd',
  'ctr',
  'containerd-shim-runc-v2',
  'crictl',
  'cni/bridge',
  'cni/loopback',
  'cni/host-local',
  'cni/portmap',
  'juicefs-csi-driver',
  'csi-registrar',
] as const;

let resolved: Promise<string> | undefined;
let nodeResolved: Promise<string> | undefined;

/**
 * The absolute bin directory of the real-node toolchain (build-node.sh, at most once per process;
 * about a second when cached). PADDLE_NODE_TOOLCHAIN_BIN=<dir> skips the script.
 */
export function nodeToolchainBinDir(): Promise<string> {
  nodeResolved ??= resolveWith('build-node.sh', 'PADDLE_NODE_TOOLCHAIN_BIN', NODE_TOOLCHAIN_BINARIES);
  return nodeResolved;
}

/**
 * The absolute bin directory holding the toolchain. Runs the build script at most once per process
 * (it prints progress on stderr, which is passed through; a cold build takes tens of minutes).
 */
export function toolchainBinDir(): Promise<string> {
  resolved ??= resolveWith('build.sh', 'PADDLE_TOOLCHAIN_BIN', TOOLCHAIN_BINARIES);
  return resolved;
}

async function resolveWith(scriptName: string, overrideVar: string, binaries: readonly string[]): Promise<string> {
  const override = process.env[overrideVar];
  if (override) {
    const dir = path.resolve(override);
    checkToolchain(dir, binaries);
    return dir;
  }
  const dir = await buildScriptResult(scriptName);
  checkToolchain(dir, binaries);
  return dir;
}

/** Runs test/toolchain/<scriptName> and returns the absolute path it printed on its last stdout line. */
export async function buildScriptResult(scriptName: string): Promise<string> {
  const script = path.join(repoRoot(), 'test', 'toolchain', scriptName);
  if (!fs.existsSync(script)) throw new Error(`toolchain build script ${script} is missing`);
  const stdout = await runBuildScript(script);
  const last = stdout.trim().split('\n').pop()?.trim();
  if (!last || !path.isAbsolute(last))
    throw new Error(`${script} did not print an absolute path on its last line (got ${JSON.stringify(stdout.slice(-200))})`);
  return last;
}

/**
 * Runs one of test/toolchain's build scripts with its progress (stderr) passed through and returns
 * its stdout, whose last line is the script's result; rejects on a non-zero exit.
 */
export function runBuildScript(script: string): Promise<string> {
  return new Promise<string>((ok, fail) => {
    const child = spawn('bash', [script], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code === 0) ok(Buffer.concat(chunks).toString('utf8'));
      else fail(new Error(`${script} failed with exit code ${code} (see its output above)`));
    });
  });
}
