/**
 * Cache roots: the host directories a cluster admin lets cache engines put cache tiers under
 * (`--cache-root`). Engine-neutral: the operator's configuration checks them, and every engine
 * places a SampleSet's tiers below one of them.
 */
import { isInside, normalizeUserPath } from './path-safety.js';

/**
 * Host directories cache tiers may live under unless the operator is started with --cache-root:
 * a disk one and a memory (tmpfs) one. Each SampleSet gets `<root>/<namespace>_<name>`.
 */
export const DEFAULT_CACHE_ROOTS = ['/var/lib/paddle-operator/cache', '/dev/shm/paddle-operator'];

/** Host paths that may never be a cache tier (they would be mounted read-write into the runtime pod). */
export const FORBIDDEN_DIRS = [
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib64',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/sys',
  '/tmp',
  '/usr',
  '/var',
  '/var/lib',
  '/var/log',
  '/var/run',
  '/var/cache',
  '/dev/shm',
  '/mnt',
];
export const FORBIDDEN_TREES = [
  '/proc',
  '/sys',
  '/etc',
  '/boot',
  '/root',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib64',
  '/var/lib/kubelet',
  '/var/lib/containerd',
  '/var/lib/docker',
  '/var/run',
  '/run',
];

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
    if (clash)
      throw new Error(
        clash === norm ? `cache root ${norm} is given twice` : `cache roots ${clash} and ${norm} are nested; give only one of them`,
      );
    out.push(norm);
  }
  return out;
}
