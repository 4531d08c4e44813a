/**
 * Orders strings by their UTF-16 code units, as Go's sort of strings does: the same result on every
 * machine and locale. `localeCompare` would also make the process load ICU's collation tables
 * (about 2 MiB of its resident memory) for names that are ASCII anyway.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
