// The jax-js peer of the e2e benchmark must train the SAME model as ours: its loss and gradients
// (jit'ed valueAndGrad on jax-js's WebGPU backend under Dawn) are checked against the float64 oracle
// (tests/reference/cpcModel.ts) on a tiny config, then one jit'ed Adam step and a short training run.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createJaxPeer, type JaxPeer } from '../bench/peer/jaxCpc.ts';
import { peerParamShapes, type PeerConfig } from '../bench/peer/common.ts';
import { cpcInitParams, cpcLossAndGrads, randomArray, type CpcConfig } from './reference/index.ts';
import { expectClose } from './helpers/compare.ts';
import { releaseNodeGpu } from '../src/node/gpu.ts';

const KERNELS = [10, 8, 4, 4, 4];
const STRIDES = [5, 4, 2, 2, 2];
// L = 1500 → 299 → 73 → 35 → 16 → T = 7 frames; K = 2 leaves 6 and 5 valid rows per sequence.
const base: PeerConfig = { B: 2, L: 1500, channels: 8, kernels: KERNELS, strides: STRIDES, norm: true, H: 6, K: 2, lr: 1e-2 };

const oracleCfg = (cfg: PeerConfig): CpcConfig => ({
  channels: cfg.channels, hidden: cfg.H, predictionSteps: cfg.K, kernels: cfg.kernels, strides: cfg.strides,
  norm: cfg.norm, predictorBias: false, negatives: { kind: 'batch' }, batchSize: cfg.B,
});

/** Inputs rounded to f32 once, so oracle and peer see identical values and only arithmetic differs. */
function problem(cfg: PeerConfig, seed: number) {
  const params = new Map<string, Float64Array>();
  for (const [name, a] of cpcInitParams(oracleCfg(cfg), seed)) params.set(name, a.map(Math.fround));
  const signal = Float32Array.from(randomArray(cfg.B * cfg.L, seed + 100));
  return { params, signal, oracle: cpcLossAndGrads(Float64Array.from(signal), params, oracleCfg(cfg)) };
}

// Tolerances: the same f32 computation graph as the tfjs peer (tests/peerTfjs.test.ts), so the same
// derivation holds. u = 2^-24 ≈ 6e-8; all values O(1) by the N(0, 1/fan_in) init.
// Loss: ~20 sequential f32 stages (5 × conv with reductions of n ≤ 32 terms, norm, ReLU; 7 GRU steps
// with n ≤ 8; InfoNCE dot products of C = 8, logsumexp), each ≲ sqrt(n)·u·Σ|terms| ≈ 4e-7 plus a few
// ULPs from WGSL exp/tanh/sqrt (spec bounds: exp 3 + 2|x| ULP, sqrt as 1/inverseSqrt 2.5 ULP), so
// ~20 × 1e-6 = 2e-5 relative if every stage's error adds up; ChannelNorm divides by a per-frame std
// of 8 channels and can amplify that a few times → rtol 1e-4, atol 1e-5. jax-js fusing ops into one
// kernel only drops intermediate roundings (never adds any), and its reduction order is fixed per
// compiled kernel, so the bound is unchanged.
const LOSS_RTOL = 1e-4;
const LOSS_ATOL = 1e-5;
// Gradients: the backward chain is about twice as deep and its long sums (conv dW over B·Lout ≤ 598
// terms, sqrt(598)·u ≈ 1.5e-6) cancel, so their error is relative to the tensor's scale, not to
// each element → atol = 1e-4 · max|g_ref| per tensor, rtol 1e-3 for the large elements.
const GRAD_RTOL = 1e-3;
const GRAD_ATOL_SCALE = 1e-4;

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

let peer: JaxPeer | null = null;
afterEach(() => {
  peer?.dispose();
  peer = null;
});
afterAll(() => releaseNodeGpu());

