// Confidence intervals for probe accuracies, so a report can refuse to name a winner it cannot tell.
//   - Wilson score interval for a binomial proportion (k hits of n independent trials);
//   - a percentile bootstrap that resamples GROUPS (utterances), for rows that are not independent:
//     the frames of one utterance, or overlapping windows of one utterance, are correlated, so a
//     binomial interval over rows would be too narrow.
// A probe reports the wider of the two (accuracyInterval). Browser-safe, deterministic (seeded).
import { Rng } from './data/rng.ts';

export interface Interval {
  lo: number;
  hi: number;
}

/** z of a two-sided 95 % normal interval. */
export const Z95 = 1.959963984540054;

/** Wilson score interval of k successes in n trials (two-sided, z = Z95 by default). */
export function wilsonInterval(k: number, n: number, z = Z95): Interval {
  if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(k) && k >= 0 && k <= n)) throw new RangeError(`wilsonInterval: need integers 0 ≤ k ≤ n, n ≥ 1, got k = ${k}, n = ${n}`);
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/**
 * 95 % percentile bootstrap of the accuracy mean(correct) when rows come in groups: each replicate
 * draws as many groups as there are, with replacement, and pools their rows. `groups[i]` is row i's
 * group id (any integers). With a single group the interval is the point itself (nothing to resample).
 */
export function groupBootstrapInterval(correct: Uint8Array, groups: Uint32Array, replicates = 1000, seed = 0): Interval {
  if (correct.length !== groups.length || correct.length === 0) throw new RangeError(`groupBootstrapInterval: need as many groups as rows (≥ 1), got ${groups.length} and ${correct.length}`);
  const ids = new Map<number, number>();
  const hits: number[] = [];
  const rows: number[] = [];
  for (let i = 0; i < correct.length; i++) {
    let j = ids.get(groups[i]!);
    if (j === undefined) { j = hits.length; ids.set(groups[i]!, j); hits.push(0); rows.push(0); }
    hits[j] += correct[i]!;
    rows[j]++;
  }
  const G = hits.length;
  const rng = new Rng(seed);
  const acc = new Float64Array(replicates);
  for (let r = 0; r < replicates; r++) {
    let h = 0, n = 0;
    for (let g = 0; g < G; g++) { const j = rng.int(G); h += hits[j]!; n += rows[j]!; }
    acc[r] = h / n;
  }
  acc.sort();
  return { lo: acc[Math.floor(0.025 * (replicates - 1))]!, hi: acc[Math.ceil(0.975 * (replicates - 1))]! };
}

/** The wider (union) of the Wilson interval over rows and the group bootstrap: the conservative one. */
export function accuracyInterval(correct: Uint8Array, groups: Uint32Array | null, seed = 0): Interval & { method: string } {
  let k = 0;
  for (const c of correct) k += c;
  const w = wilsonInterval(k, correct.length);
  if (!groups) return { ...w, method: 'wilson' };
  const b = groupBootstrapInterval(correct, groups, 1000, seed);
  return { lo: Math.min(w.lo, b.lo), hi: Math.max(w.hi, b.hi), method: 'wilson ∪ utterance bootstrap' };
}

/** a is above b with non-overlapping intervals. */
export function clearlyAbove(a: Interval, b: Interval): boolean {
  return a.lo > b.hi;
}
