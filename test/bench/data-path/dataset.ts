// The data-path benchmark's dataset and its bookkeeping: a fixed, seeded mix of file sizes like a
// training set's (many small samples, some shards, a few packed archives), the order a training
// epoch reads them in, and how busy the machine was while something was measured.
import fs from 'node:fs';
import os from 'node:os';
import { seededUniform as seeded } from '../../harness/throttled-proxy.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface DatasetShape {
  /** Small samples, 4–64 KiB each. */
  small: number;
  /** Shards, 1–16 MiB each. */
  medium: number;
  /** Packed archives of 64 MiB. */
  large: number;
}

export const DEFAULT_SHAPE: DatasetShape = { small: 3000, medium: 30, large: 3 };

/** Object key → size in bytes; the same on every run. */
export function datasetObjects(shape: DatasetShape = DEFAULT_SHAPE): Record<string, number> {
  const r = seeded(17);
  const out: Record<string, number> = {};
  for (let i = 0; i < shape.small; i++) out[`train/${String(i % 30).padStart(2, '0')}/img-${i}.jpg`] = 4 * KiB + Math.floor(r() * 60 * KiB);
  for (let i = 0; i < shape.medium; i++) out[`shards/part-${i}.rec`] = 1 * MiB + Math.floor(r() * 15 * MiB);
  for (let i = 0; i < shape.large; i++) out[`packed/archive-${i}.tar`] = 64 * MiB;
  return out;
}

/** The keys in the order an epoch reads them: shuffled, seeded (a data loader shuffles its samples). */
export function epochOrder(keys: string[], seed = 5): string[] {
  const out = [...keys].sort();
  const r = seeded(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function describeShape(objects: Record<string, number>): string {
  const sizes = Object.values(objects);
  const count = (lo: number, hi: number): { n: number; bytes: number } => {
    const s = sizes.filter((x) => x >= lo && x < hi);
    return { n: s.length, bytes: s.reduce((a, b) => a + b, 0) };
  };
  const small = count(0, MiB);
  const medium = count(MiB, 64 * MiB);
  const large = count(64 * MiB, Infinity);
  const mib = (b: number): string => `${(b / MiB).toFixed(0)} MiB`;
  return (
    `${sizes.length} files, ${mib(sizes.reduce((a, b) => a + b, 0))}: ${small.n} × 4–64 KiB (${mib(small.bytes)}), ` +
    `${medium.n} × 1–16 MiB (${mib(medium.bytes)}), ${large.n} × 64 MiB (${mib(large.bytes)})`
  );
}

/** CPU time counters of the whole machine (all CPUs), from /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** How busy the machine's CPUs were between start() and stop(): 0..1 of all CPUs. */
export function cpuMeter(): { stop(): number } {
  const a = cpuTimes();
  return {
    stop(): number {
      const b = cpuTimes();
      return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
    },
  };
}

/** `load average 1.2 / 0.9 / 0.8 on 2 CPUs`. */
export function loadAverage(): string {
  const [a, b, c] = os.loadavg();
  return `load average ${a.toFixed(2)} / ${b.toFixed(2)} / ${c.toFixed(2)} (1/5/15 min) on ${os.cpus().length} CPUs`;
}

export const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The element whose key is the median (the lower middle one for an even count). */
export function medianBy<T>(xs: T[], key: (x: T) => number): T {
  const s = [...xs].sort((a, b) => key(a) - key(b));
  return s[Math.floor((s.length - 1) / 2)];
}
