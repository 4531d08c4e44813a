/**
 * Human-readable numbers for status and messages (SampleSet statistics, sync progress, what a
 * runtime job did), matching the original (go-humanize `IBytes`,
 * comma-grouped counts, one-decimal percentages). Pure functions.
 */

const IEC_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/**
 * Bytes as go-humanize `IBytes` prints them: `<10 B` as an integer (`7 B`), otherwise scaled to the
 * largest power of 1024 not above the value, rounded to one decimal, printed with one decimal below
 * 10 (`4.2 GiB`, `4.0 KiB`) and none from 10 up (`58 MiB`, `200 B`, `1024 KiB` for 1 MiB − 1 B).
 * Negative or non-finite input counts as 0.
 */
export function formatBytes(bytes: number): string {
  const s = Number.isFinite(bytes) && bytes > 0 ? Math.floor(bytes) : 0;
  if (s < 10) return `${s} B`;
  let e = 0;
  let scale = 1;
  while (e < IEC_UNITS.length - 1 && s >= scale * 1024) {
    scale *= 1024;
    e++;
  }
  const val = Math.floor((s / scale) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${IEC_UNITS[e]}` : `${formatFixed0(val)} ${IEC_UNITS[e]}`;
}

/** Go's `%.0f` for a value with at most one decimal: halves round to even (12.5 → 12, 13.5 → 14). */
function formatFixed0(val: number): string {
  const tenths = Math.round(val * 10);
  const whole = Math.floor(tenths / 10);
  const frac = tenths - whole * 10;
  if (frac > 5 || (frac === 5 && whole % 2 === 1)) return String(whole + 1);
  return String(whole);
}

/** An integer with comma thousands separators: 128660 → `128,660`. */
export function formatCount(n: number): string {
  const v = Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  return String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * `part / whole` as a percentage with one decimal (`37.5%`), clamped to [0, 100]; `0.0%` when whole
 * is 0. Never rounds up to `100.0%` unless part ≥ whole (a nearly full cache shows `99.9%`).
 */
export function formatPercent(part: number, whole: number): string {
  if (!(whole > 0) || !(part > 0)) return '0.0%';
  if (part >= whole) return '100.0%';
  const s = ((part / whole) * 100).toFixed(1);
  return s === '100.0' ? '99.9%' : `${s}%`;
}
