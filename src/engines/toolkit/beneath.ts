/**
 * File-system access that cannot leave a root, whatever a tenant plants or swaps while it runs.
 *
 * Resolving a path once and then using it by name is a race: between the check and the use, any
 * directory on the way can be replaced by a symlink to somewhere else. Here every step is taken
 * relative to a directory that is already open: `/proc/self/fd/<fd>/<name>` makes the kernel look
 * `name` up in exactly that open directory (like `openat(fd, name)`), and `O_NOFOLLOW` refuses a
 * symlink in its place. A directory that is swapped for a link after we opened it does not matter:
 * we hold the directory itself, not its name. Symlinks are never followed; FIFOs, sockets and
 * devices are never opened for reading (a regular-file check comes from `fstat` of the open
 * descriptor, opened non-blocking so a FIFO cannot hang the open).
 *
 * Linux only (it needs /proc), like the runtime pods.
 */
import { constants as C } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import { normalizeUserPath, PathSafetyError } from './path-safety.js';

/** Deepest directory nesting a walk or removal descends into (each level holds one descriptor). */
export const MAX_DEPTH = 256;

function errnoOf(err: unknown): string {
  return typeof err === 'object' && err !== null ? ((err as NodeJS.ErrnoException).code ?? '') : '';
}

/** The magic path that names `name` inside the directory open as `dir` (or the directory itself). */
export function fdPath(dir: FileHandle, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dir.fd}` : `/proc/self/fd/${dir.fd}/${name}`;
}

function checkName(name: string): void {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    throw new PathSafetyError(`invalid path component ${JSON.stringify(name)}`);
}

/** Opens the root directory itself (the one path resolved by name; it is ours, not the tenant's). */
export async function openRoot(root: string): Promise<FileHandle> {
  return fs.open(root, C.O_RDONLY | C.O_DIRECTORY);
}

/**
 * Opens the directory `name` inside the open directory `parent`, refusing a symlink (or anything
 * that is not a directory) in its place. Throws PathSafetyError for those, ENOENT as is.
 */
export async function openChildDir(parent: FileHandle, name: string): Promise<FileHandle> {
  checkName(name);
  try {
    return await fs.open(fdPath(parent, name), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ELOOP') throw new PathSafetyError(`${JSON.stringify(name)} is a symlink`);
    if (code === 'ENOTDIR') {
      // Linux answers ENOTDIR for a symlink opened with O_DIRECTORY | O_NOFOLLOW: say which.
      const st = await fs.lstat(fdPath(parent, name)).catch(() => undefined);
      throw new PathSafetyError(`${JSON.stringify(name)} is ${st?.isSymbolicLink() ? 'a symlink' : 'not a directory'}`);
    }
    throw err;
  }
}

/**
 * Opens `rel` (a user path, normalised: '' is the root) under `root` as a directory, one component
 * at a time, never following a symlink. The caller closes the handle.
 */
export async function openDirBeneath(root: string, rel: string): Promise<FileHandle> {
  const segments = normalizeUserPath(rel).split('/').filter(Boolean);
  let dir = await openRoot(root);
  try {
    for (const seg of segments) {
      const next = await openChildDir(dir, seg);
      await dir.close();
      dir = next;
    }
    return dir;
  } catch (err) {
    await dir.close().catch(() => {});
    throw err;
  }
}

/** `lstat` of `name` in the open directory (never follows a final symlink); undefined when absent. */
export async function lstatIn(dir: FileHandle, name: string): Promise<import('node:fs').Stats | undefined> {
  checkName(name);
  try {
    return await fs.lstat(fdPath(dir, name));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Splits a normalised, non-root user path into its parent ('' = root) and final name. */
export function splitParent(rel: string): { parent: string; name: string } {
  const norm = normalizeUserPath(rel);
  if (norm === '') throw new PathSafetyError('the root itself has no parent');
  const i = norm.lastIndexOf('/');
  return i < 0 ? { parent: '', name: norm } : { parent: norm.slice(0, i), name: norm.slice(i + 1) };
}

export interface ReadFileOptions {
  /** Largest accepted size: a larger (or growing) file is refused. */
  maxBytes: number;
  /** The whole read must finish within this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Races `p` against the signal; the loser is left to settle on its own. */
function abortable<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error(`${what}: ${reasonText(signal)}`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error(`${what}: ${reasonText(signal)}`));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function reasonText(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === 'TimeoutError') return 'timed out';
  return r instanceof Error ? r.message : 'cancelled';
}

/**
 * Reads `rel` under `root` as text, only when it is a regular file no larger than `maxBytes`,
 * within `timeoutMs` and until `signal` aborts. Symlinks (anywhere on the way), FIFOs, sockets,
 * devices, directories and oversized or endless files are refused with PathSafetyError.
 * `refuse` may veto a file by its stat (e.g. an engine's virtual control files).
 */
export async function readRegularFileBeneath(
  root: string,
  rel: string,
  opts: ReadFileOptions & { refuse?: (st: import('node:fs').BigIntStats) => string | undefined },
): Promise<string> {
  const { parent, name } = splitParent(rel);
  const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs);
  const what = `reading ${JSON.stringify(rel)}`;
  const dir = await abortable(openDirBeneath(root, parent), signal, what);
  let fh: FileHandle | undefined;
  try {
    checkName(name);
    try {
      fh = await abortable(fs.open(fdPath(dir, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY), signal, what);
    } catch (err) {
      if (errnoOf(err) === 'ELOOP') throw new PathSafetyError(`${JSON.stringify(rel)} is a symlink`);
      if (errnoOf(err) === 'ENOENT') throw new PathSafetyError(`${JSON.stringify(rel)} does not exist`);
      if (errnoOf(err) === 'ENXIO') throw new PathSafetyError(`${JSON.stringify(rel)} is not a regular file`);
      throw err;
    }
    const st = await abortable(fh.stat({ bigint: true }), signal, what);
    if (!st.isFile()) throw new PathSafetyError(`${JSON.stringify(rel)} is not a regular file`);
    const veto = opts.refuse?.(st);
    if (veto) throw new PathSafetyError(`${JSON.stringify(rel)}: ${veto}`);
    if (st.size > BigInt(opts.maxBytes)) throw new PathSafetyError(`${JSON.stringify(rel)} is larger than ${opts.maxBytes} bytes`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(64 * 1024, opts.maxBytes + 1 - total));
      const { bytesRead } = await abortable(fh.read(buf, 0, buf.length, null), signal, what);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      // It grew past the limit while we read it: an endless or growing file.
      if (total > opts.maxBytes) throw new PathSafetyError(`${JSON.stringify(rel)} is larger than ${opts.maxBytes} bytes`);
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    // A read still blocked in the thread pool keeps the descriptor until it returns.
    if (fh) void fh.close().catch(() => {});
    void dir.close().catch(() => {});
  }
}

export interface BeneathEntry {
  /** Path relative to the root, `/`-separated. */
  rel: string;
  size: number;
}

export interface WalkBeneathOptions {
  /** Skip an entry (by its path relative to the root); a skipped directory is not descended into. */
  skip?: (rel: string, isDir: boolean) => boolean;
  signal?: AbortSignal;
  /** Called for each regular file. */
  onFile: (f: BeneathEntry) => void;
  /** Called when something could not be visited (a swapped entry, a too-deep directory). */
  onSkipped?: (rel: string, why: string) => void;
}

/**
 * Visits every regular file under `rel` (a file itself, or a directory walked depth-first) without
 * following any symlink and without ever resolving a path by name below the root. Entries that
 * change type while the walk runs are skipped (reported through onSkipped). A missing start yields
 * nothing (`exists: false`). A start that is (or goes through) a symlink, or is a special file, is
 * refused (PathSafetyError).
 * Returns whether the start exists and the number of files and bytes visited.
 */
export async function walkBeneath(
  root: string,
  rel: string,
  opts: WalkBeneathOptions,
): Promise<{ exists: boolean; files: number; bytes: number }> {
  const start = normalizeUserPath(rel);
  const totals = { exists: true, files: 0, bytes: 0 };
  const visit = (f: BeneathEntry): void => {
    totals.files++;
    totals.bytes += f.size;
    opts.onFile(f);
  };
  let startDir: FileHandle;
  if (start === '') {
    startDir = await openRoot(root);
  } else {
    const { parent, name } = splitParent(start);
    let dir: FileHandle;
    try {
      dir = await openDirBeneath(root, parent);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return { ...totals, exists: false };
      throw err;
    }
    try {
      const st = await lstatIn(dir, name);
      if (!st) return { ...totals, exists: false };
      if (st.isFile()) {
        visit({ rel: start, size: st.size });
        return totals;
      }
      if (!st.isDirectory())
        throw new PathSafetyError(`${JSON.stringify(start)} is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file or directory'}`);
      try {
        startDir = await openChildDir(dir, name);
      } catch (err) {
        if (err instanceof PathSafetyError || errnoOf(err) === 'ENOENT') {
          opts.onSkipped?.(start, err instanceof Error ? err.message : String(err));
          return totals;
        }
        throw err;
      }
    } finally {
      await dir.close().catch(() => {});
    }
  }
  await walkDir(startDir, start, 0, opts, visit);
  return totals;
}

