// The f16 storage path (activations 'f16'): the conv family's kernels reading and writing f16
// activations, xhat and du with f32 accumulation, each forward and backward vs the float64 oracle;
// the graph's f16 tensors and their memory plan; a whole tiny model's gradients vs the oracle; and
// bitwise determinism. Runs on lavapipe (shader-f16) and on SwiftShader (no shader-f16: there each
// case checks that the launcher / trainer refuses f16 storage, naming the feature).
//
// Error bounds (tests/helpers/convBounds.ts, derivation there): the f32 bounds of conv1d.test.ts
// plus the storage roundings, each |fl16(v) − v| ≤ 2⁻¹¹·|v| + 2⁻²⁵, carried through the layer:
//   • forward without norm: y = ReLU(conv) is rounded once when stored → + 2⁻¹¹|y|;
//   • forward with norm: u = conv + bias is stored in y's type before the norm pass reads it, so
//     δ (the frame's largest u error) grows by 2⁻¹¹·|u| and moves xhat by r(2δ) + |xhat|·3δr
//     (convBounds' norm formula); xhat and y are then rounded once more when stored;
//   • backward: it reads the oracle's y and xhat rounded to their storage type (f32, then f16:
//     (2⁻¹¹ + 2⁻²⁴)|v| + 2⁻²⁵), writes du in f16 (+ 2⁻¹¹|du| before the dW and dx sums read it), and
//     dW, dx, dγ, dβ are f32 sums whose inputs carry those errors (Σ|coefficient|·Δ).
// Inputs are f16-exact, so the oracle runs on exactly the values the kernels read.
import { describe, expect, it } from 'vitest';
import { parseConfigJson, resolveConfig } from '../src/cpc/config.ts';
import { buildCpcGraph } from '../src/cpc/graph.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { planMemory } from '../src/runtime/planner.ts';
import type { GpuContext } from '../src/runtime/device.ts';
import { createTensor, type DType, type Tensor } from '../src/runtime/tensor.ts';
import {
  conv1dBackwardScratch, conv1dForwardScratch, conv1dSavedTensors, planConv1dBackward, planConv1dForward, type Conv1dDims,
} from '../src/shaders/conv1d.ts';
import { cpcInitParams, cpcLossAndGrads, randomArray } from './reference/index.ts';
import { backwardErr, forwardErr, storeErr, U, U16, type ForwardErr } from './helpers/convBounds.ts';
import { allocSpecs, convLayerOracle, convLayerProblem, f16, runConvLayerGpu, type ConvLayerGpuResult, type ConvLayerProblem } from './helpers/convData.ts';
import { expectWithin } from './helpers/compare.ts';
import { testDevice } from './helpers/gpu.ts';
import { oracleConfig } from './helpers/oracleConfig.ts';
import { expectModelGradsClose, relNormError } from './helpers/modelBounds.ts';

interface Case { name: string; d: Conv1dDims; xType: DType; yType: DType; seed: number }

function dims(o: Omit<Conv1dDims, 'Tout'>): Conv1dDims {
  return { ...o, Tout: Math.floor((o.Tin - o.K) / o.stride) + 1 };
}

