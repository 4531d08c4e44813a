/**
 * The JuiceFS mount options of a SampleSet's volume, built deterministically (sorted by flag name)
 * from `spec.csi.juiceFSMountOptions` and `spec.cache.levels`:
 *  - cache-dir = the SampleSet's own directories for the level paths, joined by `:` (see
 *    placeCacheDir: every path must lie under a cache root the cluster admin configured on the
 *    operator, and becomes `<root>/<namespace>_<name>[/<rest>]`; default `<first root>/<ns>_<name>`);
 *  - cache-size = the levels' cacheSize summed, in MiB (default 102400 MiB = 100 GiB — not the
 *    original's 1 EiB);
 *  - booleans become bare flags (`writeback`), false ones are left out;
 *  - `sub-dir` is JuiceFS's `subdir`;
 *  - only known, safe flags are accepted; every value is checked (no `,` — the CSI driver splits
 *    the option string on commas — no whitespace, no `..` in paths).
 */
import type { CacheLevel, SampleSet } from '../../api/sampleset.js';
import { SpecError } from '../cache-engine.js';
import path from 'node:path';
import { isInside, normalizeUserPath, PathSafetyError } from '../../runtime/path-safety.js';
import { DEFAULT_CACHE_ROOTS, DEFAULT_CACHE_SIZE_MIB } from './constants.js';
import { namespaceOf } from './names.js';

type Kind = 'bool' | 'number' | 'duration' | 'size' | 'int' | 'string';

/** JuiceFS v1.3 mount flags a SampleSet may set, by CLI name, with the kind of value they take. */
const MOUNT_FLAGS: Record<string, { kind: Kind; pattern?: RegExp; check?: (v: string) => string | undefined }> = {
  // metadata cache
  'attr-cache': { kind: 'duration' },
  'entry-cache': { kind: 'duration' },
  'dir-entry-cache': { kind: 'duration' },
  'negative-entry-cache': { kind: 'duration' },
  'open-cache': { kind: 'duration' },
  'open-cache-limit': { kind: 'int' },
  'readdir-cache': { kind: 'bool' },
  // data cache
  'cache-size': { kind: 'size' },
  'free-space-ratio': { kind: 'string', check: checkRatio },
  'cache-partial-only': { kind: 'bool' },
  'cache-large-write': { kind: 'bool' },
  'cache-items': { kind: 'int' },
  'cache-mode': { kind: 'string', pattern: /^0?[0-7]{3}$/ },
  'cache-eviction': { kind: 'string', pattern: /^(none|2-random)$/ },
  'cache-expire': { kind: 'duration' },
  'cache-scan-interval': { kind: 'duration' },
  'verify-cache-checksum': { kind: 'string', pattern: /^(none|full|shrink|extend)$/ },
  'buffer-size': { kind: 'size' },
  'prefetch': { kind: 'int' },
  'max-readahead': { kind: 'size' },
  'writeback': { kind: 'bool' },
  'upload-delay': { kind: 'duration' },
  'upload-hours': { kind: 'string', pattern: /^\d{1,2}[-,]\d{1,2}$/ },
  // object storage
  'get-timeout': { kind: 'duration' },
  'put-timeout': { kind: 'duration' },
  'io-retries': { kind: 'int' },
  'max-uploads': { kind: 'int' },
  'max-downloads': { kind: 'int' },
  'max-deletes': { kind: 'int' },
  'max-stage-write': { kind: 'int' },
  'upload-limit': { kind: 'size' },
  'download-limit': { kind: 'size' },
  'storage-class': { kind: 'string', pattern: /^[A-Za-z0-9_-]{1,64}$/ },
  'check-storage': { kind: 'bool' },
  // meta / FUSE
  'backup-meta': { kind: 'duration' },
  'backup-skip-trash': { kind: 'bool' },
  'heartbeat': { kind: 'duration' },
  'read-only': { kind: 'bool' },
  'no-bgjob': { kind: 'bool' },
  'atime-mode': { kind: 'string', pattern: /^(noatime|relatime|strictatime)$/ },
  'skip-dir-nlink': { kind: 'int' },
  'skip-dir-mtime': { kind: 'duration' },
  'sort-dir': { kind: 'bool' },
  'fast-statfs': { kind: 'bool' },
  'enable-xattr': { kind: 'bool' },
  'enable-cap': { kind: 'bool' },
  'enable-selinux': { kind: 'bool' },
  'enable-ioctl': { kind: 'bool' },
  'non-default-permission': { kind: 'bool' },
  'max-fuse-io': { kind: 'size' },
  'umask': { kind: 'string', pattern: /^0?[0-7]{3}$/ },
  'root-squash': { kind: 'string', pattern: /^\d{1,10}(:\d{1,10})?$/ },
  'all-squash': { kind: 'string', pattern: /^\d{1,10}(:\d{1,10})?$/ },
  // metrics
  'metrics': { kind: 'string', pattern: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/ },
  'custom-labels': { kind: 'string', pattern: /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_.-]*(;[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_.-]*)*$/ },
  'no-usage-report': { kind: 'bool' },
  // handled specially
  'cache-dir': { kind: 'string' },
  'subdir': { kind: 'string' },
};

