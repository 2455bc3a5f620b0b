// Axis tick labels for the demo's charts, in a file of its own (no DOM, no uPlot) so it is unit-tested.

const MAX_DECIMALS = 10;

/** Decimals that write `step` exactly (0.25 → 2, 2e-5 → 5, 10 → 0): uPlot's increments are 1, 2, 2.5 and 5 × 10^n. */
function decimalsOf(step: number): number {
  if (!(step > 0) || !Number.isFinite(step)) return 0;
  for (let d = 0; d < MAX_DECIMALS; d++) if (Math.abs(Number(step.toFixed(d)) - step) <= step * 1e-9) return d;
  return MAX_DECIMALS;
}

/**
 * Labels of `ticks` (values × `scale`, then `suffix`) with the decimals the tick increment needs,
 * more if two labels would still read the same (10 at most).
 */
export function tickLabels(ticks: readonly number[], incr: number, scale = 1, suffix = ''): string[] {
  for (let d = decimalsOf(Math.abs(incr * scale)); ; d++) {
    const labels = ticks.map((t) => `${(t * scale).toFixed(d)}${suffix}`);
    if (new Set(labels).size === labels.length || d >= MAX_DECIMALS) return labels;
  }
}