// One case per kernel path that reads or writes f16 (and the mixed last layer: f16 x, f32 z).
const CASES: Case[] = [
  // gemm forwardScalarOut4 (f32 x → f16 y), channelNorm forwardVec4 / backwardVec4 / paramPartialVec4, weightGradWave (f16 du, f16 y)
  { name: 'waveform layer + norm (f32 signal → f16 y, f16 xhat and du)', d: dims({ layer: 0, B: 2, Cin: 1, Tin: 211, Cout: 12, K: 10, stride: 5, norm: true, storage: 'f16' }), xType: 'f32', yType: 'f16', seed: 31 },
  // weightGradWave with the fused ReLU mask read from an f16 y
  { name: 'waveform layer, no norm (fused ReLU backward reads the f16 y)', d: dims({ layer: 0, B: 1, Cin: 1, Tin: 103, Cout: 12, K: 10, stride: 5, norm: false, storage: 'f16' }), xType: 'f32', yType: 'f16', seed: 32 },
  // gemm forwardVec4Out4 / inputGradVec4Out4 (f16 A, f16 y), reluGradPad (f16 y → f16 du), weightGrad partialVec4 (f16 x, f16 du)
  { name: 'vec4 path (Cin = 8), k = 8, s = 4, no norm, f16 x → f16 y', d: dims({ layer: 1, B: 2, Cin: 8, Tin: 50, Cout: 12, K: 8, stride: 4, norm: false, storage: 'f16' }), xType: 'f16', yType: 'f16', seed: 33 },
  // gemm forwardScalar / inputGradScalar (f16 A, 1-wide stores), weightGrad partialScalar, 1-wide norm over f16 u
  { name: 'scalar path (Cin = Cout = 10), k = 4, s = 2, norm, f16 x → f16 y', d: dims({ layer: 2, B: 3, Cin: 10, Tin: 37, Cout: 10, K: 4, stride: 2, norm: true, storage: 'f16' }), xType: 'f16', yType: 'f16', seed: 34 },
  // z stays f32: f16 x, f32 y, f16 xhat and du in one layer
  { name: 'last layer: f16 x → f32 z, norm with f16 xhat and du', d: dims({ layer: 4, B: 2, Cin: 8, Tin: 41, Cout: 8, K: 4, stride: 2, norm: true, storage: 'f16' }), xType: 'f16', yType: 'f32', seed: 35 },
];

/** The problem with its layer input rounded to the input's storage type. */
function problem(c: Case): ConvLayerProblem {
  const p = convLayerProblem(c.d, c.seed);
  return c.xType === 'f16' ? { ...p, x: f16(p.x) } : p;
}

function checkLayer(c: Case, p: ConvLayerProblem, got: ConvLayerGpuResult, o = convLayerOracle(p)): void {
  const { d } = p;
  const yUnit = c.yType === 'f16' ? U16 : 0;
  const fb = forwardErr(o, null, 'worst', { y: yUnit, saved: U16 });
  // Near the ReLU kink the forward may take the other side; y's bound still holds (ReLU is
  // 1-Lipschitz), and the backward reads the oracle's y, so both sides share its mask — unless a
  // positive y ≤ 2⁻²⁵ underflows to 0 in f16, which these problems must not contain.
  expect(o.y.filter((v) => v > 0 && v <= 2 ** -25).length, `${c.name}: y values that underflow f16`).toBe(0);
  expectWithin(got.y, o.y, fb.y, `${c.name} y`);
  if (d.norm) {
    expectWithin(got.xhat!, o.xhat!, fb.xhat!, `${c.name} xhat`);
    expectWithin(got.rstd!, o.rstd!, fb.rstd!, `${c.name} rstd`);
  }
  // The backward read the oracle's y / xhat rounded to f32 and then to their storage type.
  const read = (a: Float64Array | null, unit: number) => (a ? storeErr(a, unit).map((v, i) => v + U * Math.abs(a[i]!)) : null);
  const fe: ForwardErr = { pre: fb.pre, y: fb.y, xhat: read(o.xhat, U16), rstd: o.rstd ? o.rstd.map((r) => U * r) : null };
  const stored = conv1dBackwardScratch(d, { inputGrad: d.layer > 0 }).some((s) => s.name === 'duPad');
  const bb = backwardErr(o, fe, null, null, 'worst', stored ? U16 : 0);
  expectWithin(got.dw, o.dw, bb.dw, `${c.name} dWeight`);
  expectWithin(got.db, o.db, bb.db, `${c.name} dBias`);
  if (got.dx) expectWithin(got.dx, o.dx, bb.dx, `${c.name} dx`);
  if (d.norm) {
    expectWithin(got.dgamma!, o.dgamma!, bb.dgamma!, `${c.name} dNormWeight`);
    expectWithin(got.dbeta!, o.dbeta!, bb.dbeta!, `${c.name} dNormBias`);
  }
}

