// What the JS peers' oracle tests share (tests/peerTfjs.test.ts, tests/peerJax.test.ts): the tiny
// config, the f32-rounded problem with its float64 oracle, the derived tolerances, and the checks of
// loss + every gradient, of Adam's first step and of a short training run. Both peers build the same
// f32 computation graph, so one derivation serves both.
import { expect } from 'vitest';
import { peerParamShapes, type PeerConfig, type PeerModel } from '../../bench/peer/common.ts';
import { cpcInitParams, cpcLossAndGrads, randomArray, type CpcConfig } from '../reference/index.ts';
import { expectClose } from './compare.ts';

const KERNELS = [10, 8, 4, 4, 4];
const STRIDES = [5, 4, 2, 2, 2];
// L = 1500 → 299 → 73 → 35 → 16 → T = 7 frames; K = 2 leaves 6 and 5 valid rows per sequence.
export const PEER_TEST_CONFIG: PeerConfig = { B: 2, L: 1500, channels: 8, kernels: KERNELS, strides: STRIDES, norm: true, H: 6, K: 2, lr: 1e-2 };

const oracleCfg = (cfg: PeerConfig): CpcConfig => ({
  channels: cfg.channels, hidden: cfg.H, predictionSteps: cfg.K, kernels: cfg.kernels, strides: cfg.strides,
  norm: cfg.norm, predictorBias: false, negatives: { kind: 'batch' }, batchSize: cfg.B,
});

/** Inputs rounded to f32 once, so oracle and peer see identical values and only arithmetic differs. */
export function peerProblem(cfg: PeerConfig, seed: number) {
  const params = new Map<string, Float64Array>();
  for (const [name, a] of cpcInitParams(oracleCfg(cfg), seed)) params.set(name, a.map(Math.fround));
  const signal = Float32Array.from(randomArray(cfg.B * cfg.L, seed + 100));
  return { params, signal, oracle: cpcLossAndGrads(Float64Array.from(signal), params, oracleCfg(cfg)) };
}
export type PeerProblem = ReturnType<typeof peerProblem>;

// Tolerances. u = 2^-24 ≈ 6e-8 (f32 unit roundoff); all values are O(1) by the N(0, 1/fan_in) init.
// Loss: ~20 sequential f32 stages (5 × conv with reductions of n ≤ 32 terms, norm, ReLU; 7 GRU steps
// with n ≤ 8; InfoNCE dot products of C = 8, logsumexp) each add ≲ sqrt(n)·u·Σ|terms| ≈ 4e-7 plus a
// few ULPs from WGSL exp/tanh/sqrt/inverseSqrt (spec bounds: exp 3 + 2|x| ULP, inverseSqrt 2 ULP,
// sqrt as 1/inverseSqrt 2.5 ULP), so ~20 × 1e-6 = 2e-5 relative if every stage's error adds up;
// ChannelNorm divides by a per-frame std of 8 channels and can amplify that a few times → rtol 1e-4,
// atol 1e-5. A peer that fuses ops into one kernel (jax-js) only drops intermediate roundings (never
// adds any), and its reduction order is fixed per compiled kernel, so the bound is unchanged.
export const LOSS_RTOL = 1e-4;
export const LOSS_ATOL = 1e-5;
// Gradients: the backward chain is about twice as deep and its long sums (conv dW over B·Lout ≤ 598
// terms, sqrt(598)·u ≈ 1.5e-6) cancel, so their error is relative to the tensor's scale, not to
// each element → atol = 1e-4 · max|g_ref| per tensor (≈ 2× the 2e-5 forward bound, × margin for the
// same norm amplification), rtol 1e-3 for the large elements.
export const GRAD_RTOL = 1e-3;
export const GRAD_ATOL_SCALE = 1e-4;

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

/** The peer's loss and every gradient (names and order as peerParamShapes) vs the oracle. */
export async function expectPeerMatchesOracle(peer: PeerModel, cfg: PeerConfig, { signal, oracle }: PeerProblem): Promise<void> {
  const loss = await peer.loss(signal);
  expectClose([loss], [oracle.loss], LOSS_ATOL, LOSS_RTOL, 'loss');
  const grads = await peer.gradients(signal);
  expect([...grads.keys()]).toEqual([...peerParamShapes(cfg).keys()]);
  for (const [name, want] of oracle.grads) {
    expectClose(grads.get(name)!, want, GRAD_ATOL_SCALE * maxAbs(want), GRAD_RTOL, `d ${name}`);
  }
}

/** One step from `problem.params`: returns its loss after checking it and the Adam update it made. */
export async function expectFirstAdamStep(peer: PeerModel, cfg: PeerConfig, { params, signal, oracle }: PeerProblem): Promise<number> {
  const first = await peer.step(signal);
  expectClose([first], [oracle.loss], LOSS_ATOL, LOSS_RTOL, 'loss returned by step 1 (before the update)');
  // Adam's first step is p ← p − lr·m̂/(sqrt(v̂) + eps) with m̂ = g, v̂ = g²: −lr·sign(g) wherever
  // |g| ≫ eps = 1e-8. Checked where |g_ref| > 1e-2·max|g| — 100× the gradient tolerance above, so
  // the sign is certain; the ratio m̂/sqrt(v̂) is 1 up to ~1e-6 (f32 bias corrections), and the
  // new weight (|w| ≲ 4) rounds to ~5e-7 → atol 1e-6 + 1e-4·lr. Every other weight moved ≤ lr.
  const after = await peer.getWeights();
  const atol = 1e-6 + 1e-4 * cfg.lr;
  let checked = 0;
  for (const [name, g] of oracle.grads) {
    const w0 = params.get(name)!;
    const w1 = after.get(name)!;
    const gMax = maxAbs(g);
    for (let i = 0; i < g.length; i++) {
      const moved = w1[i]! - w0[i]!;
      if (Math.abs(g[i]!) > 1e-2 * gMax) {
        checked++;
        if (Math.abs(moved + cfg.lr * Math.sign(g[i]!)) > atol) {
          throw new Error(`${name}[${i}]: moved ${moved}, want ${-cfg.lr * Math.sign(g[i]!)} (g = ${g[i]})`);
        }
      } else if (Math.abs(moved) > cfg.lr + atol) {
        throw new Error(`${name}[${i}]: moved ${moved}, more than lr = ${cfg.lr}`);
      }
    }
  }
  expect(checked).toBeGreaterThan(0.5 * [...oracle.grads.values()].reduce((n, g) => n + g.length, 0));
  return first;
}

/** Losses of 10 steps on one fixed batch (the first given): finite, and fitting it measurably. */
export function expectLearns(losses: readonly number[]): void {
  expect(losses.length).toBe(10);
  expect(losses.every(Number.isFinite)).toBe(true);
  // Chance level is log B = 0.69; 10 Adam steps at lr 1e-2 on one fixed batch must fit it
  // measurably: the last three steps' mean below 90 % of the first loss.
  const tail = (losses[7]! + losses[8]! + losses[9]!) / 3;
  expect(tail, `losses ${losses.map((l) => l.toFixed(4)).join(', ')}`).toBeLessThan(0.9 * losses[0]!);
}
