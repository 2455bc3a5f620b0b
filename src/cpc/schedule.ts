// Learning-rate schedule: linear warm-up, then cosine decay to minLr (tests/reference/adam.ts
// lrSchedule is the definition; this is the same float64 arithmetic in the same order, so the two
// agree bit for bit). Pure TS: the trainer feeds the result to writeAdamHyper every step.

export interface LrScheduleConfig {
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor of the cosine decay; default 0. */
  minLr?: number;
}

/** Throws on a config no schedule could mean (negative or fractional step counts, NaN rates). */
export function validateLrSchedule(cfg: LrScheduleConfig): void {
  const bad = (msg: string) => { throw new RangeError(`learningRate: ${msg}`); };
  if (!Number.isFinite(cfg.lr) || cfg.lr < 0) bad(`lr must be finite and ≥ 0, got ${cfg.lr}`);
  const minLr = cfg.minLr ?? 0;
  if (!Number.isFinite(minLr) || minLr < 0) bad(`minLr must be finite and ≥ 0, got ${minLr}`);
  if (!Number.isInteger(cfg.warmupSteps) || cfg.warmupSteps < 0) bad(`warmupSteps must be an integer ≥ 0, got ${cfg.warmupSteps}`);
  if (!Number.isInteger(cfg.totalSteps) || cfg.totalSteps < 0) bad(`totalSteps must be an integer ≥ 0, got ${cfg.totalSteps}`);
}

/**
 * Learning rate for optimizer step `step` (1-based, the count writeAdamHyper takes):
 *   step ≤ warmupSteps: lr · step / warmupSteps   (linear ramp; step 1 is already > 0)
 *   after: minLr + (lr − minLr) · ½(1 + cos(π·q)),  q = (step − warmupSteps) / (totalSteps − warmupSteps)
 * q is clamped to [0, 1] (steps past totalSteps stay at minLr); with totalSteps ≤ warmupSteps
 * there is no decay and the rate stays at lr after warm-up.
 */
export function learningRate(step: number, cfg: LrScheduleConfig): number {
  validateLrSchedule(cfg);
  if (!Number.isFinite(step)) throw new RangeError(`learningRate: step must be finite, got ${step}`);
  const { lr, warmupSteps, totalSteps } = cfg;
  const minLr = cfg.minLr ?? 0;
  if (warmupSteps > 0 && step <= warmupSteps) return (lr * Math.max(step, 0)) / warmupSteps;
  const decaySteps = totalSteps - warmupSteps;
  if (decaySteps <= 0) return lr;
  const q = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * q));
}
