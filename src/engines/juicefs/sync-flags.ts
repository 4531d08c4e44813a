/**
 * `juicefs sync` flags a SampleJob may pass (by CLI name, JuiceFS v1.3.1): validated on the
 * controller side (SpecError) and again on the runtime side before they become `--flag=value`
 * arguments (one argv element each: no shell, no injection).
 *
 * Not allowed: `manager`/`worker`/`manager-addr` (cluster mode over SSH), `files-from` (reads a
 * file of the runtime pod), `metrics`/`consul` (the runtime sets its own metrics address).
 * `http-port` (the original's metrics port) is accepted and ignored for compatibility.
 */
import { SpecError } from '../cache-engine.js';

type FlagKind = 'bool' | 'int' | 'string' | 'strings';

export const SYNC_FLAGS: Record<string, { kind: FlagKind; pattern?: RegExp; max?: number }> = {
  // selection
  'start': { kind: 'string' },
  'end': { kind: 'string' },
  'exclude': { kind: 'strings' },
  'include': { kind: 'strings' },
  'match-full-path': { kind: 'bool' },
  'max-size': { kind: 'string', pattern: /^\d+(\.\d+)?[KMGTPE]?i?B?$/i },
  'min-size': { kind: 'string', pattern: /^\d+(\.\d+)?[KMGTPE]?i?B?$/i },
  'max-age': { kind: 'string', pattern: /^(\d+(\.\d+)?(ns|us|ms|s|m|h|d)?)+$/ },
  'min-age': { kind: 'string', pattern: /^(\d+(\.\d+)?(ns|us|ms|s|m|h|d)?)+$/ },
  'start-time': { kind: 'string', pattern: /^[0-9: T.+-]+$/ },
  'end-time': { kind: 'string', pattern: /^[0-9: T.+-]+$/ },
  'limit': { kind: 'int' },
  'update': { kind: 'bool' },
  'force-update': { kind: 'bool' },
  'existing': { kind: 'bool' },
  'ignore-existing': { kind: 'bool' },
  // action
  'dirs': { kind: 'bool' },
  'perms': { kind: 'bool' },
  'links': { kind: 'bool' },
  'inplace': { kind: 'bool' },
  'delete-src': { kind: 'bool' },
  'delete-dst': { kind: 'bool' },
  'check-all': { kind: 'bool' },
  'check-new': { kind: 'bool' },
  'check-change': { kind: 'bool' },
  'max-failure': { kind: 'int' },
  'dry': { kind: 'bool' },
  // performance
  'threads': { kind: 'int', max: 1024 },
  'list-threads': { kind: 'int', max: 1024 },
  'list-depth': { kind: 'int', max: 64 },
  'no-https': { kind: 'bool' },
  'storage-class': { kind: 'string', pattern: /^[A-Za-z0-9_-]{1,64}$/ },
  'bwlimit': { kind: 'int' },
};

/** Accepted for compatibility with the original's SyncJobOptions, then dropped. */
export const IGNORED_SYNC_FLAGS = ['http-port'];

export type SyncFlags = Record<string, string | number | boolean | string[]>;

function bad(flag: string, why: string): SpecError {
  return new SpecError('InvalidSyncOption', `syncOptions.${flag}: ${why}`);
}

function checkString(flag: string, v: unknown): string {
  if (typeof v !== 'string') throw bad(flag, 'must be a string');
  // eslint-disable-next-line no-control-regex
  if (v.length === 0 || v.length > 1024 || /[\x00-\x1f\x7f]/.test(v)) throw bad(flag, 'must be 1-1024 characters without control characters');
  return v;
}

/** Validates sync flags; returns the clean set (false booleans and ignored flags removed). */
export function validateSyncFlags(input: Record<string, unknown>): SyncFlags {
  const out: SyncFlags = {};
  for (const [flag, v] of Object.entries(input)) {
    if (v === undefined || v === null) continue;
    if (IGNORED_SYNC_FLAGS.includes(flag)) continue;
    const def = SYNC_FLAGS[flag];
    if (!def) throw bad(flag, `is not a supported juicefs sync option (supported: ${Object.keys(SYNC_FLAGS).sort().join(', ')})`);
    switch (def.kind) {
      case 'bool':
        if (typeof v !== 'boolean') throw bad(flag, 'must be true or false');
        if (v) out[flag] = true;
        break;
      case 'int': {
        const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || (def.max !== undefined && n > def.max)) {
          throw bad(flag, `must be a non-negative integer${def.max !== undefined ? ` up to ${def.max}` : ''}`);
        }
        out[flag] = n;
        break;
      }
      case 'string': {
        const s = checkString(flag, v);
        if (def.pattern && !def.pattern.test(s)) throw bad(flag, `has an invalid value ${JSON.stringify(s)}`);
        out[flag] = s;
        break;
      }
      case 'strings': {
        const list = Array.isArray(v) ? v : [v];
        if (list.length > 100) throw bad(flag, 'at most 100 patterns');
        out[flag] = list.map((x) => checkString(flag, x));
        break;
      }
    }
  }
  return out;
}

/**
 * `--flag` / `--flag=value` arguments. JuiceFS applies include/exclude rules in order, first match
 * wins (rsync-like), and a SampleJob keeps them in separate fields: every `--include` comes first,
 * then every `--exclude` (the useful "these, and nothing else" reading), then the other flags
 * sorted by name. Patterns keep their order within a field.
 */
export function syncFlagArgs(flags: SyncFlags): string[] {
  const args: string[] = [];
  const order = (f: string): string => (f === 'include' ? '0' : f === 'exclude' ? '1' : `2${f}`);
  for (const flag of Object.keys(flags).sort((a, b) => order(a).localeCompare(order(b)))) {
    const v = flags[flag];
    if (v === true) args.push(`--${flag}`);
    else if (v === false) continue;
    else if (Array.isArray(v)) for (const x of v) args.push(`--${flag}=${x}`);
    else args.push(`--${flag}=${v}`);
  }
  return args;
}
