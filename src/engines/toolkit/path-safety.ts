/**
 * Resolving user-supplied paths under a root (the dataset mount, a cache tier) without ever
 * leaving it: a `..` segment or NUL is rejected outright, a leading `/` means the
 * root, and symlinks are resolved with realpath so a link pointing outside the root is refused too.
 *
 * `normalizeUserPath` is pure (the controller uses it to validate SampleJob specs); the `resolve*`
 * functions touch the file system (the runtime uses them right before acting on a path).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export class PathSafetyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathSafetyError';
  }
}

/** Longest path we accept from a user (PATH_MAX on Linux). */
export const MAX_USER_PATH = 4096;

/**
 * Normalises a user path to a relative path under some root: `''` is the root itself.
 * `/train//a/./b/` → `train/a/b`. Rejects NUL, `..` segments and over-long input.
 */
export function normalizeUserPath(userPath: string): string {
  if (typeof userPath !== 'string') throw new PathSafetyError('path must be a string');
  if (userPath.length > MAX_USER_PATH) throw new PathSafetyError(`path is longer than ${MAX_USER_PATH} characters`);
  if (userPath.includes('\0')) throw new PathSafetyError('path contains a NUL character');
  const segments = userPath.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new PathSafetyError(`path ${JSON.stringify(userPath)} contains a '..' segment`);
  return segments.join('/');
}

/** True when `child` is `parent` or lies below it (both absolute and normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !path.isAbsolute(rel));
}

export interface ResolveOptions {
  /** Accept a path that resolves to the root itself (default true). */
  allowRoot?: boolean;
  /**
   * Do not follow the final component when it is a symlink: the result names the link itself
   * (for removing it). Its parent directory is still fully resolved and checked.
   */
  noFollowFinal?: boolean;
  /** The path must exist (default false: the deepest existing ancestor is checked instead). */
  mustExist?: boolean;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

async function lexists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
    throw err;
  }
}

/**
 * Realpath of `p`, or of its deepest existing ancestor with the missing tail appended. A dangling
 * symlink on the way (lstat finds it, realpath does not) is refused: where it points is unknowable
 * until something creates the target, which could be outside the root.
 */
async function realpathDeepest(p: string): Promise<{ real: string; exists: boolean }> {
  const tail: string[] = [];
  let cur = p;
  for (;;) {
    try {
      const real = await fs.realpath(cur);
      return { real: tail.length ? path.join(real, ...tail.reverse()) : real, exists: tail.length === 0 };
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      if (await lexists(cur)) throw new PathSafetyError(`${cur} is a dangling symlink`);
      const parent = path.dirname(cur);
      if (parent === cur) throw new PathSafetyError(`no part of ${p} exists`);
      tail.push(path.basename(cur));
      cur = parent;
    }
  }
}

/**
 * Resolves `userPath` (relative, or absolute meaning "from the root") under `root` and returns the
 * absolute, symlink-free path. Throws PathSafetyError when the path (or, for a path that does not
 * exist yet, its deepest existing ancestor) resolves outside the root.
 */
export async function resolveUnderRoot(root: string, userPath: string, opts: ResolveOptions = {}): Promise<string> {
  const rel = normalizeUserPath(userPath);
  const realRoot = await fs.realpath(root);
  if (rel === '') {
    if (opts.allowRoot === false) throw new PathSafetyError('the root itself may not be used here');
    return realRoot;
  }
  const joined = path.join(realRoot, rel);
  let result: string;
  let exists: boolean;
  if (opts.noFollowFinal) {
    const parent = await realpathDeepest(path.dirname(joined));
    if (!isInside(realRoot, parent.real)) throw new PathSafetyError(`${JSON.stringify(userPath)} resolves outside its root`);
    result = path.join(parent.real, path.basename(joined));
    exists = parent.exists && (await lexists(result));
  } else {
    const r = await realpathDeepest(joined);
    result = r.real;
    exists = r.exists;
  }
  if (!isInside(realRoot, result)) throw new PathSafetyError(`${JSON.stringify(userPath)} resolves outside its root`);
  if (opts.allowRoot === false && result === realRoot) throw new PathSafetyError(`${JSON.stringify(userPath)} is the root itself`);
  if (opts.mustExist && !exists) throw new PathSafetyError(`${JSON.stringify(userPath)} does not exist`);
  return result;
}

/** Like resolveUnderRoot, but returns undefined for a path that does not exist (still refusing escapes). */
export async function resolveExistingUnderRoot(
  root: string,
  userPath: string,
  opts: Omit<ResolveOptions, 'mustExist'> = {},
): Promise<string | undefined> {
  const p = await resolveUnderRoot(root, userPath, opts);
  return (await lexists(p)) ? p : undefined;
}
