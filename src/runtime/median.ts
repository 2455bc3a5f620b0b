// The one median of the runtime and of bench/ (timings, peers). Not part of the package's API:
// src/runtime/index.ts does not re-export it.
/** Median; the mean of the middle two for an even count. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
