/**
 * Talking to the JuiceFS mount process through its virtual control file (`<mount>/.control`), the
 * way `juicefs rmr` and `juicefs warmup` do, but without their path lookups through the kernel:
 *
 *  - rmr names its target by (parent directory inode, entry name). We take the inode from a
 *    directory we hold open (opened without following symlinks), so a parent swapped for a link
 *    after the check changes nothing: the mount removes the entry inside that very directory, in
 *    its own metadata, and never follows a symlink.
 *  - warmup (FillCache) names files by their paths inside the mount; the mount resolves them in
 *    its own namespace, where a symlink can never lead out of the volume.
 *
 * Wire format (JuiceFS v1.x, pkg/vfs/internal.go): a request is `u32 command, u32 body length,
 * body` (big-endian). The answer is a stream of progress records (`0xFE`, u64, u64), then either a
 * data record (`0xFF`, u32 length, JSON) or a single errno byte. A read that finds nothing yet
 * returns 0 bytes; the reader polls.
 */
import { constants as C } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const CMD_RMR = 1002;
export const CMD_FILL_CACHE = 1004;
export const PROGRESS_RECORD = 0xfe;
export const DATA_RECORD = 0xff;
/** JuiceFS numbers its virtual files from here; the control file is this + 2. */
export const MIN_INTERNAL_INODE = 0x7fffffff00000000n;
export const CONTROL_INODE = MIN_INTERNAL_INODE + 2n;
/** FillCache action codes. */
export const WARMUP_ACTION = 0;

/** `juicefs rmr`'s message: remove `name` in directory `parentInode`. */
export function rmrMessage(parentInode: bigint, name: string, skipTrash: boolean, threads: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length === 0 || nameBytes.length > 255) throw new Error(`entry name must be 1-255 bytes, got ${nameBytes.length}`);
  const body = 8 + 1 + nameBytes.length + 1 + 1;
  const buf = Buffer.alloc(8 + body);
  let o = buf.writeUInt32BE(CMD_RMR, 0);
  o = buf.writeUInt32BE(body, o);
  o = buf.writeBigUInt64BE(parentInode, o);
  o = buf.writeUInt8(nameBytes.length, o);
  o += nameBytes.copy(buf, o);
  o = buf.writeUInt8(skipTrash ? 1 : 0, o);
  buf.writeUInt8(Math.max(1, Math.min(255, threads)), o);
  return buf;
}

/** `juicefs warmup`'s message: fill the cache for these paths (relative to the mount, `/`-led). */
export function fillCacheMessage(paths: string[], threads: number): Buffer {
  for (const p of paths) if (p.includes('\n') || p.includes('\0')) throw new Error('a warmup path contains a line break or NUL');
  const list = Buffer.from(paths.join('\n'), 'utf8');
  const body = 4 + list.length + 2 + 1 + 1;
  const buf = Buffer.alloc(8 + body);
  let o = buf.writeUInt32BE(CMD_FILL_CACHE, 0);
  o = buf.writeUInt32BE(body, o);
  o = buf.writeUInt32BE(list.length, o);
  o += list.copy(buf, o);
  o = buf.writeUInt16BE(Math.max(1, Math.min(65535, threads)), o);
  o = buf.writeUInt8(0, o); // foreground: answer when done
  buf.writeUInt8(WARMUP_ACTION, o);
  return buf;
}

export type ControlEvent = { kind: 'progress'; a: bigint; b: bigint } | { kind: 'data'; json: string } | { kind: 'errno'; errno: number };

/**
 * Incremental parser of the answer stream: feed bytes as they arrive, get complete events. After
 * a `data` or `errno` event the answer is complete.
 */
export class ControlAnswerParser {
  private buf: Buffer = Buffer.alloc(0);
  done = false;

  push(chunk: Buffer): ControlEvent[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: ControlEvent[] = [];
    while (!this.done && this.buf.length > 0) {
      const tag = this.buf[0];
      if (tag === PROGRESS_RECORD) {
        if (this.buf.length < 17) break;
        out.push({ kind: 'progress', a: this.buf.readBigUInt64BE(1), b: this.buf.readBigUInt64BE(9) });
        this.buf = this.buf.subarray(17);
      } else if (tag === DATA_RECORD) {
        if (this.buf.length < 5) break;
        const len = this.buf.readUInt32BE(1);
        if (this.buf.length < 5 + len) break;
        out.push({ kind: 'data', json: this.buf.subarray(5, 5 + len).toString('utf8') });
        this.buf = this.buf.subarray(5 + len);
        this.done = true;
      } else {
        out.push({ kind: 'errno', errno: tag });
        this.buf = this.buf.subarray(1);
        this.done = true;
      }
    }
    return out;
  }
}

/** Names for the errno values JuiceFS answers with (the rest by number). */
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  5: 'EIO',
  13: 'EACCES',
  17: 'EEXIST',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  28: 'ENOSPC',
  39: 'ENOTEMPTY',
  95: 'ENOTSUP',
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

export interface ControlRequestOptions {
  signal: AbortSignal;
  /** Called with each progress record (rmr: entries removed; warmup: files, bytes). */
  onProgress?: (a: bigint, b: bigint) => void;
  /** Poll interval while the mount has nothing to say (default 200 ms). */
  pollMs?: number;
}

export class NotJuiceFsError extends Error {
  constructor(dir: string) {
    super(`${dir} is not a JuiceFS mount (no control file)`);
    this.name = 'NotJuiceFsError';
  }
}

/**
 * Opens `<root>/.control` and checks by inode that it is the mount's control file, not a file a
 * tenant made. Throws NotJuiceFsError when the root is not a JuiceFS mount.
 */
export async function openControlFile(root: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await fs.open(path.join(root, '.control'), C.O_RDWR | C.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'EACCES' || code === 'EISDIR') throw new NotJuiceFsError(root);
    throw err;
  }
  const st = await fh.stat({ bigint: true });
  if (st.ino !== CONTROL_INODE) {
    await fh.close();
    throw new NotJuiceFsError(root);
  }
  return fh;
}

/** Sends one request on a fresh control handle and reads its whole answer. Cancel closes the handle. */
export async function controlRequest(
  root: string,
  message: Buffer,
  opts: ControlRequestOptions,
): Promise<{ errno: number; json?: string }> {
  const fh = await openControlFile(root);
  const parser = new ControlAnswerParser();
  const pollMs = opts.pollMs ?? 200;
  try {
    if (opts.signal.aborted) throw new Error('cancelled');
    const { bytesWritten } = await fh.write(message, 0, message.length, null);
    if (bytesWritten !== message.length) throw new Error(`short write to the JuiceFS control file (${bytesWritten}/${message.length})`);
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      if (opts.signal.aborted) throw new Error('cancelled');
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, pollMs);
          function done(): void {
            clearTimeout(t);
            opts.signal.removeEventListener('abort', done);
            resolve();
          }
          opts.signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      for (const ev of parser.push(Buffer.from(buf.subarray(0, bytesRead)))) {
        if (ev.kind === 'progress') opts.onProgress?.(ev.a, ev.b);
        else if (ev.kind === 'data') return { errno: 0, json: ev.json };
        else return { errno: ev.errno };
      }
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
