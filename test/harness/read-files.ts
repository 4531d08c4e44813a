// Reads a list of files to the end, the way a training data loader does: a few workers in parallel,
// each taking the next file of a (shuffled) list and reading it whole with a fixed buffer. Run in a
// child process of its own (`readFilesInChild`), so the reading is not slowed by — and does not slow
// — the event loop of whoever measures it, and the thread pool has one thread per worker.
//   node dist/test/harness/read-files.js <root> <list file> <workers>   → one JSON line on stdout
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface ReadResult {
  files: number;
  bytes: number;
  seconds: number;
}

const BUFFER = 1024 * 1024;

/** Reads every file of `rels` (relative to `root`) to the end with `workers` readers; throws on any error. */
export async function readFiles(root: string, rels: string[], workers: number): Promise<ReadResult> {
  let next = 0;
  let bytes = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    const buf = Buffer.allocUnsafe(BUFFER);
    for (;;) {
      const i = next++;
      if (i >= rels.length) return;
      const fh = await fs.promises.open(path.join(root, rels[i]), 'r');
      try {
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, BUFFER, null);
          if (bytesRead === 0) break;
          bytes += bytesRead;
        }
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  return { files: rels.length, bytes, seconds: (performance.now() - t0) / 1000 };
}

/** `readFiles` in a fresh node process (UV_THREADPOOL_SIZE = workers). */
export function readFilesInChild(root: string, rels: string[], workers: number): Promise<ReadResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'read-files-'));
  const list = path.join(dir, 'list');
  fs.writeFileSync(list, rels.join('\n'));
  return new Promise<ReadResult>((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), root, list, String(workers)], {
      env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(4, workers)) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (code === 0) resolve(JSON.parse(out) as ReadResult);
      else reject(new Error(`reading ${rels.length} files under ${root} failed (exit ${code}): ${err.trim()}`));
    });
  });
}

/**
 * What `dropPageCache` empties: `pages` the page cache only (what a dataset larger than memory has
 * lost by its next epoch: the kernel keeps the few MiB of dentries and inodes of its files), `all`
 * also the dentry and inode caches (as if the node had just booted: every name is looked up again).
 */
export type CacheDrop = 'pages' | 'all';

/**
 * Writes dirty pages out and empties the kernel's page cache (root only), and with `all` its
 * dentries and inodes too, so the next read reaches the file system's own storage.
 */
export function dropPageCache(what: CacheDrop = 'all'): void {
  execFileSync('sync');
  fs.writeFileSync('/proc/sys/vm/drop_caches', what === 'pages' ? '1' : '3');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [root, list, workers] = process.argv.slice(2);
  const rels = fs.readFileSync(list, 'utf8').split('\n').filter(Boolean);
  readFiles(root, rels, Number(workers)).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
