// What the real-node suite needs besides its world (test/harness/real-node-world.ts): readers for
// the JuiceFS mount's `.stats` counters, and a dataset.

/** Counters of a JuiceFS mount's `.stats` file (Prometheus text; labelled series keep their labels in the key). */
export function parseMountStats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)$/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** Bytes a mount read from the object store (0 before its first GET: the series appears on first use). */
export function objectGetBytes(stats: Map<string, number>): number {
  return stats.get('juicefs_object_request_data_bytes_GET') ?? 0;
}

/** Bytes a mount served from its block cache. */
export function cacheHitBytes(stats: Map<string, number>): number {
  return stats.get('juicefs_blockcache_hit_bytes') ?? 0;
}

/** A dataset of mixed sizes (key → bytes), deterministic. */
export function datasetObjects(): Record<string, number> {
  const objects: Record<string, number> = {};
  for (let i = 0; i < 120; i++) objects[`train/part-${i % 4}/sample-${String(i).padStart(4, '0')}.bin`] = 2048 + ((i * 7919) % 65536);
  for (let i = 0; i < 4; i++) objects[`large/shard-${i}.bin`] = (4 + 2 * i) * 1024 * 1024;
  objects['README.txt'] = 300;
  return objects;
}
