/**
 * Just enough of Kubernetes resource quantities to add requests up for a PodGroup's minResources:
 * exact arithmetic in milli-units (BigInt), sub-milli values rounded up as Kubernetes does.
 */
import { compareText } from '../../api/compare-text.js';

const BINARY: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE]?)|[eE]([+-]?\d+))$/;

/** The quantity in milli-units (e.g. "1.5" → 1500n, "100m" → 100n, "1Ki" → 1024000n). */
export function parseQuantity(q: string | number): bigint {
  const s = String(q).trim();
  const m = QUANTITY.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`invalid quantity "${s}"`);
  const [, sign, whole, frac = '', binary, decimalSuffix, exponent] = m;
  // value = digits × 10^(-frac.length) × multiplier × 1000
  let num = BigInt((whole || '0') + frac);
  let den = 10n ** BigInt(frac.length);
  num *= 1000n;
  if (binary) num *= BINARY[binary];
  else {
    const exp = exponent !== undefined ? Number(exponent) : DECIMAL[decimalSuffix ?? ''];
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  const milli = (num + den - 1n) / den; // round up
  return sign === '-' ? -milli : milli;
}

/** Formats milli-units: whole numbers plainly ("2", "3221225472"), others with the m suffix ("1500m"). */
export function formatQuantity(milli: bigint): string {
  return milli % 1000n === 0n ? String(milli / 1000n) : `${milli}m`;
}

/** Adds resource lists (name → quantity). */
export function addResources(into: Map<string, bigint>, list: Record<string, string | number> | undefined, times = 1): void {
  for (const [name, q] of Object.entries(list ?? {})) {
    into.set(name, (into.get(name) ?? 0n) + parseQuantity(q) * BigInt(times));
  }
}

export function formatResources(sums: Map<string, bigint>): Record<string, string> {
  return Object.fromEntries([...sums.entries()].sort(([a], [b]) => compareText(a, b)).map(([k, v]) => [k, formatQuantity(v)]));
}
