/**
 * Removing secrets from text that leaves the runtime or the operator (log lines, job messages,
 * status, Events): every known secret value (in plain and URL-encoded form) and the whole userinfo
 * of any `scheme://userinfo@host` URI.
 */

const MASK = '****';

/** Values shorter than this are not scrubbed as free text (they would mangle ordinary words). */
const MIN_SECRET_LENGTH = 3;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `scheme://<anything>@host` → `scheme://****@host`. The userinfo is everything from `://` to the
 * LAST `@` (or percent-encoded `%40`, `%2540`, …) before the next whitespace: secret keys contain
 * `/`, `:` and `@`, so no character class short of "not whitespace" is safe. Masking too much of
 * an odd token is acceptable; leaving a fragment of a key is not.
 */
const URI_USERINFO = /([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)\S*(?:@|%(?:25)*40)/g;

export function maskUriUserinfo(text: string): string {
  return text.replace(URI_USERINFO, `$1${MASK}@`);
}

/** A copy of `value` with maskUriUserinfo applied to every string in it (for status patches). */
export function maskUriUserinfoDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return maskUriUserinfo(value) as T;
  if (depth > 16 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return (value as unknown[]).map((v) => maskUriUserinfoDeep(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskUriUserinfoDeep(v, depth + 1);
  return out as T;
}

/** A function that replaces every one of `secrets` (and their URL-encoded forms) in a string. */
export function secretScrubber(secrets: Iterable<string | undefined>): (text: string) => string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s || s.length < MIN_SECRET_LENGTH) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(encodeURI(s));
  }
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  const re = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : undefined;
  return (text: string) => {
    const scrubbed = re ? text.replace(re, MASK) : text;
    return maskUriUserinfo(scrubbed);
  };
}