/** An f32 tensor relabelled f16: what a launcher must refuse on a device without shader-f16. */
function asF16(t: Tensor): Tensor {
  return { ...t, dtype: 'f16' };
}

/** On a device without shader-f16: the launchers refuse the case's f16 tensors before any pipeline exists. */
function expectRefused(ctx: GpuContext, c: Case): void {
  const { d } = c;
  const t = (shape: number[], label: string, f16t = false) => {
    const x = createTensor(ctx, shape, 'f32', label);
    return f16t ? asF16(x) : x;
  };
  const xShape = d.layer === 0 ? [d.B, d.Tin] : [d.B, d.Tin, d.Cin];
  const x = t(xShape, 'x', c.xType === 'f16');
  const y = t([d.B, d.Tout, d.Cout], 'y', c.yType === 'f16');
  const norm = d.norm ? { normWeight: t([d.Cout], 'g'), normBias: t([d.Cout], 'b'), xhat: asF16(t([d.B, d.Tout, d.Cout], 'xhat')), rstd: t([d.B, d.Tout], 'rstd') } : {};
  const fs = allocSpecs(ctx, conv1dForwardScratch(d), 'fs') as { wT: Tensor };
  const fwd = () => planConv1dForward(ctx, d, { x, weight: t([d.Cout, d.Cin, d.K], 'w'), bias: t([d.Cout], 'bias'), y, ...norm, scratch: fs });
  expect(fwd).toThrow(/conv1dForward\.l\d: f16 storage \(.*\) needs the 'shader-f16' feature, which this device lacks/);
  const inputGrad = d.layer > 0;
  const bs: Record<string, Tensor> = {};
  for (const s of conv1dBackwardScratch(d, { inputGrad })) bs[s.name] = s.dtype === 'f16' ? asF16(t(s.shape, s.name)) : t(s.shape, s.name);
  const bwd = () => planConv1dBackward(ctx, d, {
    x, weight: t([d.Cout, d.Cin, d.K], 'w'), y, dy: t([d.B, d.Tout, d.Cout], 'dy'), dx: inputGrad ? t([d.B, d.Tin, d.Cin], 'dx') : null,
    dWeight: t([d.Cout, d.Cin, d.K], 'dw'), dBias: t([d.Cout], 'db'),
    ...(d.norm ? { normWeight: norm.normWeight, xhat: norm.xhat, rstd: norm.rstd, dNormWeight: t([d.Cout], 'dg'), dNormBias: t([d.Cout], 'dbe') } : {}),
    scratch: bs as Parameters<typeof planConv1dBackward>[2]['scratch'],
  });
  expect(bwd).toThrow(/conv1dBackward\.l\d: f16 storage \(.*\) needs the 'shader-f16' feature/);
}

async function device(): Promise<GpuContext> {
  const ctx = await testDevice();
  // lavapipe must take the f16 path (else this file would test only refusals there).
  if (/llvmpipe|lavapipe/i.test(ctx.adapter.description)) expect(ctx.has('shader-f16'), 'lavapipe reports shader-f16').toBe(true);
  return ctx;
}

