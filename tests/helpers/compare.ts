// Elementwise |got - want| <= atol + rtol*|want| with a message naming the worst element, so a
// failing kernel test says where and by how much.
import { expect } from 'vitest';

export interface CloseReport { maxAbs: number; maxRel: number; worst: number; }

export function closeReport(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): CloseReport & { bad: number } {
  let maxAbs = 0, maxRel = 0, worst = -1, bad = 0, worstExcess = -Infinity;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    const err = Math.abs(g - w);
    const excess = Number.isNaN(err) ? Infinity : err - (atol + rtol * Math.abs(w));
    if (excess > 0) bad++;
    if (excess > worstExcess) { worstExcess = excess; worst = i; }
    maxAbs = Math.max(maxAbs, Number.isNaN(err) ? Infinity : err);
    if (w !== 0) maxRel = Math.max(maxRel, err / Math.abs(w));
  }
  return { maxAbs, maxRel, worst, bad };
}

export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what = 'values'): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const r = closeReport(got, want, atol, rtol);
  const msg = `${what}: ${r.bad}/${want.length} elements outside atol=${atol} rtol=${rtol}; worst at [${r.worst}] got ${got[r.worst]} want ${want[r.worst]} (max abs err ${r.maxAbs.toExponential(2)})`;
  expect(r.bad, msg).toBe(0);
}

/** |got − want| ≤ bound (per element, or one scalar), reporting the worst element on failure. */
export function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number> | number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let bad = 0, worst = -1, worstRatio = -Infinity;
  for (let i = 0; i < want.length; i++) {
    const tol = typeof bound === 'number' ? bound : bound[i]!;
    const err = Math.abs(got[i]! - want[i]!);
    const ratio = Number.isNaN(err) ? Infinity : err === 0 ? 0 : err / tol;
    if (!(err <= tol)) bad++;
    if (ratio > worstRatio) { worstRatio = ratio; worst = i; }
  }
  const tol = typeof bound === 'number' ? bound : bound[worst]!;
  const msg = `${what}: ${bad}/${want.length} elements outside their bound; worst at [${worst}] got ${got[worst]} want ${want[worst]} `
    + `(err ${Math.abs(got[worst]! - want[worst]!).toExponential(2)}, bound ${tol.toExponential(2)})`;
  expect(bad, msg).toBe(0);
}
