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
import { compareText } from '../../api/compare-text.js';

type FlagKind = 'bool' | 'int' | 'string' | 'strings';

export interface SyncFlagDef {
  kind: FlagKind;
  /** int: the accepted range (default [0, SYNC_INT_MAX]). */
  min?: number;
  max?: number;
  /** string(s): longest value (default SYNC_STRING_MAX_LENGTH) and the pattern it must match (default NO_CONTROL_CHARS). */
  maxLength?: number;
  pattern?: RegExp;
}

/** Largest value of an integer flag without its own maximum (int32). */
export const SYNC_INT_MAX = 2147483647;
/** Longest string value of a flag without its own limit. */
export const SYNC_STRING_MAX_LENGTH = 1024;
/** Most patterns in `include` or `exclude`. */
export const MAX_SYNC_PATTERNS = 100;
/** Any text without control characters (a value is one argv element: no NUL, no line breaks). */
// eslint-disable-next-line no-control-regex
export const NO_CONTROL_CHARS = /^[^\x00-\x1f\x7f]*$/;
const SIZE = /^[0-9]+([.][0-9]+)?[KMGTPEkmgtpe]?[iI]?[bB]?$/;
const AGE = /^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h|d)?)+$/;
const TIME = /^[0-9: T.+-]+$/;

export const SYNC_FLAGS: Record<string, SyncFlagDef> = {
  // selection
  start: { kind: 'string' },
  end: { kind: 'string' },
  exclude: { kind: 'strings' },
  include: { kind: 'strings' },
  'match-full-path': { kind: 'bool' },
  'max-size': { kind: 'string', maxLength: 32, pattern: SIZE },
  'min-size': { kind: 'string', maxLength: 32, pattern: SIZE },
  'max-age': { kind: 'string', maxLength: 32, pattern: AGE },
  'min-age': { kind: 'string', maxLength: 32, pattern: AGE },
  'start-time': { kind: 'string', maxLength: 64, pattern: TIME },
  'end-time': { kind: 'string', maxLength: 64, pattern: TIME },
  limit: { kind: 'int' },
  update: { kind: 'bool' },
  'force-update': { kind: 'bool' },
  existing: { kind: 'bool' },
  'ignore-existing': { kind: 'bool' },
  // action
  dirs: { kind: 'bool' },
  perms: { kind: 'bool' },
  links: { kind: 'bool' },
  inplace: { kind: 'bool' },
  'delete-src': { kind: 'bool' },
  'delete-dst': { kind: 'bool' },
  'check-all': { kind: 'bool' },
  'check-new': { kind: 'bool' },
  'check-change': { kind: 'bool' },
  'max-failure': { kind: 'int' },
  dry: { kind: 'bool' },
  // performance
  threads: { kind: 'int', min: 1, max: 1024 },
  'list-threads': { kind: 'int', min: 1, max: 1024 },
  'list-depth': { kind: 'int', min: 1, max: 64 },
  'no-https': { kind: 'bool' },
  'storage-class': { kind: 'string', maxLength: 64, pattern: /^[A-Za-z0-9_-]{1,64}$/ },
  bwlimit: { kind: 'int' },
};

/** The accepted range of an integer flag. */
export function syncIntRange(def: SyncFlagDef): { min: number; max: number } {
  return { min: def.min ?? 0, max: def.max ?? SYNC_INT_MAX };
}

/** Accepted for compatibility with the original's SyncJobOptions, then dropped. */
export const IGNORED_SYNC_FLAGS = ['http-port'];

export type SyncFlags = Record<string, string | number | boolean | string[]>;

function bad(flag: string, why: string): SpecError {
  return new SpecError('InvalidSyncOption', `syncOptions.${flag}: ${why}`);
}

function checkString(flag: string, def: SyncFlagDef, v: unknown): string {
  if (typeof v !== 'string') throw bad(flag, 'must be a string');
  const maxLength = def.maxLength ?? SYNC_STRING_MAX_LENGTH;
  if (v.length === 0 || v.length > maxLength || !NO_CONTROL_CHARS.test(v))
    throw bad(flag, `must be 1-${maxLength} characters without control characters`);
  if (def.pattern && !def.pattern.test(v)) throw bad(flag, `has an invalid value ${JSON.stringify(v)}`);
  return v;
}

/** Validates sync flags; returns the clean set (false booleans and ignored flags removed). */
export function validateSyncFlags(input: Record<string, unknown>): SyncFlags {
  const out: SyncFlags = {};
  for (const [flag, v] of Object.entries(input)) {
    if (v === undefined || v === null) continue;
    if (IGNORED_SYNC_FLAGS.includes(flag)) continue;
    const def = Object.hasOwn(SYNC_FLAGS, flag) ? SYNC_FLAGS[flag] : undefined;
    if (!def) throw bad(flag, `is not a supported juicefs sync option (supported: ${Object.keys(SYNC_FLAGS).sort().join(', ')})`);
    switch (def.kind) {
      case 'bool':
        if (typeof v !== 'boolean') throw bad(flag, 'must be true or false');
        if (v) out[flag] = true;
        break;
      case 'int': {
        const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
        const { min, max } = syncIntRange(def);
        if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw bad(flag, `must be an integer in [${min}, ${max}]`);
        out[flag] = n;
        break;
      }
      case 'string':
        out[flag] = checkString(flag, def, v);
        break;
      case 'strings': {
        const list = Array.isArray(v) ? v : [v];
        if (list.length > MAX_SYNC_PATTERNS) throw bad(flag, `at most ${MAX_SYNC_PATTERNS} patterns`);
        out[flag] = list.map((x) => checkString(flag, def, x));
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
  for (const flag of Object.keys(flags).sort((a, b) => compareText(order(a), order(b)))) {
    const v = flags[flag];
    if (v === true) args.push(`--${flag}`);
    else if (v === false) continue;
    else if (Array.isArray(v)) for (const x of v) args.push(`--${flag}=${x}`);
    else args.push(`--${flag}=${v}`);
  }
  return args;
}