describe('conv1d with f16 storage vs the float64 oracle (refused without shader-f16)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const ctx = await device();
      if (!ctx.has('shader-f16')) return expectRefused(ctx, c);
      const p = problem(c);
      const o = convLayerOracle(p);
      checkLayer(c, p, await runConvLayerGpu(ctx, p, { xType: c.xType, yType: c.yType }, o), o);
    });
  }

  it('both lane-sharing modes meet the bound and agree bitwise; a rerun is bitwise identical', async () => {
    const ctx = await device();
    const c = CASES[2]!;
    if (!ctx.has('shader-f16')) return expectRefused(ctx, c);
    const p = problem({ ...c, seed: 41 });
    const o = convLayerOracle(p);
    const first = await runConvLayerGpu(ctx, p, { xType: c.xType, yType: c.yType }, o);
    const again = await runConvLayerGpu(ctx, p, { xType: c.xType, yType: c.yType }, o);
    checkLayer(c, p, first, o);
    for (const k of ['y', 'dw', 'db', 'dx'] as const) expect(Array.from(again[k]!), k).toEqual(Array.from(first[k]!));
    const portable = await runConvLayerGpu(ctx, p, { xType: c.xType, yType: c.yType, lanes: 'portable' }, o);
    checkLayer(c, p, portable, o);
    for (const k of ['y', 'dw', 'db', 'dx'] as const) expect(Array.from(portable[k]!), `portable ${k}`).toEqual(Array.from(first[k]!));
  });
});

describe('activations f16 in the CPC graph', () => {
  it('gives the encoder activations (not z), xhat and du dtype f16 and plans them at 2 bytes per element', () => {
    const f32cfg = resolveConfig('tiny');
    const h = buildCpcGraph(resolveConfig('tiny', { activations: 'f16' }));
    const f = buildCpcGraph(f32cfg);
    const n = h.convDims.length;
    const dtype = (name: string) => h.tensors.find((t) => t.name === name)?.dtype;
    for (let i = 0; i < n - 1; i++) expect(dtype(`act.${i}`), `act.${i}`).toBe('f16');
    expect(dtype(h.z)).toBe('f32');
    for (let i = 0; i < n; i++) {
      expect(dtype(`conv${i}.xhat`), `conv${i}.xhat`).toBe('f16');
      expect(dtype(`conv${i}.rstd`), `conv${i}.rstd`).toBe('f32');
      expect(dtype(`dact.${i}`), `dact.${i}`).toBe('f32');
      if (i > 0) expect(dtype(`conv${i}.bwd.duPad`), `conv${i}.bwd.duPad`).toBe('f16');
    }
    const ph = planMemory(h.tensors, h.ops);
    const pf = planMemory(f.tensors, f.ops);
    const act0 = ph.tensors.find((t) => t.name === 'act.0')!;
    expect(act0.bytes).toBeGreaterThanOrEqual(2 * act0.shape.reduce((a, b) => a * b, 1));
    expect(act0.bytes).toBeLessThan(4 * act0.shape.reduce((a, b) => a * b, 1));
    for (const t of ph.tensors) expect(t.offset % 256, t.name).toBe(0);
    expect(ph.persistentBytes).toBe(pf.persistentBytes);
    expect(ph.transientBytes).toBeLessThan(pf.transientBytes);
  });

  it('the config field is validated and defaults to f32 in every preset', () => {
    expect(resolveConfig('tiny').activations).toBe('f32');
    expect(resolveConfig('small').activations).toBe('f32');
    expect(resolveConfig('paper').activations).toBe('f32');
    expect(() => resolveConfig('tiny', { activations: 'bf16' as never })).toThrow(/activations: must be one of 'f32', 'f16', got "bf16"/);
  });

  it('checkpoint configs round-trip the field; one written before it existed loads as f32', () => {
    const cfg = resolveConfig('tiny', { activations: 'f16' });
    expect(parseConfigJson(JSON.stringify(cfg), 'ckpt').activations).toBe('f16');
    const { activations: _dropped, ...old } = resolveConfig('tiny');
    expect(parseConfigJson(JSON.stringify(old), 'old ckpt')).toEqual(resolveConfig('tiny'));
  });
});

