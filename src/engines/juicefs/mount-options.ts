/**
 * The JuiceFS mount options of a SampleSet's volume, built deterministically (sorted by flag name)
 * from `spec.csi.juiceFSMountOptions` and `spec.cache.levels`:
 *  - cache-dir = the SampleSet's own directories for the level paths, joined by `:` (see
 *    placeCacheDir: every path must lie under a cache root the cluster admin configured on the
 *    operator, and becomes `<root>/<namespace>_<name>[/<rest>]`; default `<first root>/<ns>_<name>`);
 *  - cache-size = the levels' cacheSize summed, in MiB (default 102400 MiB = 100 GiB — not the
 *    original's 1 EiB);
 *  - the engine's DEFAULT_MOUNT_OPTIONS (constants.ts) where the SampleSet does not set them;
 *  - booleans become bare flags (`writeback`), false ones are left out;
 *  - `sub-dir` is JuiceFS's `subdir`;
 *  - only the flags of mount-flags.ts are accepted; every value is checked (no `,` — the CSI
 *    driver splits the option string on commas — no whitespace, no `..` in paths).
 */
import type { CacheLevel, SampleSet } from '../../api/sampleset.js';
import { SpecError } from '../cache-engine.js';
import path from 'node:path';
import { isInside, normalizeUserPath, PathSafetyError } from '../toolkit/path-safety.js';
import { DEFAULT_CACHE_SIZE_MIB, DEFAULT_MOUNT_OPTIONS } from './constants.js';
import { DEFAULT_CACHE_ROOTS, FORBIDDEN_DIRS, FORBIDDEN_TREES } from '../toolkit/cache-roots.js';
import { formatMountOption, invalidMountOption, mountFlagName, MOUNT_OPTIONS } from './mount-flags.js';
import { namespaceOf } from './names.js';

export interface JuiceFsMountConfig {
  /** `flag[=value]` entries sorted by flag name (the CSI mount options). */
  options: string[];
  /** This SampleSet's own host cache directories in order ([] for `cache-dir=memory`). */
  cacheDirs: string[];
  /** The same directories as the user declared them (normalised), parallel to cacheDirs. */
  declaredCacheDirs: string[];
  /** The mount's cache-size value (MiB when numeric). */
  cacheSize: string;
}

function invalid(name: string, why: string): SpecError {
  return invalidMountOption(name, why);
}

/** The directory name a SampleSet gets under each cache root: `<namespace>_<name>` (neither contains `_`). */
export function sampleSetCacheSubdir(s: SampleSet): string {
  return `${namespaceOf(s)}_${s.metadata.name}`;
}

/** The default host cache directory of a SampleSet: its own directory under the first root. */
export function defaultCacheDir(s: SampleSet, roots: string[] = DEFAULT_CACHE_ROOTS): string {
  return `${roots[0]}/${sampleSetCacheSubdir(s)}`;
}

/** Validates one host cache directory (absolute, normalised, not a system directory) and returns it normalised. */
export function checkCacheDir(dir: string, where: string): string {
  if (!dir.startsWith('/'))
    throw new SpecError('InvalidCacheDir', `${where}: cache directory ${JSON.stringify(dir)} must be an absolute path`);
  if (/[\s,\0]/.test(dir))
    throw new SpecError('InvalidCacheDir', `${where}: cache directory ${JSON.stringify(dir)} must not contain whitespace, ',' or NUL`);
  let rel: string;
  try {
    rel = normalizeUserPath(dir);
  } catch (err) {
    throw new SpecError('InvalidCacheDir', `${where}: ${(err as PathSafetyError).message}`);
  }
  const norm = `/${rel}`;
  if (FORBIDDEN_DIRS.includes(norm) || FORBIDDEN_TREES.some((t) => norm.startsWith(`${t}/`))) {
    throw new SpecError('InvalidCacheDir', `${where}: ${norm} is a system directory and cannot be a cache directory`);
  }
  return norm;
}

