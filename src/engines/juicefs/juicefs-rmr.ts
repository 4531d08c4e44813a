/**
 * The rmr job: removes paths under the dataset root, never the root itself, never a control file.
 *
 * Nothing is resolved once and used later by name. Each target's parent directory is opened one
 * component at a time without following symlinks (toolkit/beneath.ts); the mount process is then
 * asked, through its control file, to remove the entry *inside that open directory* by its inode
 * (what `juicefs rmr` does after its own kernel lookup). Swapping any directory on the way for a
 * symlink after the check changes nothing, and the mount never follows a link while removing. A
 * removal the mount could not do fails the job with its errno; nothing falls through to a second,
 * path-based removal.
 */
import fs, { type FileHandle } from 'node:fs/promises';
import { lstatIn, openDirBeneath, splitParent } from '../toolkit/beneath.js';
import { normalizeUserPath, PathSafetyError } from '../toolkit/path-safety.js';
import type { RmrRequest } from '../../api/runtime-protocol.js';
import type { JobExecution } from '../cache-engine.js';
import { controlRequest, errnoName, openControlFile, rmrMessage } from './control-file.js';
import { isControlPath } from './juicefs-warmup.js';
import { canonicalOrder } from './sharding.js';

const ENOENT = 2;
/** Workers the mount uses for one removal (juicefs rmr's default). */
const RMR_THREADS = 50;

export interface RmrContext {
  root: string;
  /** Delete directly instead of moving to the trash (needs root in the mount). */
  skipTrash: boolean;
}

/** Normalised targets: no root, no control files, no duplicates, none inside another. */
export function rmrTargets(paths: string[]): string[] {
  const rels: string[] = [];
  for (const p of paths) {
    const rel = normalizeUserPath(p);
    if (rel === '') throw new PathSafetyError(`${JSON.stringify(p)} is the dataset root, which rmr may not remove`);
    if (isControlPath(rel.split('/')[0])) throw new PathSafetyError(`${JSON.stringify(p)} is a JuiceFS control file`);
    rels.push(rel);
  }
  const sorted = canonicalOrder(new Set(rels));
  return sorted.filter((t) => !sorted.some((o) => o !== t && t.startsWith(`${o}/`)));
}

export async function runRmr(ctx: RmrContext, o: RmrRequest, exec: JobExecution): Promise<void> {
  const root = await fs.realpath(ctx.root);
  const targets = rmrTargets(o.paths);
  // Fails (NotJuiceFsError) before anything is touched when the dataset is not a JuiceFS mount.
  await (await openControlFile(root)).close();
  exec.onProgress({ filesDone: 0, filesTotal: targets.length });
  exec.log('removing paths through the JuiceFS mount', { paths: targets.length, skipTrash: ctx.skipTrash });
  let removed = 0;
  let missing = 0;
  let entries = 0n;
  for (const rel of targets) {
    if (exec.signal.aborted) throw new Error('cancelled');
    const { parent, name } = splitParent(rel);
    let dir: FileHandle;
    try {
      dir = await openDirBeneath(root, parent);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        missing++;
        continue;
      }
      if (err instanceof PathSafetyError)
        throw new PathSafetyError(`${JSON.stringify(rel)}: ${err.message} on the way (rmr never follows a symlink)`);
      throw err;
    }
    try {
      if (!(await lstatIn(dir, name))) {
        missing++;
        continue;
      }
      // The directory may be deleted under us (JuiceFS then answers ENOENT for its attributes).
      const ino = await dir.stat({ bigint: true }).then(
        (st) => st.ino,
        (err: unknown) => {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        },
      );
      if (ino === undefined) {
        missing++;
        continue;
      }
      let count = 0n;
      const r = await controlRequest(root, rmrMessage(ino, name, ctx.skipTrash, RMR_THREADS), {
        signal: exec.signal,
        onProgress: (n) => (count = n),
      });
      entries += count;
      if (exec.signal.aborted) throw new Error('cancelled');
      if (r.errno === ENOENT) missing++;
      else if (r.errno !== 0) throw new Error(`removing ${JSON.stringify(rel)} failed in the JuiceFS mount: ${errnoName(r.errno)}`);
      else removed++;
    } finally {
      await dir.close().catch(() => {});
      exec.onProgress({ filesDone: removed + missing, filesTotal: targets.length });
    }
  }
  exec.log('rmr finished', { removed, missing, entries: Number(entries) });
  exec.setMessage?.(`removed ${removed} path(s)${missing ? `; ${missing} did not exist` : ''}`);
}
