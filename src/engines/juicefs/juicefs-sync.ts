/**
 * The sync job: `juicefs sync --metrics 127.0.0.1:0 [flags] <source>/ jfs://<META env>/<subdir>/<dest>/`.
 *
 * The destination is the volume itself, opened by juicefs from its META-URL (in the child's
 * environment, never in argv), not the FUSE mount: through the mount the kernel would follow any
 * symlink a tenant plants under the destination (before or during the copy) and juicefs would
 * write and delete wherever it points. Inside the volume JuiceFS refuses absolute link targets
 * and resolves relative ones within the volume, so neither a copy nor `delete-dst` can leave it.
 * Credentials go into the child's environment (commands.ts); progress comes from the child's
 * Prometheus endpoint, totals from its final `Found: …` line.
 */
import fs, { type FileHandle } from 'node:fs/promises';
import { openChildDir, openRoot } from '../toolkit/beneath.js';
import { runChild, type ChildResult } from '../toolkit/child-process.js';
import { isInside, normalizeUserPath, PathSafetyError } from '../toolkit/path-safety.js';
import type { SyncRequest } from '../../api/runtime-protocol.js';
import { secretScrubber } from '../../observability/scrub.js';
import type { JobExecution } from '../cache-engine.js';
import {
  childEnv,
  parseMetricsAddress,
  parsePrometheusText,
  parseSyncSummary,
  placeSourceCredentials,
  syncCommand,
  syncSummaryText,
  tidyJuiceFsLine,
} from './commands.js';
import { META_URL_ENV, SUBDIR_ENV } from './constants.js';
import { childFailure } from './child-failure.js';
import { parseSourceUri, withTrailingSlash } from './source-uri.js';
import { validateSyncFlags } from './sync-flags.js';

export interface SyncContext {
  /** The dataset root (the mount point): only to refuse a destination that is a symlink up front. */
  root: string;
  bin: string;
  baseEnv: NodeJS.ProcessEnv;
  fileSourceRoots: string[];
}

/** `jfs://<env>/<subdir>/<dest>/` with every segment percent-encoded (juicefs decodes the path). */
export function volumeDestinationUri(metaEnvName: string, subdir: string, destination: string): string {
  const segments = [...normalizeUserPath(subdir).split('/'), ...normalizeUserPath(destination).split('/')].filter(Boolean);
  return `jfs://${metaEnvName}/${segments.map((s) => `${encodeURIComponent(s)}/`).join('')}`;
}