/**
 * A user's cache directory → this SampleSet's own directory. The path must lie under one of
 * `roots` (the operator's --cache-root); `<root>/<rest>` becomes `<root>/<namespace>_<name>/<rest>`.
 * Every directory of a SampleSet therefore lies inside `<root>/<namespace>_<name>`, which no other
 * SampleSet's directory can (roots do not nest), so no two SampleSets share, see or clear each
 * other's blocks, whatever paths they write.
 */
export function placeCacheDir(dir: string, where: string, roots: string[], s: SampleSet): { declared: string; effective: string } {
  const declared = checkCacheDir(dir, where);
  const root = roots.filter((r) => isInside(r, declared)).sort((a, b) => b.length - a.length)[0];
  if (!root) {
    throw new SpecError(
      'InvalidCacheDir',
      `${where}: ${declared} is not under an allowed cache root (allowed: ${roots.join(', ')}); the cluster administrator sets them with the operator's --cache-root flag`,
    );
  }
  const rest = path.relative(root, declared);
  const effective = rest ? `${root}/${sampleSetCacheSubdir(s)}/${rest}` : `${root}/${sampleSetCacheSubdir(s)}`;
  return { declared, effective };
}

function splitDirs(paths: string, where: string, roots: string[], s: SampleSet): { declared: string; effective: string }[] {
  return paths
    .split(':')
    .filter((p) => p !== '')
    .map((p) => placeCacheDir(p, where, roots, s));
}

function levelDirs(levels: CacheLevel[], roots: string[], s: SampleSet): { declared: string; effective: string }[] {
  return levels.flatMap((l, i) => splitDirs(l.path ?? '', `cache.levels[${i}].path`, roots, s));
}

/** Builds and validates the mount configuration of a SampleSet (cache dirs under `roots`). Throws SpecError. */
export function buildMountConfig(s: SampleSet, roots: string[] = DEFAULT_CACHE_ROOTS): JuiceFsMountConfig {
  const given = s.spec.csi?.juiceFSMountOptions ?? {};
  const defaults = Object.entries(DEFAULT_MOUNT_OPTIONS).filter(([name]) => given[name] === undefined || given[name] === null);
  const user = { ...given, ...Object.fromEntries(defaults) };
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
  let dirs: { declared: string; effective: string }[];
  if (levels.length > 0) {
    dirs = levelDirs(levels, roots, s);
    if (dirs.length === 0) throw new SpecError('InvalidCacheDir', 'cache.levels: no cache directory given');
  } else if (userCacheDir !== undefined) {
    dirs = userCacheDir.trim() === 'memory' ? [] : splitDirs(userCacheDir, 'juiceFSMountOptions.cache-dir', roots, s);
    if (userCacheDir.trim() !== 'memory' && dirs.length === 0)
      throw new SpecError('InvalidCacheDir', 'juiceFSMountOptions.cache-dir: no cache directory given');
  } else {
    dirs = [placeCacheDir(roots[0], 'default cache directory', roots, s)];
  }
  const cacheDirs = dirs.map((d) => d.effective);
  const dupe = cacheDirs.find((d, i) => cacheDirs.indexOf(d) !== i);
  if (dupe) throw new SpecError('InvalidCacheDir', `cache directory ${dirs[cacheDirs.indexOf(dupe)].declared} is listed twice`);
  flags.set('cache-dir', cacheDirs.length ? cacheDirs.join(':') : 'memory');

  const levelSize = levels.reduce((sum, l) => sum + (typeof l.cacheSize === 'number' && l.cacheSize > 0 ? l.cacheSize : 0), 0);
  if (levels.some((l) => l.cacheSize !== undefined && (!Number.isInteger(l.cacheSize) || l.cacheSize < 0))) {
    throw new SpecError('InvalidCacheDir', 'cache.levels[].cacheSize must be a non-negative integer (MiB)');
  }
  const cacheSize = levelSize > 0 ? String(levelSize) : (userCacheSize ?? String(DEFAULT_CACHE_SIZE_MIB));
  flags.set('cache-size', cacheSize);

  const options = [...flags.keys()].sort().map((k) => (flags.get(k) === '' ? k : `${k}=${flags.get(k)}`));
  return { options, cacheDirs, declaredCacheDirs: dirs.map((d) => d.declared), cacheSize };
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
