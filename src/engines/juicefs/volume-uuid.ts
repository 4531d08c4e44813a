/**
 * The volume's UUID, read from the mount's `.config` (JuiceFS stores a volume's cache blocks under
 * `<tier>/<UUID>/`). `.config` is a virtual file whose reported size can lag its content right after
 * a mount, so it is read to EOF (not to its stat size), and a read that does not parse is tried again
 * a few times before giving up.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ATTEMPTS = 5;
const RETRY_MS = 200;

export async function readVolumeUuid(dataDir: string): Promise<string> {
  const file = path.join(dataDir, '.config');
  let problem = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, RETRY_MS));
    let text: string;
    try {
      text = await readToEnd(file);
    } catch (err) {
      throw new Error(`cannot read the JuiceFS mount's .config in ${dataDir}: ${(err as Error).message}`);
    }
    let uuid: unknown;
    try {
      uuid = (JSON.parse(text) as { Format?: { UUID?: unknown } }).Format?.UUID;
    } catch {
      problem = "the JuiceFS mount's .config is not valid JSON";
      continue;
    }
    if (typeof uuid !== 'string' || !UUID_PATTERN.test(uuid)) {
      problem = "the JuiceFS mount's .config has no valid volume UUID";
      continue;
    }
    return uuid;
  }
  throw new Error(problem);
}

/** Reads a file until EOF, whatever size it reports (FUSE virtual files may report a stale one). */
export async function readToEnd(file: string): Promise<string> {
  const fh = await fs.open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}
