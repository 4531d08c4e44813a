// What FUSE alone costs on this machine: a local directory mounted through fuse-floor
// (test/toolchain/fuse-floor, a bare loopback FUSE file system built by build-fuse-floor.sh), whose
// every request is forwarded to the directory as it is and whose reads the kernel serves straight
// from the directory's files where it allows passthrough. No FUSE file system whose kernel entries
// and attributes last as long reads faster here.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { fuseMountPoints } from './real-node-config.js';
import { buildScriptResult } from './toolchain.js';

const run = promisify(execFile);

export interface FuseFloorMount {
  mountPoint: string;
  /** Whether the kernel serves reads from the backing files (FUSE passthrough: Linux ≥ 6.9, root). */
  passthrough: boolean;
  /** Unmounts (SIGTERM, then a lazy unmount if it is still there). Idempotent. */
  stop(): Promise<void>;
}

/** The fuse-floor binary, built (or reused) by test/toolchain/build-fuse-floor.sh. */
export function fuseFloorBinary(): Promise<string> {
  return buildScriptResult('build-fuse-floor.sh');
}

function mounted(mountPoint: string): boolean {
  return fuseMountPoints(fs.readFileSync('/proc/self/mountinfo', 'utf8')).includes(mountPoint);
}

/**
 * Mounts `dir` at `mountPoint` through fuse-floor, with the kernel keeping entries and attributes
 * for `ttlSeconds` (JuiceFS's default is 1 s, so the floor costs what JuiceFS's mount would in
 * lookups and getattrs); resolves once it serves.
 */
export function mountFuseFloor(bin: string, dir: string, mountPoint: string, ttlSeconds = 1): Promise<FuseFloorMount> {
  fs.mkdirSync(mountPoint, { recursive: true });
  const child = spawn(bin, ['-ttl', String(ttlSeconds), dir, mountPoint], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (mounted(mountPoint)) await run('umount', ['-l', mountPoint]);
  };
  return new Promise<FuseFloorMount>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`fuse-floor did not mount ${mountPoint} within 30 s: ${stderr.trim()}`));
    }, 30_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const { passthrough } = JSON.parse(out.slice(0, nl)) as { passthrough: boolean };
        resolve({ mountPoint, passthrough, stop });
      } catch {
        void stop();
        reject(new Error(`fuse-floor printed ${JSON.stringify(out.slice(0, nl))}, not its JSON line`));
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`fuse-floor exited (${code}) before mounting ${mountPoint}: ${stderr.trim()}`));
    });
  });
}
