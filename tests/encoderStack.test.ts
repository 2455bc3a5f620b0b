import { describe, expect, it } from 'vitest';
import { runOps, type PreparedOp } from '../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../src/runtime/tensor.ts';
import {
  conv1dBackwardScratch, conv1dForwardScratch, conv1dSavedTensors, encoderStackDims, prepareConv1dBackward, prepareConv1dForward,
  type Conv1dDims,
} from '../src/shaders/conv1d.ts';
import { encoderBackward, encoderForward, randomArray } from './reference/index.ts';
import {
  backwardErr, forwardErr, kinkCount, layerOracle, type BackwardErr, type ForwardErr, type LayerOracle,
} from './helpers/convBounds.ts';
import { allocSpecs, f32, toChannelsFirst, toChannelsLast } from './helpers/convData.ts';
import { expectWithin } from './helpers/compare.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';

// The whole 5-layer encoder on the GPU (each layer reading the previous layer's GPU output, the
// backward reading the GPU's own saved values) against the float64 oracle. Tolerances: the
// per-element bounds of tests/helpers/convBounds.ts, CARRIED through the stack: each layer's
// bound on its output is the next layer's input error, and each layer's dx bound is the error of
// the gradient the layer below receives. The carried bounds assume every ReLU mask agrees with the
// oracle's, which holds when no pre-activation lies within its error bound of 0: the test asserts
// that for its seeds (kinkCount = 0) instead of assuming it.

const KERNELS = [10, 8, 4, 4, 4];
const STRIDES = [5, 4, 2, 2, 2];

interface Params { w: Float64Array; b: Float64Array; gamma: Float64Array; beta: Float64Array }

function params(d: Conv1dDims, seed: number): Params {
  const fan = d.Cin * d.K;
  return {
    w: f32(randomArray(d.Cout * fan, seed, 1 / Math.sqrt(fan))),
    b: f32(randomArray(d.Cout, seed + 1, 0.1)),
    gamma: f32(Float64Array.from(randomArray(d.Cout, seed + 2, 0.2), (v) => 1 + v)),
    beta: f32(randomArray(d.Cout, seed + 3, 0.1)),
  };
}