/** The secret parts of a META-URL (its password, or the whole URL when it has userinfo). */
export function metaUrlSecrets(metaUrl: string): string[] {
  const m = /^[a-z0-9+.-]+:\/\/([^@/]*)@/i.exec(metaUrl);
  if (!m) return [];
  const userinfo = m[1];
  const colon = userinfo.indexOf(':');
  const password = colon >= 0 ? userinfo.slice(colon + 1) : '';
  return [metaUrl, ...(password ? [password, decodeURIComponentSafe(password)] : [])].filter((s) => s.length >= 4);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function checkFileSource(p: string, roots: string[]): Promise<void> {
  if (roots.length === 0) throw new Error('file:// sources are disabled on this runtime (start paddle-runtime with --file-source-root)');
  const decoded = decodeURIComponentSafe(p);
  const rel = normalizeUserPath(decoded);
  let real: string;
  try {
    real = await fs.realpath(`/${rel}`);
  } catch {
    throw new Error(`file source ${decoded} does not exist`);
  }
  for (const root of roots) {
    const realRoot = await fs.realpath(root).catch(() => undefined);
    if (realRoot && isInside(realRoot, real)) return;
  }
  throw new Error(`file source ${decoded} is outside the allowed file source roots`);
}

/**
 * Refuses, with a clear message, a destination that already exists as (or through) a symlink or a
 * file. Only for the message: the copy itself cannot leave the volume whatever changes later.
 */
async function checkDestination(root: string, destination: string): Promise<void> {
  let dir = await openRoot(root);
  try {
    for (const seg of normalizeUserPath(destination).split('/').filter(Boolean)) {
      let next: FileHandle;
      try {
        next = await openChildDir(dir, seg);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        if (err instanceof PathSafetyError) throw new PathSafetyError(`sync destination ${JSON.stringify(destination)}: ${err.message}`);
        throw err;
      }
      await dir.close();
      dir = next;
    }
  } finally {
    await dir.close().catch(() => {});
  }
}

export async function runSync(
  ctx: SyncContext,
  o: SyncRequest,
  credentials: Record<string, string> | undefined,
  exec: JobExecution,
): Promise<void> {
  const src = parseSourceUri(o.source);
  const flags = validateSyncFlags(o.flags ?? {});
  if (src.scheme === 'file') await checkFileSource(src.path, ctx.fileSourceRoots);
  const destination = volumeDestinationUri(META_URL_ENV, ctx.baseEnv[SUBDIR_ENV] ?? '', o.destination ?? '');
  await checkDestination(ctx.root, o.destination ?? '');
  const metaUrl = ctx.baseEnv[META_URL_ENV];
  if (!metaUrl)
    throw new Error(`sync needs the volume's META-URL in $${META_URL_ENV} (the runtime pod takes it from the volume Secret's metaurl)`);
  const placement = placeSourceCredentials(src, withTrailingSlash(o.source), credentials, flags['no-https'] === true);
  const cmd = syncCommand(placement.uri, destination, flags);
  const scrub = secretScrubber([...Object.values(credentials ?? {}), ...Object.values(placement.env), ...metaUrlSecrets(metaUrl)]);
  exec.log('running juicefs sync', { argv: cmd.display.join(' '), credentialsVia: placement.via });
  if (placement.via === 'ignored') exec.log(`access-key/secret-key are not used by ${src.scheme} sources`);

  let metricsUrl: string | undefined;
  let summary: ReturnType<typeof parseSyncSummary>;
  let polling = false;
  const poll = async (): Promise<void> => {
    if (!metricsUrl || polling) return;
    polling = true;
    try {
      const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(900) });
      const m = parsePrometheusText(await res.text());
      const scanned = m.get('juicefs_sync_scanned');
      const handled = m.get('juicefs_sync_handled');
      if (scanned !== undefined && handled !== undefined) {
        const extra = m.get('juicefs_sync_extra') ?? 0;
        const total = Math.max(0, scanned - extra);
        exec.onProgress({
          filesDone: Math.min(total, Math.max(0, handled - extra)),
          filesTotal: total,
          bytesDone: (m.get('juicefs_sync_copied_bytes') ?? 0) + (m.get('juicefs_sync_skipped_bytes') ?? 0),
        });
      }
    } catch {
      // the child may be finishing; the final line gives the totals
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), 1000);
  let result: ChildResult;
  try {
    result = await runChild({
      bin: ctx.bin,
      args: cmd.args,
      env: childEnv(ctx.baseEnv, placement.env),
      signal: exec.signal,
      scrub,
      tailLines: 200,
      onLine: (line) => {
        const addr = parseMetricsAddress(line);
        if (addr && !metricsUrl) metricsUrl = `http://${addr}/metrics`;
        const s = parseSyncSummary(line);
        if (s) summary = s;
        exec.log(`juicefs: ${tidyJuiceFsLine(line)}`);
      },
    });
  } finally {
    clearInterval(timer);
  }
  if (exec.signal.aborted) throw new Error('cancelled');
  if (summary) {
    const bytes = summary.copiedBytes + summary.skippedBytes;
    // "extra" entries exist only in the destination (e.g. its directories): not part of the copy.
    const total = Math.max(0, summary.found - summary.extra);
    const done = Math.max(0, total - summary.failed - summary.lost);
    exec.onProgress({ filesDone: done, filesTotal: total, bytesDone: bytes, bytesTotal: bytes });
    const line = result.tail.find((l) => l.includes('Found: '));
    if (line) exec.setMessage?.(syncSummaryText(line));
  }
  if (result.code !== 0) throw childFailure('juicefs sync', result);
}
