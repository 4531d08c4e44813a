/**
 * The JuiceFS mount options of a SampleSet's volume, built deterministically (sorted by flag name)
 * from `spec.csi.juiceFSMountOptions` and `spec.cache.levels`:
 *  - cache-dir = the level paths joined by `:` (default `/var/cache/paddle-operator/<ns>/<name>`);
 *  - cache-size = the levels' cacheSize summed, in MiB (default 102400 MiB = 100 GiB — not the
 *    original's 1 EiB);
 *  - booleans become bare flags (`writeback`), false ones are left out;
 *  - `sub-dir` is JuiceFS's `subdir`;
 *  - only the flags of mount-flags.ts are accepted; every value is checked (no `,` — the CSI
 *    driver splits the option string on commas — no whitespace, no `..` in paths).
 */
import type { CacheLevel, SampleSet } from '../../api/sampleset.js';
import { SpecError } from '../cache-engine.js';
import { normalizeUserPath, PathSafetyError } from '../../runtime/path-safety.js';
import { DEFAULT_CACHE_ROOT, DEFAULT_CACHE_SIZE_MIB } from './constants.js';
import { formatMountOption, invalidMountOption, mountFlagName, MOUNT_OPTIONS } from './mount-flags.js';
import { namespaceOf } from './names.js';

/** Host paths that may never be a cache tier (they would be mounted read-write into the runtime pod). */
const FORBIDDEN_DIRS = ['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/log', '/var/run', '/var/cache', '/dev/shm', '/mnt'];
const FORBIDDEN_TREES = ['/proc', '/sys', '/etc', '/boot', '/root', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/var/lib/kubelet', '/var/lib/containerd', '/var/lib/docker', '/var/run', '/run'];

export interface JuiceFsMountConfig {
  /** `flag[=value]` entries sorted by flag name (the CSI mount options). */
  options: string[];
  /** Host cache directories in order ([] for `cache-dir=memory`). */
  cacheDirs: string[];
  /** The mount's cache-size value (MiB when numeric). */
  cacheSize: string;
}

function invalid(name: string, why: string): SpecError {
  return invalidMountOption(name, why);
}

/** The default host cache directory of a SampleSet. */
export function defaultCacheDir(s: SampleSet): string {
  return `${DEFAULT_CACHE_ROOT}/${namespaceOf(s)}/${s.metadata.name}`;
}

/** Validates one host cache directory (absolute, normalised, not a system directory). */
export function checkCacheDir(dir: string, where: string): string {
  if (!dir.startsWith('/')) throw new SpecError('InvalidCacheDir', `${where}: cache directory ${JSON.stringify(dir)} must be an absolute path`);
  if (/[\s,\0]/.test(dir)) throw new SpecError('InvalidCacheDir', `${where}: cache directory ${JSON.stringify(dir)} must not contain whitespace, ',' or NUL`);
  let rel: string;
  try {
    rel = normalizeUserPath(dir);
  } catch (err) {
    throw new SpecError('InvalidCacheDir', `${where}: ${(err as PathSafetyError).message}`);
  }
  const norm = `/${rel}`;
  if (FORBIDDEN_DIRS.includes(norm) || FORBIDDEN_TREES.some((t) => norm.startsWith(`${t}/`))) {
    throw new SpecError('InvalidCacheDir', `${where}: ${norm} is a system directory and cannot be a cache directory; use a dedicated directory such as /dev/shm/<dataset> or /mnt/ssd/<dataset>`);
  }
  return norm;
}

function splitDirs(paths: string, where: string): string[] {
  return paths.split(':').filter((p) => p !== '').map((p) => checkCacheDir(p, where));
}

function levelDirs(levels: CacheLevel[]): string[] {
  return levels.flatMap((l, i) => splitDirs(l.path ?? '', `cache.levels[${i}].path`));
}

/** Builds and validates the mount configuration of a SampleSet. Throws SpecError. */
export function buildMountConfig(s: SampleSet): JuiceFsMountConfig {
  const user = s.spec.csi?.juiceFSMountOptions ?? {};
  const flags = new Map<string, string>();
  let userCacheDir: string | undefined;
  let userCacheSize: string | undefined;
  for (const [name, value] of Object.entries(user)) {
    if (value === undefined || value === null) continue;
    if (name === 'cache-dir' || name === 'sub-dir') {
      if (typeof value !== 'string') throw invalid(name, 'must be a string');
      const maxLength = MOUNT_OPTIONS[name].maxLength ?? 4096;
      if (value.length > maxLength) throw invalid(name, `must be at most ${maxLength} characters`);
    }
    if (name === 'cache-dir') {
      userCacheDir = value as string;
      continue;
    }
    if (name === 'sub-dir') {
      const dir = value as string;
      if (/[\s,\0]/.test(dir)) throw invalid(name, "must not contain whitespace, ',' or NUL");
      let rel: string;
      try {
        rel = normalizeUserPath(dir);
      } catch (err) {
        throw invalid(name, (err as Error).message);
      }
      if (rel) flags.set(mountFlagName(name), rel);
      continue;
    }
    const formatted = formatMountOption(name, value);
    if (formatted === undefined) continue;
    if (name === 'cache-size') {
      userCacheSize = formatted;
      continue;
    }
    flags.set(mountFlagName(name), formatted);
  }

  const levels = s.spec.cache?.levels ?? [];
  let cacheDirs: string[];
  if (levels.length > 0) {
    cacheDirs = levelDirs(levels);
    if (cacheDirs.length === 0) throw new SpecError('InvalidCacheDir', 'cache.levels: no cache directory given');
  } else if (userCacheDir !== undefined) {
    cacheDirs = userCacheDir.trim() === 'memory' ? [] : splitDirs(userCacheDir, 'juiceFSMountOptions.cache-dir');
    if (userCacheDir.trim() !== 'memory' && cacheDirs.length === 0) throw new SpecError('InvalidCacheDir', 'juiceFSMountOptions.cache-dir: no cache directory given');
  } else {
    cacheDirs = [checkCacheDir(defaultCacheDir(s), 'default cache directory')];
  }
  const dupe = cacheDirs.find((d, i) => cacheDirs.indexOf(d) !== i);
  if (dupe) throw new SpecError('InvalidCacheDir', `cache directory ${dupe} is listed twice`);
  flags.set('cache-dir', cacheDirs.length ? cacheDirs.join(':') : 'memory');

  const levelSize = levels.reduce((sum, l) => sum + (typeof l.cacheSize === 'number' && l.cacheSize > 0 ? l.cacheSize : 0), 0);
  if (levels.some((l) => l.cacheSize !== undefined && (!Number.isInteger(l.cacheSize) || l.cacheSize < 0))) {
    throw new SpecError('InvalidCacheDir', 'cache.levels[].cacheSize must be a non-negative integer (MiB)');
  }
  const cacheSize = levelSize > 0 ? String(levelSize) : (userCacheSize ?? String(DEFAULT_CACHE_SIZE_MIB));
  flags.set('cache-size', cacheSize);

  const options = [...flags.keys()].sort().map((k) => (flags.get(k) === '' ? k : `${k}=${flags.get(k)}`));
  return { options, cacheDirs, cacheSize };
}

/** The comma-separated form the CSI driver reads from `volumeAttributes.mountOptions`. */
export function mountOptionsString(cfg: JuiceFsMountConfig): string {
  return cfg.options.join(',');
}

/** Parses a mount options string back into flag → value ('' for bare flags); for tests and the harness. */
export function parseMountOptions(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) out.set(part, '');
    else out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}
