/**
 * RFC 6902 JSON Patch between two JSON documents: the operations that turn `before` into `after`,
 * as the apiserver applies a mutating webhook's `patchType: JSONPatch`. Pure. Objects are compared
 * key by key (a key whose value is `undefined` counts as absent, as in JSON); an array that only
 * grew keeps its elements and gets `add`s at the end; anything else that differs is replaced.
 * Subtrees that are the same object are skipped without being walked.
 */

export type JsonPatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** One reference token of a JSON Pointer (RFC 6901): `~` becomes `~0`, `/` becomes `~1`. */
export function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Structural equality of JSON values (`undefined` members count as absent). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

function diffObjects(before: JsonObject, after: JsonObject, path: string, out: JsonPatchOperation[]): void {
  for (const key of Object.keys(before)) {
    if (before[key] !== undefined && after[key] === undefined) out.push({ op: 'remove', path: `${path}/${pointerToken(key)}` });
  }
  for (const key of Object.keys(after)) {
    const value = after[key];
    if (value === undefined) continue;
    const at = `${path}/${pointerToken(key)}`;
    if (before[key] === undefined) out.push({ op: 'add', path: at, value });
    else diffInto(before[key], value, at, out);
  }
}

function diffArrays(before: unknown[], after: unknown[], path: string, out: JsonPatchOperation[]): void {
  if (after.length < before.length) {
    out.push({ op: 'replace', path, value: after });
    return;
  }
  before.forEach((v, i) => diffInto(v, after[i], `${path}/${i}`, out));
  for (let i = before.length; i < after.length; i++) out.push({ op: 'add', path: `${path}/${i}`, value: after[i] });
}

function diffInto(before: unknown, after: unknown, path: string, out: JsonPatchOperation[]): void {
  if (before === after) return;
  if (isObject(before) && isObject(after)) diffObjects(before, after, path, out);
  else if (Array.isArray(before) && Array.isArray(after)) diffArrays(before, after, path, out);
  else if (!jsonEqual(before, after)) out.push({ op: 'replace', path, value: after });
}

/** The operations that turn `before` into `after` (empty when they are equal). */
export function jsonPatch(before: unknown, after: unknown): JsonPatchOperation[] {
  const out: JsonPatchOperation[] = [];
  diffInto(before, after, '', out);
  return out;
}