async function walkDir(
  dir: FileHandle,
  rel: string,
  depth: number,
  opts: WalkBeneathOptions,
  visit: (f: BeneathEntry) => void,
): Promise<void> {
  try {
    if (opts.signal?.aborted) throw new Error('cancelled');
    const entries = await fs.readdir(fdPath(dir), { withFileTypes: true });
    for (const d of entries) {
      if (opts.signal?.aborted) throw new Error('cancelled');
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) {
        if (opts.skip?.(childRel, true)) continue;
        if (depth + 1 > MAX_DEPTH) {
          opts.onSkipped?.(childRel, `deeper than ${MAX_DEPTH} levels`);
          continue;
        }
        let child: FileHandle;
        try {
          child = await openChildDir(dir, d.name);
        } catch (err) {
          if (err instanceof PathSafetyError || errnoOf(err) === 'ENOENT') {
            opts.onSkipped?.(childRel, err instanceof Error ? err.message : String(err));
            continue;
          }
          throw err;
        }
        await walkDir(child, childRel, depth + 1, opts, visit);
      } else if (d.isFile()) {
        if (opts.skip?.(childRel, false)) continue;
        // lstat through the open directory: a file swapped for a link is seen as the link.
        const st = await lstatIn(dir, d.name);
        if (st?.isFile()) visit({ rel: childRel, size: st.size });
      }
    }
  } finally {
    await dir.close().catch(() => {});
  }
}

