// What to tell a user whose training step went non-finite. The runtime only sees that the loss or a
// gradient became NaN/Inf; it cannot tell which input caused it (a learning rate too high for the model,
// or data far outside [-1, 1] — a float WAV of amplitude 1e30 overflows the same way), so the message
// says what was non-finite and lists the candidates, without blaming one.
import type { CpcTrainConfig } from './config.ts';
import type { StepMetrics } from './trainer.ts';

/** "loss", "gradient norm", "loss and gradient norm", or "a gradient" (flagged by the GPU, norm still finite). */
export function nonFiniteWhat(m: Pick<StepMetrics, 'loss' | 'gradNorm'>): string {
  const parts = [!Number.isFinite(m.loss) ? 'loss' : '', !Number.isFinite(m.gradNorm) ? 'gradient norm' : ''].filter(Boolean);
  return parts.length > 0 ? parts.join(' and ') : 'a gradient';
}

/** The usual causes, with this config's values, for the user to check. */
export function nonFiniteCauses(cfg: Pick<CpcTrainConfig, 'optimizer'>): string {
  const o = cfg.optimizer;
  return 'possible causes: input samples far outside [-1, 1] (check the data\'s amplitude), ' +
    `a learning rate too high for this model (optimizer.lr = ${o.lr}), ` +
    `exploding gradients (optimizer.maxGradNorm = ${o.maxGradNorm ?? 'off'})`;
}