/** Our API's names that differ from the JuiceFS CLI's. */
const ALIASES: Record<string, string> = { 'sub-dir': 'subdir' };

/** Host paths that may never be a cache tier (they would be mounted read-write into the runtime pod). */
const FORBIDDEN_DIRS = ['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc', '/root', '/run', '/sbin', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/log', '/var/run', '/var/cache', '/dev/shm', '/mnt'];
const FORBIDDEN_TREES = ['/proc', '/sys', '/etc', '/boot', '/root', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/var/lib/kubelet', '/var/lib/containerd', '/var/lib/docker', '/var/run', '/run'];

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

function checkRatio(v: string): string | undefined {
  if (!/^\d*\.?\d+$/.test(v)) return 'must be a decimal number';
  const r = Number(v);
  if (!(r >= 0 && r < 1)) return 'must be in [0, 1)';
  return undefined;
}

function invalid(flag: string, why: string): SpecError {
  return new SpecError('InvalidMountOption', `juiceFSMountOptions.${flag}: ${why}`);
}

/**
 * Validates the cache roots an operator is configured with: absolute, normalised, no `..`, no
 * `:`/`,`/whitespace (they end up in the `cache-dir` mount option), not `/`, not a system
 * directory, and not nested in one another (a SampleSet's directory under one root must never lie
 * inside another root). Returns them normalised; throws Error naming the problem.
 */
export function checkCacheRoots(roots: string[]): string[] {
  if (roots.length === 0) throw new Error('at least one cache root is required');
  const out: string[] = [];
  for (const r of roots) {
    if (!r.startsWith('/')) throw new Error(`cache root ${JSON.stringify(r)} must be an absolute path`);
    if (/[\s,:\0]/.test(r)) throw new Error(`cache root ${JSON.stringify(r)} must not contain whitespace, ',' or ':'`);
    let rel: string;
    try {
      rel = normalizeUserPath(r);
    } catch (err) {
      throw new Error(`cache root ${JSON.stringify(r)}: ${(err as Error).message}`);
    }
    const norm = `/${rel}`;
    if (rel === '' || FORBIDDEN_DIRS.includes(norm) || FORBIDDEN_TREES.some((t) => isInside(t, norm))) {
      throw new Error(`cache root ${norm} is a system directory; use a dedicated one such as ${DEFAULT_CACHE_ROOTS.join(' or ')}`);
    }
    const clash = out.find((o) => isInside(o, norm) || isInside(norm, o));
    if (clash) throw new Error(clash === norm ? `cache root ${norm} is given twice` : `cache roots ${clash} and ${norm} are nested; give only one of them`);
    out.push(norm);
  }
  return out;
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

function formatValue(flag: string, kind: Kind, value: string | number | boolean): string | undefined {
  if (kind === 'bool') {
    if (typeof value !== 'boolean') throw invalid(flag, 'must be true or false');
    return value ? '' : undefined;
  }
  if (typeof value === 'boolean') throw invalid(flag, 'must not be a boolean');
  const s = String(value).trim();
  if (s === '') throw invalid(flag, 'must not be empty');
  if (/[\s,=\0]/.test(s)) throw invalid(flag, "must not contain whitespace, ',' or '='");
  switch (kind) {
    case 'int':
      if (!/^\d+$/.test(s)) throw invalid(flag, 'must be a non-negative integer');
      break;
    case 'number':
    case 'duration':
      // JuiceFS takes seconds as a bare number, or a Go-style duration (1h30m, 500ms, 2d).
      if (!/^(\d+(\.\d+)?|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+)$/.test(s)) throw invalid(flag, 'must be a number of seconds or a duration such as 90s, 1h');
      break;
    case 'size':
      // A bare number is MiB; JuiceFS also takes a one-letter binary unit (K, M, G, T, P, E).
      if (!/^\d+(\.\d+)?[KMGTPE]?$/i.test(s)) throw invalid(flag, 'must be a number (MiB) or a size with a K/M/G/T/P/E suffix');
      break;
    case 'string':
      break;
  }
  return s;
}

/** Builds and validates the mount configuration of a SampleSet (cache dirs under `roots`). Throws SpecError. */
export function buildMountConfig(s: SampleSet, roots: string[] = DEFAULT_CACHE_ROOTS): JuiceFsMountConfig {
  const user = s.spec.csi?.juiceFSMountOptions ?? {};
  const flags = new Map<string, string>();
  let userCacheDir: string | undefined;
  let userCacheSize: string | undefined;
  for (const [rawKey, value] of Object.entries(user)) {
    if (value === undefined || value === null) continue;
    const flag = ALIASES[rawKey] ?? rawKey;
    const def = MOUNT_FLAGS[flag];
    if (!def) throw invalid(rawKey, `is not a supported JuiceFS mount option (supported: ${[...Object.keys(MOUNT_FLAGS).filter((k) => k !== 'subdir'), 'sub-dir'].sort().join(', ')})`);
    if (flag === 'cache-dir') {
      if (typeof value !== 'string') throw invalid(rawKey, 'must be a string');
      userCacheDir = value;
      continue;
    }
    if (flag === 'subdir') {
      if (typeof value !== 'string') throw invalid(rawKey, 'must be a string');
      if (/[\s,\0]/.test(value)) throw invalid(rawKey, "must not contain whitespace, ',' or NUL");
      let rel: string;
      try {
        rel = normalizeUserPath(value);
      } catch (err) {
        throw invalid(rawKey, (err as Error).message);
      }
      if (rel) flags.set('subdir', rel);
      continue;
    }
    const formatted = formatValue(rawKey, def.kind, value);
    if (formatted === undefined) continue;
    if (def.pattern && !def.pattern.test(formatted)) throw invalid(rawKey, `has an invalid value ${JSON.stringify(formatted)}`);
    const problem = def.check?.(formatted);
    if (problem) throw invalid(rawKey, problem);
    if (flag === 'cache-size') {
      userCacheSize = formatted;
      continue;
    }
    flags.set(flag, formatted);
  }

  const levels = s.spec.cache?.levels ?? [];
  let dirs: { declared: string; effective: string }[];
  if (levels.length > 0) {
    dirs = levelDirs(levels, roots, s);
    if (dirs.length === 0) throw new SpecError('InvalidCacheDir', 'cache.levels: no cache directory given');
  } else if (userCacheDir !== undefined) {
    dirs = userCacheDir.trim() === 'memory' ? [] : splitDirs(userCacheDir, 'juiceFSMountOptions.cache-dir', roots, s);
    if (userCacheDir.trim() !== 'memory' && dirs.length === 0) throw new SpecError('InvalidCacheDir', 'juiceFSMountOptions.cache-dir: no cache directory given');
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