async function checkStack(cfg: { L: number; B: number; C: number; norm: boolean }, seed: number): Promise<void> {
  const ctx = await testDevice();
  const dims = encoderStackDims({ L: cfg.L, B: cfg.B, channels: cfg.C, kernels: KERNELS, strides: STRIDES, norm: cfg.norm });
  const ps = dims.map((d, i) => params(d, seed + 10 * i));
  const signal = f32(randomArray(cfg.B * cfg.L, seed + 100));
  const last = dims[dims.length - 1]!;
  const dz = f32(randomArray(cfg.B * cfg.C * last.Tout, seed + 200));

  // Oracle, layer by layer (forward, then backward from the top), with the carried bounds.
  const xs: Float64Array[] = [signal];
  const fwdOnly: LayerOracle[] = [];
  for (const d of dims) {
    const o = layerOracle(d, xs[d.layer]!, ps[d.layer]!, new Float64Array(d.B * d.Cout * d.Tout));
    fwdOnly.push(o);
    xs.push(o.y);
  }
  const oracles: LayerOracle[] = new Array(dims.length);
  let dy = dz;
  for (const d of [...dims].reverse()) {
    oracles[d.layer] = layerOracle(d, xs[d.layer]!, ps[d.layer]!, dy);
    dy = oracles[d.layer]!.dx;
  }
  const fe: ForwardErr[] = [];
  let xErr: Float64Array | null = null;
  for (const o of oracles) {
    const e = forwardErr(o, xErr, 'stat');
    expect(kinkCount(o, e), `layer ${o.d.layer + 1}: pre-activations within their error bound of the ReLU kink`).toBe(0);
    fe.push(e);
    xErr = e.y;
  }
  const be: BackwardErr[] = new Array(dims.length);
  let dyErr: Float64Array | null = null;
  for (const o of [...oracles].reverse()) {
    const i = o.d.layer;
    be[i] = backwardErr(o, fe[i]!, i > 0 ? fe[i - 1]!.y : null, dyErr, 'stat');
    dyErr = be[i]!.dx;
  }
  // The layer-by-layer chain is the oracle's own encoder: same z and parameter gradients.
  const encCfg = { channels: cfg.C, kernels: KERNELS, strides: STRIDES, norm: cfg.norm };
  const encParams = {
    weight: ps.map((p) => p.w), bias: ps.map((p) => p.b),
    normWeight: ps.map((p) => p.gamma), normBias: ps.map((p) => p.beta),
  };
  const enc = encoderForward(signal, encParams, encCfg, cfg.B);
  const encGrads = encoderBackward(enc.cache, dz);
  expect(Array.from(enc.z)).toEqual(Array.from(xs[dims.length]!));
  expect(Array.from(encGrads.weight[1]!)).toEqual(Array.from(oracles[1]!.dw));

  // GPU: forward chain, then backward chain, in one submit.
  const ops: PreparedOp[] = [];
  let x: Tensor = upload(ctx, [cfg.B, cfg.L], signal, 'f32', 'signal');
  const layerT: { x: Tensor; y: Tensor; weight: Tensor; normWeight: Tensor; saved: Record<string, Tensor> }[] = [];
  for (const d of dims) {
    const p = ps[d.layer]!;
    const weight = upload(ctx, [d.Cout, d.Cin, d.K], p.w, 'f32', `w${d.layer}`);
    const bias = upload(ctx, [d.Cout], p.b, 'f32', `b${d.layer}`);
    const normWeight = upload(ctx, [d.Cout], p.gamma, 'f32', `g${d.layer}`);
    const normBias = upload(ctx, [d.Cout], p.beta, 'f32', `beta${d.layer}`);
    const y = createTensor(ctx, [d.B, d.Tout, d.Cout], 'f32', `y${d.layer}`);
    const saved = allocSpecs(ctx, conv1dSavedTensors(d), `saved${d.layer}`);
    ops.push(await prepareConv1dForward(ctx, d, {
      x, weight, bias, y, normWeight, normBias, xhat: saved.xhat, rstd: saved.rstd,
      scratch: allocSpecs(ctx, conv1dForwardScratch(d), `fs${d.layer}`) as { wT: Tensor },
    }));
    layerT.push({ x, y, weight, normWeight, saved });
    x = y;
  }
  let dyT = upload(ctx, [cfg.B, last.Tout, cfg.C], toChannelsLast(dz, cfg.B, cfg.C, last.Tout), 'f32', 'dz');
  const grads: Record<string, Tensor>[] = new Array(dims.length);
  for (const d of [...dims].reverse()) {
    const l = layerT[d.layer]!;
    const g = {
      dWeight: createTensor(ctx, [d.Cout, d.Cin, d.K], 'f32', 'dw'), dBias: createTensor(ctx, [d.Cout], 'f32', 'db'),
      dNormWeight: createTensor(ctx, [d.Cout], 'f32', 'dg'), dNormBias: createTensor(ctx, [d.Cout], 'f32', 'dbeta'),
    };
    const dx = d.layer > 0 ? createTensor(ctx, [d.B, d.Tin, d.Cin], 'f32', `dx${d.layer}`) : null;
    ops.push(await prepareConv1dBackward(ctx, d, {
      x: l.x, weight: l.weight, y: l.y, dy: dyT, dx, ...g, normWeight: l.normWeight, xhat: l.saved.xhat, rstd: l.saved.rstd,
      scratch: allocSpecs(ctx, conv1dBackwardScratch(d, { inputGrad: dx !== null }), `bs${d.layer}`) as never,
    }));
    grads[d.layer] = g;
    if (dx) dyT = dx;
  }
  await runOps(ctx, ops);

  const tag = `C=${cfg.C} B=${cfg.B} L=${cfg.L} norm=${cfg.norm}`;
  const z = toChannelsFirst(await download(ctx, layerT[dims.length - 1]!.y), cfg.B, cfg.C, last.Tout);
  expectWithin(z, oracles[dims.length - 1]!.y, fe[dims.length - 1]!.y, `${tag} z`);
  for (const d of dims) {
    const i = d.layer, o = oracles[i]!, e = be[i]!, g = grads[i]!;
    expectWithin(await download(ctx, g.dWeight!), o.dw, e.dw, `${tag} encoder.${i}.weight grad`);
    expectWithin(await download(ctx, g.dBias!), o.db, e.db, `${tag} encoder.${i}.bias grad`);
    if (cfg.norm) {
      expectWithin(await download(ctx, g.dNormWeight!), o.dgamma!, e.dgamma!, `${tag} encoder.${i}.norm.weight grad`);
      expectWithin(await download(ctx, g.dNormBias!), o.dbeta!, e.dbeta!, `${tag} encoder.${i}.norm.bias grad`);
    }
  }
}

describe('5-layer encoder stack (kernels 10,8,4,4,4; strides 5,4,2,2,2) vs the float64 oracle', () => {
  // L = 1003 → 199 → 48 → 23 → 10 → 4: remainders after striding at layers 1, 2 and 4.
  it('C = 8 (vec4 paths), no norm, B = 2: z and every parameter gradient', async () => {
    await checkStack({ L: 1003, B: 2, C: 8, norm: false }, 1);
  });

  it('C = 6 (scalar paths), ChannelNorm, B = 2: z and every parameter gradient', async () => {
    await checkStack({ L: 1003, B: 2, C: 6, norm: true }, 2);
  });
});
