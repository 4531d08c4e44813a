/** Turning a failed juicefs child into an error message a person can act on. */
import type { ChildResult } from '../toolkit/child-process.js';

/** The last error lines of a child's output, without juicefs's timestamp prefix and source suffix. */
export function errorLines(tail: string[]): string {
  const errs = tail.filter((l) => /<(ERROR|FATAL)>|error|fatal/i.test(l));
  const pick = (errs.length ? errs : tail).slice(-3);
  // Drop juicefs's `2026/01/01 00:00:00.000000 juicefs[123] <ERROR>: ` prefix and `[fn@file.go:1]` suffix.
  return pick.map((l) => l.replace(/^\S+ \S+ juicefs\[\d+\] <\w+>: /, '').replace(/\s*\[[^\]]*@[^\]]*\]\s*$/, '')).join('; ');
}

export function childFailure(what: string, r: ChildResult): Error {
  if (r.timedOut) return new Error(`${what} timed out`);
  const why = r.code !== null ? `exit code ${r.code}` : `signal ${r.signal}`;
  const detail = errorLines(r.tail);
  return new Error(`${what} failed (${why})${detail ? `: ${detail}` : ''}`);
}
