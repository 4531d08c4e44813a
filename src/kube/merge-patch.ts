/** JSON equality, and turning "old → new" into a JSON merge patch (pure). */

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep equality of JSON values; `undefined` members count as absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * A JSON merge patch (RFC 7386) that turns `from` into `to`: changed members are set, members gone
 * from `to` become `null`, nested objects are diffed, arrays are replaced whole. Empty when equal.
 */
export function mergePatch(from: Record<string, unknown> | undefined, to: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const old = from ?? {};
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const o = old[k];
    if (jsonEqual(o, v)) continue;
    out[k] = isPlainObject(v) && isPlainObject(o) ? mergePatch(o, v) : v;
  }
  for (const [k, v] of Object.entries(old)) {
    if (v !== undefined && (to[k] === undefined || !(k in to))) out[k] = null;
  }
  return out;
}