/**
 * Whole model, tiny (norm on, the preset): f16 gradients vs the float64 oracle, with a STATED bound
 * (measured, not derived: composing the per-kernel bounds through 5 norm layers is far too loose to
 * test anything). f32 storage gives ≤ 1.1e-6 of each gradient's norm here (≈ 20 u). With f16
 * storage the parameters upstream of z see the stored activations' 2⁻¹¹ errors amplified by the
 * ChannelNorm backward's projection (du = r·(g − mean g − xhat·S₂/(C−1)) is much smaller than g, so
 * the 2⁻¹¹·|xhat|·|S₂| error of its last term is large relative to du) and by the chain below it:
 * measured on seeds 21 / 22, encoder gradients are 2⁻¹¹ × 4…84 off (encoder.0.weight worst: 4.1e-2,
 * 2.4e-2), while the GRU and predictor gradients, which see only z (f32, from the f16 act.{n−2}), are
 * 2⁻¹¹ × ≤ 1.2 off, and the loss ≤ 5.1e-6. Bounds: encoder 200·2⁻¹¹ ≈ 0.098 (2.4× the worst seen),
 * the rest and the loss 10·2⁻¹¹ ≈ 4.9e-3. A wrong index, a dropped term or a missing f16 widening
 * moves a gradient by O(1) of its norm, ≥ 10× above the encoder bound.
 */
const F16_ENCODER_GRAD_RTOL = 200 * U16;
const F16_GRAD_RTOL = 10 * U16;
const F16_LOSS_RTOL = 10 * U16;

describe('CpcTrainer with activations f16', () => {
  it('matches the float64 oracle on tiny (loss and every gradient) and is bitwise deterministic', async () => {
    const ctx = await device();
    const cfg = resolveConfig('tiny', { activations: 'f16' });
    if (!ctx.has('shader-f16')) {
      await expect(CpcTrainer.create(ctx, cfg)).rejects.toThrow(/CpcTrainer: activations 'f16' needs the 'shader-f16' feature, which this device \(.*\) lacks; use activations 'f32'/);
      return;
    }
    const seed = 21;
    const ocfg = oracleConfig(cfg, 1);
    const p64 = cpcInitParams(ocfg, seed);
    const params = new Map([...p64].map(([k, v]) => [k, Float32Array.from(v)]));
    const signal = Float32Array.from(randomArray(cfg.batchSize * cfg.window, seed + 7, 0.5));
    const ref = cpcLossAndGrads(Float64Array.from(signal), new Map([...params].map(([k, v]) => [k, Float64Array.from(v)])), ocfg);
    const a = await CpcTrainer.create(ctx, cfg, { params });
    const b = await CpcTrainer.create(ctx, cfg, { params });
    try {
      const got = await a.lossAndGrads(signal);
      expectModelGradsClose(got, ref, 'f16 gpu vs oracle', F16_ENCODER_GRAD_RTOL, F16_LOSS_RTOL);
      for (const [name, w] of ref.grads) {
        if (name.startsWith('encoder.')) continue;
        expect(relNormError(got.grads.get(name)!, w), `${name}: ‖got − want‖/‖want‖`).toBeLessThanOrEqual(F16_GRAD_RTOL);
      }
      const again = await b.lossAndGrads(signal);
      expect(again.loss).toBe(got.loss);
      for (const [name, g] of got.grads) expect(Array.from(again.grads.get(name)!), name).toEqual(Array.from(g));
      // Training steps: same seed and data → bitwise-identical losses.
      const la: number[] = [], lb: number[] = [];
      for (let s = 0; s < 3; s++) {
        const x = Float32Array.from(randomArray(cfg.batchSize * cfg.window, 100 + s, 0.5));
        await a.trainStep(x);
        await b.trainStep(x);
      }
      for (const m of await a.flush()) la.push(m.loss);
      for (const m of await b.flush()) lb.push(m.loss);
      expect(la.length).toBe(3);
      expect(lb).toEqual(la);
    } finally {
      a.dispose();
      b.dispose();
    }
  }, 600_000);
});
