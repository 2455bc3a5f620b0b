// Optimizer benchmark: the global gradient norm, the Adam update and the whole optimizer step
// (norm + update) over one flat parameter buffer. Memory-bound kernels: rated in GB/s against the
// copy peak (4 B/element for the norm, 28 B/element for the update: read p, g, m, v; write p, m, v).
// Rows: adam.gradnorm, adam.update, adam.step, and the same with `@paper` at the paper model's P.
import type { PreparedOp } from '../src/runtime/kernel.ts';
import { createTensor, writeTensor, type Tensor } from '../src/runtime/tensor.ts';
import { ADAM_HYPER_LEN, adamScratch, prepareAdamStep, writeAdamHyper } from '../src/shaders/adam.ts';
import { GRAD_NORM_STATS_LEN, prepareGradNorm } from '../src/shaders/gradNorm.ts';
import { prepareNaiveAdam, prepareNaiveGradNorm } from './adamNaive.ts';
import { timeOps } from './timing.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

/**
 * Flat parameter count of the paper CPC model (C = 512, H = 256, K = 12, kernels 10,8,4,4,4), each
 * tensor padded to 64 floats (256-byte offsets) as the trainer lays them out: 7.41M.
 */
export function paperParamCount(): number {
  const C = 512, H = 256, K = 12;
  const pad = (n: number) => Math.ceil(n / 64) * 64;
  const conv = [10, 8, 4, 4, 4].reduce((s, k, i) => s + pad(C * (i === 0 ? 1 : C) * k) + pad(C), 0);
  const gru = pad(3 * H * C) + pad(3 * H * H) + 2 * pad(3 * H);
  return conv + gru + K * pad(C * H);
}

async function benchShape(b: BenchContext, P: number, suffix: string): Promise<BenchResult[]> {
  const { ctx, peak } = b;
  const mk = (n: number, label: string): Tensor => createTensor(ctx, [n], 'f32', `bench.adam.${label}`);
  const t = { params: mk(P, 'params'), grads: mk(P, 'grads'), m: mk(P, 'm'), v: mk(P, 'v'), hyper: mk(ADAM_HYPER_LEN, 'hyper'), gradNorm: mk(GRAD_NORM_STATS_LEN, 'gradNorm') };
  const partials = mk(adamScratch(P)[0]!.shape[0]!, 'partials');
  // Realistic magnitudes (clipping active, no zeros or denormals): timings on CPUs can depend on them.
  const fill = Float32Array.from({ length: P }, (_, i) => 1e-3 * Math.sin(0.37 * i + 1));
  writeTensor(ctx, t.params, fill);
  writeTensor(ctx, t.grads, fill);
  writeAdamHyper(ctx, t.hyper, { lr: 2e-4, step: 10, weightDecay: 0.01, decoupled: true, maxNorm: 0.1 });
  const norm = await prepareGradNorm(ctx, { P }, { grads: t.grads, partials, normOut: t.gradNorm });
  const update = await prepareAdamStep(ctx, { P }, t);
  const naiveNorm = await prepareNaiveGradNorm(ctx, P, t.grads, t.gradNorm);
  const naiveUpdate = await prepareNaiveAdam(ctx, P, t);
  const reps = b.quick ? 3 : 9;
  const time = (ops: PreparedOp[]) => timeOps(ctx, ops, { reps, budgetMs: b.quick ? 2_000 : 15_000 });
  const rows: BenchResult[] = [];
  const row = async (name: string, ops: PreparedOp[], naive: PreparedOp[], bytes: number) => {
    const ms = await time(ops);
    const baselineMs = await time(naive);
    rows.push(makeResult({ name: `${name}${suffix}`, shape: { P }, ms, bytes, peak, baseline: `${name.replace('adam.', 'adam.naive.')}`, baselineMs }));
    b.log(`${name}${suffix} P=${P}: ${ms.toFixed(2)} ms (naive ${baselineMs.toFixed(2)} ms)`);
  };
  await row('adam.gradnorm', [norm], [naiveNorm], norm.bytes);
  await row('adam.update', [update], [naiveUpdate], update.bytes);
  await row('adam.step', [norm, update], [naiveNorm, naiveUpdate], norm.bytes + update.bytes);
  for (const x of [...Object.values(t), partials]) x.buffer.destroy();
  return rows;
}

export const adamSuite: BenchSuite = {
  name: 'adam',
  async run(b) {
    // P mod 4 = 3 exercises the scalar tail dispatch, as an unpadded buffer would.
    const rows = await benchShape(b, b.quick ? 262_147 : 1_048_579, '');
    if (b.paper) rows.push(...(await benchShape(b, paperParamCount(), '@paper')));
    return rows;
  },
};