/**
 * Removes `name` from the open directory `parent` recursively without following any symlink: a
 * link is unlinked as a link, a directory is emptied through its own descriptor and then removed.
 * Returns how many entries were removed. Deeper than MAX_DEPTH is refused.
 */
export async function removeIn(parent: FileHandle, name: string, signal?: AbortSignal, depth = 0): Promise<number> {
  checkName(name);
  if (signal?.aborted) throw new Error('cancelled');
  const st = await lstatIn(parent, name);
  if (!st) return 0;
  if (!st.isDirectory()) {
    await fs.unlink(fdPath(parent, name)).catch((err: unknown) => {
      if (errnoOf(err) !== 'ENOENT') throw err;
    });
    return 1;
  }
  if (depth >= MAX_DEPTH) throw new PathSafetyError(`refusing to remove a tree deeper than ${MAX_DEPTH} levels`);
  let dir: FileHandle;
  try {
    dir = await openChildDir(parent, name);
  } catch (err) {
    // Swapped for a link or a file since the lstat: remove whatever is there now, as itself.
    if (err instanceof PathSafetyError) return removeIn(parent, name, signal, depth + 1);
    if (errnoOf(err) === 'ENOENT') return 0;
    throw err;
  }
  let removed = 0;
  try {
    for (const child of await fs.readdir(fdPath(dir))) removed += await removeIn(dir, child, signal, depth + 1);
  } finally {
    await dir.close().catch(() => {});
  }
  try {
    await fs.rmdir(fdPath(parent, name));
  } catch (err) {
    if (errnoOf(err) === 'ENOTDIR') return removed + (await removeIn(parent, name, signal, depth + 1));
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
  return removed + 1;
}

/**
 * Writes `data` to `rel` under `root`, creating missing directories, never following a symlink
 * on the way or in the file's place (a planted link makes it fail instead of writing elsewhere).
 */
export async function writeFileBeneath(root: string, rel: string, data: Uint8Array): Promise<void> {
  const { parent, name } = splitParent(rel);
  let dir = await openRoot(root);
  try {
    for (const seg of parent.split('/').filter(Boolean)) {
      await fs.mkdir(fdPath(dir, seg)).catch((err: unknown) => {
        if (errnoOf(err) !== 'EEXIST') throw err;
      });
      const next = await openChildDir(dir, seg);
      await dir.close();
      dir = next;
    }
    checkName(name);
    let fh: FileHandle;
    try {
      fh = await fs.open(fdPath(dir, name), C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW | C.O_NONBLOCK, 0o644);
    } catch (err) {
      if (errnoOf(err) === 'ELOOP') throw new PathSafetyError(`${JSON.stringify(rel)} is a symlink`);
      throw err;
    }
    try {
      if (!(await fh.stat()).isFile()) throw new PathSafetyError(`${JSON.stringify(rel)} is not a regular file`);
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
  } finally {
    await dir.close().catch(() => {});
  }
}
