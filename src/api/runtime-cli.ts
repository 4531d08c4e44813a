/**
 * The paddle-runtime command line, formatted (by engines building the runtime container) and parsed
 * (by the binary) in one place:
 *
 *   paddle-runtime [serve] --engine juicefs --data-dir /data
 *                  [--cache-dir /cache/0 --host-cache-dir /dev/shm/ds ...] [--listen 0.0.0.0:7716]
 *                  [--binary /usr/bin/juicefs] [--file-source-root /srv/data ...]
 *                  [--max-pending-jobs 100] [--log-level info] [--log-format json|text]
 *   paddle-runtime clean-cache --engine juicefs --data-dir /data --cache-dir ... [--host-cache-dir ...]
 *
 * The bearer token comes from the environment (PADDLE_RUNTIME_TOKEN), never from the arguments.
 */
import { parseArgs } from 'node:util';
import { RUNTIME_PORT } from './constants.js';

export type RuntimeCommand = 'serve' | 'clean-cache';

export interface RuntimeCliOptions {
  command: RuntimeCommand;
  engine: string;
  dataDir: string;
  cacheDirs: string[];
  hostCacheDirs: string[];
  host: string;
  port: number;
  binary?: string;
  fileSourceRoots: string[];
  /** Bound of the pending job queue (serve); undefined = the server's default. */
  maxPendingJobs?: number;
  logLevel: string;
  logFormat: 'json' | 'text';
}

export class CliError extends Error {}

/** Arguments (after the program name) for a runtime with these settings. */
export function formatRuntimeArgs(o: Partial<RuntimeCliOptions> & { engine: string; dataDir: string }): string[] {
  const args: string[] = [o.command ?? 'serve', '--engine', o.engine, '--data-dir', o.dataDir];
  for (const d of o.cacheDirs ?? []) args.push('--cache-dir', d);
  for (const d of o.hostCacheDirs ?? []) args.push('--host-cache-dir', d);
  if ((o.command ?? 'serve') === 'serve') args.push('--listen', `${o.host ?? '0.0.0.0'}:${o.port ?? RUNTIME_PORT}`);
  if (o.binary) args.push('--binary', o.binary);
  for (const d of o.fileSourceRoots ?? []) args.push('--file-source-root', d);
  if (o.maxPendingJobs !== undefined && (o.command ?? 'serve') === 'serve') args.push('--max-pending-jobs', String(o.maxPendingJobs));
  if (o.logLevel) args.push('--log-level', o.logLevel);
  if (o.logFormat) args.push('--log-format', o.logFormat);
  return args;
}

function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  if (!m) throw new CliError(`--listen must be host:port, got ${JSON.stringify(s)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new CliError('--listen port must be at most 65535');
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function parseRuntimeArgs(argv: string[]): RuntimeCliOptions {
  let command: RuntimeCommand = 'serve';
  let rest = argv;
  if (rest[0] === 'serve' || rest[0] === 'clean-cache') {
    command = rest[0];
    rest = rest.slice(1);
  } else if (rest[0] && !rest[0].startsWith('-')) {
    throw new CliError(`unknown command ${JSON.stringify(rest[0])} (serve, clean-cache)`);
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        engine: { type: 'string', default: 'juicefs' },
        'data-dir': { type: 'string' },
        'cache-dir': { type: 'string', multiple: true, default: [] },
        'host-cache-dir': { type: 'string', multiple: true, default: [] },
        listen: { type: 'string', default: `0.0.0.0:${RUNTIME_PORT}` },
        binary: { type: 'string' },
        'file-source-root': { type: 'string', multiple: true, default: [] },
        'max-pending-jobs': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        'log-format': { type: 'string', default: 'json' },
      },
    }));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const dataDir = values['data-dir'];
  if (!dataDir) throw new CliError('--data-dir is required');
  const cacheDirs = values['cache-dir'];
  const hostCacheDirs = values['host-cache-dir'];
  if (hostCacheDirs.length > 0 && hostCacheDirs.length !== cacheDirs.length)
    throw new CliError('--host-cache-dir must be given once per --cache-dir (same order)');
  const logFormat = values['log-format'];
  if (logFormat !== 'json' && logFormat !== 'text') throw new CliError('--log-format must be json or text');
  const { host, port } = parseListen(values.listen);
  let maxPendingJobs: number | undefined;
  const mp = values['max-pending-jobs'];
  if (mp !== undefined) {
    if (!/^\d{1,6}$/.test(mp) || Number(mp) < 1)
      throw new CliError(`--max-pending-jobs must be a positive integer, got ${JSON.stringify(mp)}`);
    maxPendingJobs = Number(mp);
  }
  return {
    command,
    engine: values.engine,
    dataDir,
    cacheDirs,
    hostCacheDirs,
    host,
    port,
    binary: values.binary,
    fileSourceRoots: values['file-source-root'],
    ...(maxPendingJobs !== undefined ? { maxPendingJobs } : {}),
    logLevel: values['log-level'],
    logFormat,
  };
}
