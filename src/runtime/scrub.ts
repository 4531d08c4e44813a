/**
 * Removing secrets from text that leaves the runtime (log lines, job messages): every known secret
 * value (in plain and URL-encoded form) and the password part of any `scheme://user:pass@` URI.
 */

const MASK = '****';

/** Values shorter than this are not scrubbed as free text (they would mangle ordinary words). */
const MIN_SECRET_LENGTH = 3;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `scheme://user:password@host` → `scheme://user:****@host`. */
export function maskUriPasswords(text: string): string {
  return text.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/g, `$1$2:${MASK}@`);
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
    const masked = maskUriPasswords(text);
    return re ? masked.replace(re, MASK) : masked;
  };
}
