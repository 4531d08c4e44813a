// An RFC 6902 applier (add, remove, replace) written from the RFC, independent of the builder under
// test: what the apiserver does with a webhook's JSONPatch, strict about missing parents and indices.

export interface Operation {
  op: string;
  path: string;
  value?: unknown;
}

function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`bad pointer ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Applies `ops` to a deep copy of `doc` and returns it; throws where the apiserver would refuse. */
export function applyJsonPatch(doc: unknown, ops: readonly Operation[]): unknown {
  let root = structuredClone(doc);
  for (const op of ops) {
    const path = tokens(op.path);
    if (path.length === 0) {
      if (op.op === 'remove') throw new Error('cannot remove the root');
      root = structuredClone(op.value);
      continue;
    }
    let parent = root as Record<string, unknown> | unknown[];
    for (const t of path.slice(0, -1)) {
      const next = Array.isArray(parent) ? parent[Number(t)] : parent[t];
      if (typeof next !== 'object' || next === null) throw new Error(`${op.op} ${op.path}: missing parent at ${t}`);
      parent = next as Record<string, unknown> | unknown[];
    }
    const last = path[path.length - 1];
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length || (op.op !== 'add' && i >= parent.length))
        throw new Error(`${op.op} ${op.path}: index out of range`);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else if (op.op === 'replace') parent[i] = structuredClone(op.value);
      else throw new Error(`unsupported op ${op.op}`);
    } else {
      if (op.op !== 'add' && !(last in parent)) throw new Error(`${op.op} ${op.path}: no such member`);
      if (op.op === 'add' || op.op === 'replace') parent[last] = structuredClone(op.value);
      else if (op.op === 'remove') delete parent[last];
      else throw new Error(`unsupported op ${op.op}`);
    }
  }
  return root;
}
