/**
 * Warmup sharding across the P cache pods: every pod lists the same files, sorts them
 * the same way and keeps its own slice — no coordination files, and a restarted pod redoes exactly
 * its slice.
 *  - `sequence`: the file at position k of the sorted list belongs to shard k mod P;
 *  - `random`: a file belongs to shard FNV-1a-32(relative path) mod P — stable across runs and
 *    pods, independent of which other files exist.
 * Both split the bytes unevenly only as far as file sizes force: test/bench/data-path.ts's 510 MiB
 * of mixed sizes over 2 shards is 279/230 MiB by sequence and 286/224 MiB at random, so `sequence`
 * stays the default.
 */
import { MAX_WARMUP_SHARDS } from '../../api/runtime-protocol.js';

export type ShardStrategy = 'sequence' | 'random';

/** Most shards a warmup may be split into = most partitions of a SampleSet (the CRD's maximum). */
export const MAX_SHARDS = MAX_WARMUP_SHARDS;

/** True when `shard` of `shards` names a shard that can exist. */
export function validShard(shard: number, shards: number): boolean {
  return Number.isInteger(shards) && shards >= 1 && shards <= MAX_SHARDS && Number.isInteger(shard) && shard >= 0 && shard < shards;
}

/** 32-bit FNV-1a over the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Byte-wise comparison of UTF-8 strings (locale-independent, the same on every pod). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Sorted, de-duplicated copy of `paths` (the order every pod agrees on). */
export function canonicalOrder(paths: Iterable<string>): string[] {
  return [...new Set(paths)].sort(compareBytes);
}

/** The shard a file belongs to; `index` is its position in the canonical order. */
export function shardOf(relPath: string, index: number, shards: number, strategy: ShardStrategy): number {
  if (shards <= 1) return 0;
  return strategy === 'random' ? fnv1a32(relPath) % shards : index % shards;
}

/** This shard's files, in canonical order. `items` must already be in canonical order. */
export function selectShard<T>(items: T[], key: (item: T) => string, shard: number, shards: number, strategy: ShardStrategy): T[] {
  if (!validShard(shard, shards)) throw new Error(`invalid shard ${shard} of ${shards} (at most ${MAX_SHARDS} shards)`);
  return items.filter((item, i) => shardOf(key(item), i, shards, strategy) === shard);
}
