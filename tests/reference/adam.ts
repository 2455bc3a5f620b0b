// Optimizer reference: torch.optim.Adam / AdamW (amsgrad=False, maximize=False), PyTorch's
// clip_grad_norm_, and the learning-rate schedule. All updates mutate their arrays in place,
// as the GPU optimizer kernel will.

export interface AdamHyper {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** true: AdamW (decoupled decay p ← p·(1 − lr·wd) before the update); false: Adam (grad += wd·p) */
  decoupled?: boolean;
}

type Tensors = Float64Array | Float64Array[];
const asList = (t: Tensors): Float64Array[] => (Array.isArray(t) ? t : [t]);

/**
 * One step, `step` counted from 1 (the bias corrections 1 − β^step would divide by zero at 0).
 * Follows torch's single-tensor implementation operation by operation:
 *   g ← g + wd·p (Adam) | p ← p·(1 − lr·wd) (AdamW)
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^step)) · m / (sqrt(v) / sqrt(1 − β2^step) + eps)
 * Note eps is added after the bias correction of v — matters when v is tiny.
 * The gradient arrays are not modified (Adam's L2 term is added to a local copy).
 */
export function adamStep(params: Tensors, grads: Tensors, m: Tensors, v: Tensors, step: number, hp: AdamHyper): void {
  const P = asList(params);
  const G = asList(grads);
  const M = asList(m);
  const V = asList(v);
  if (G.length !== P.length || M.length !== P.length || V.length !== P.length) {
    throw new RangeError('adamStep: params, grads, m, v must have the same number of tensors');
  }
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`adamStep: step must be an integer ≥ 1, got ${step}`);
  const { lr } = hp;
  const beta1 = hp.beta1 ?? 0.9;
  const beta2 = hp.beta2 ?? 0.999;
  const eps = hp.eps ?? 1e-8;
  const wd = hp.weightDecay ?? 0;
  const decoupled = hp.decoupled ?? false;
  const bc1 = 1 - beta1 ** step;
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const stepSize = lr / bc1;
  for (let i = 0; i < P.length; i++) {
    const p = P[i];
    const g = G[i];
    const mi = M[i];
    const vi = V[i];
    if (g.length !== p.length || mi.length !== p.length || vi.length !== p.length) {
      throw new RangeError(`adamStep: tensor ${i} lengths differ`);
    }
    for (let j = 0; j < p.length; j++) {
      let gj = g[j];
      if (wd !== 0) {
        if (decoupled) p[j] *= 1 - lr * wd;
        else gj += wd * p[j];
      }
      mi[j] = beta1 * mi[j] + (1 - beta1) * gj;
      vi[j] = beta2 * vi[j] + (1 - beta2) * gj * gj;
      p[j] -= (stepSize * mi[j]) / (Math.sqrt(vi[j]) / bc2Sqrt + eps);
    }
  }
}

/**
 * torch.nn.utils.clip_grad_norm_(norm_type=2): norm = ‖all grads‖₂ as one vector,
 * scale = min(1, maxNorm / (norm + 1e-6)), every gradient multiplied by scale in place
 * (always, like PyTorch, even when scale = 1). Returns the norm before clipping.
 */
export function globalNormClip(grads: Float64Array[], maxNorm: number): { norm: number; scale: number } {
  let ss = 0;
  for (const g of grads) for (let j = 0; j < g.length; j++) ss += g[j] * g[j];
  const norm = Math.sqrt(ss);
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  for (const g of grads) for (let j = 0; j < g.length; j++) g[j] *= scale;
  return { norm, scale };
}

export interface LrScheduleConfig {
  /** peak learning rate, reached at the end of warm-up */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  minLr?: number;
}

/**
 * Learning rate for optimizer step `step` (1-based, the same count adamStep takes):
 *   step ≤ warmupSteps: lr · step / warmupSteps          (linear ramp; step 1 is not 0)
 *   after: minLr + (lr − minLr) · ½(1 + cos(π · q)),  q = (step − warmupSteps)/(totalSteps − warmupSteps)
 * q is clamped to [0, 1], so steps past totalSteps stay at minLr; with totalSteps ≤ warmupSteps
 * there is no decay phase and the rate stays at lr after warm-up.
 */
export function lrSchedule(step: number, cfg: LrScheduleConfig): number {
  const { lr, warmupSteps, totalSteps } = cfg;
  const minLr = cfg.minLr ?? 0;
  if (warmupSteps > 0 && step <= warmupSteps) return (lr * Math.max(step, 0)) / warmupSteps;
  const decaySteps = totalSteps - warmupSteps;
  if (decaySteps <= 0) return lr;
  const q = Math.min(1, Math.max(0, (step - warmupSteps) / decaySteps));
  return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * q));
}
