/**
 * One copy of each repeated string in the caches.
 *
 * Every object that arrives is parsed from its own JSON, so the namespace, the API version, label
 * values, condition types, reasons and messages, owner names and timestamps are new strings each
 * time: with 1,000 SampleSets and their runtime objects, 5 MiB of the heap were such copies.
 * V8 keeps a table of internalized strings (one copy each, dropped when nothing uses it), and
 * using a string as a property key internalizes it: the original becomes a reference to the
 * table's copy, and the garbage collector then points every holder at that copy. So a string is
 * shared by storing it as a key of a scratch object and deleting it again; no table of our own
 * holds anything, and strings of deleted objects go away with them.
 */

/** Longer strings (certificates, tokens, encoded data) are rarely repeated: left alone. */
const LONGEST = 128;

const scratch: Record<string, 0> = Object.create(null) as Record<string, 0>;

/** `s`, internalized: equal strings passed here end up as one string in the heap. */
export function shared(s: string): string {
  if (s.length > LONGEST) return s;
  scratch[s] = 0;
  delete scratch[s];
  return s;
}

/** Internalizes every string value of a parsed object (in place) and returns it. */
export function withSharedStrings<T>(o: T): T {
  if (Array.isArray(o)) {
    for (const v of o)
      if (v !== null && typeof v === 'object') withSharedStrings(v);
      else if (typeof v === 'string') shared(v);
  } else if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o as object)) {
      if (typeof v === 'string') shared(v);
      else if (v !== null && typeof v === 'object') withSharedStrings(v);
    }
  }
  return o;
}