describe.each([
  { name: 'ChannelNorm on', cfg: base, seed: 11 },
  { name: 'ChannelNorm off', cfg: { ...base, norm: false }, seed: 12 },
])('jax-js peer vs float64 oracle ($name)', ({ cfg, seed }) => {
  it('runs on the webgpu backend and matches the oracle loss and every gradient', async () => {
    const { params, signal, oracle } = problem(cfg, seed);
    peer = await createJaxPeer(cfg, { params });
    expect(peer.T).toBe(7);
    // The adapter jax-js runs on is a real one from Dawn, not jax-js's Wasm/CPU fallback.
    expect(peer.adapter).not.toBe('unknown adapter');

    const loss = await peer.loss(signal);
    expectClose([loss], [oracle.loss], LOSS_ATOL, LOSS_RTOL, 'loss');

    const grads = await peer.gradients(signal);
    expect([...grads.keys()]).toEqual([...peerParamShapes(cfg).keys()]);
    for (const [name, want] of oracle.grads) {
      expectClose(grads.get(name)!, want, GRAD_ATOL_SCALE * maxAbs(want), GRAD_RTOL, `d ${name}`);
    }
    // Reading gradients and the loss leaves the weights untouched and owned once.
    const after = await peer.getWeights();
    for (const [name, w] of params) expect(after.get(name), name).toEqual(w);
  });
});

describe('jax-js peer training step', () => {
  it('first Adam step moves every weight by lr·sign(grad); 10 steps lower the loss and keep one reference per array', async () => {
    const cfg = base;
    const { params, signal, oracle } = problem(cfg, 21);
    peer = await createJaxPeer(cfg, { params });
    const arrays = 3 * peerParamShapes(cfg).size; // weights, Adam m, Adam v

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

    const losses = [first];
    for (let i = 0; i < 9; i++) losses.push(await peer.step(signal));
    // The step consumes the old weights and moments and hands back new ones, each held once: a
    // missing `.ref` would have thrown (use after free), an extra one would show here.
    expect(peer.liveRefs(), 'references held on weights and moments').toBe(arrays);
    expect(losses.every(Number.isFinite)).toBe(true);
    // Chance level is log B = 0.69; 10 Adam steps at lr 1e-2 on one fixed batch must fit it
    // measurably: the last three steps' mean below 90 % of the first loss.
    const tail = (losses[7]! + losses[8]! + losses[9]!) / 3;
    expect(tail, `losses ${losses.map((l) => l.toFixed(4)).join(', ')}`).toBeLessThan(0.9 * first);
  });
});

describe('jax-js peer input validation', () => {
  it('rejects a config whose encoder leaves T ≤ K frames, before touching the GPU', async () => {
    // L = 480 → 95 → 22 → 10 → 4 → T = 1 frame.
    await expect(createJaxPeer({ ...base, L: 480 })).rejects.toThrow(/jaxPeer\(B=2, L=480.*T=1 frames, InfoNCE needs T > K/);
    await expect(createJaxPeer({ ...base, L: 20 })).rejects.toThrow(/layer 1 input length 3 < kernel 8/);
    await expect(createJaxPeer({ ...base, strides: [5, 4] })).rejects.toThrow(/kernels and strides/);
  });

  it('rejects a signal of the wrong length and weights of the wrong shape', async () => {
    peer = await createJaxPeer(base);
    await expect(peer.step(new Float32Array(base.B * base.L - 1))).rejects.toThrow(/signal must be a Float32Array \[B·L\] = \[2·1500\] = 3000, got 2999/);
    const bad = new Map([...(await peer.getWeights())]);
    bad.set('gru.weight_hh_l0', new Float64Array(5));
    expect(() => peer!.setWeights(bad)).toThrow(/gru.weight_hh_l0 has 5 values, expected \[18,6\]/);
    bad.delete('gru.weight_hh_l0');
    expect(() => peer!.setWeights(bad)).toThrow(/missing parameter gru.weight_hh_l0/);
  });
});
