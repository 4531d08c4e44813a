/**
 * Walking a directory tree without following symlinks (a link is never a way out of the root),
 * collecting regular files with their sizes. Used for warmup lists, cache sizes and fallbacks.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface WalkedFile {
  /** Path relative to the walk's base, `/`-separated. */
  rel: string;
  abs: string;
  size: number;
}

export interface WalkOptions {
  /** Skip an entry (by its path relative to the base) — directories are not descended into. */
  skip?: (rel: string, isDir: boolean) => boolean;
  signal?: AbortSignal;
  /** Called for each file (instead of collecting them). */
  onFile?: (f: WalkedFile) => void;
  /** Collect the files (default true when onFile is not given). */
  collect?: boolean;
}

export interface WalkResult {
  files: WalkedFile[];
  fileCount: number;
  bytes: number;
}

/**
 * Walks `base`/`start` (start relative to base, '' = base). A missing start yields nothing.
 * `rel` values are relative to `base`.
 */
export async function walkFiles(base: string, start = '', opts: WalkOptions = {}): Promise<WalkResult> {
  const collect = opts.collect ?? !opts.onFile;
  const result: WalkResult = { files: [], fileCount: 0, bytes: 0 };
  const visit = (f: WalkedFile): void => {
    result.fileCount++;
    result.bytes += f.size;
    if (collect) result.files.push(f);
    opts.onFile?.(f);
  };
  const startAbs = start ? path.join(base, start) : base;
  let st;
  try {
    st = await fs.lstat(startAbs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  if (st.isFile()) {
    visit({ rel: start, abs: startAbs, size: st.size });
    return result;
  }
  if (!st.isDirectory()) return result;
  const stack: string[] = [start];
  while (stack.length) {
    if (opts.signal?.aborted) throw new Error('cancelled');
    const relDir = stack.pop()!;
    const absDir = relDir ? path.join(base, relDir) : base;
    let dir;
    try {
      dir = await fs.opendir(absDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for await (const d of dir) {
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      if (d.isDirectory()) {
        if (!opts.skip?.(rel, true)) stack.push(rel);
      } else if (d.isFile()) {
        if (opts.skip?.(rel, false)) continue;
        const abs = path.join(absDir, d.name);
        try {
          const s = await fs.lstat(abs);
          visit({ rel, abs, size: s.size });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
  }
  return result;
}
