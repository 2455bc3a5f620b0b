import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/runtime/device.ts';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { runOps, type PreparedOp } from '../src/runtime/kernel.ts';
import { createTensor, writeTensor, type Tensor } from '../src/runtime/tensor.ts';
import { learningRate } from '../src/cpc/schedule.ts';
import {
  ADAM_HYPER, ADAM_HYPER_LEN, adamHyperValues, adamScratch, prepareAdamStep, writeAdamHyper,
} from '../src/shaders/adam.ts';
import { GRAD_NORM_CHUNK, GRAD_NORM_STAT, GRAD_NORM_STATS_LEN, gradNormPlan, prepareGradNorm } from '../src/shaders/gradNorm.ts';
import { adamStep, globalNormClip } from './reference/index.ts';
import { AdamErrorBound, DIV_ERR, SQRT_ERR, U } from './helpers/adamErrorBound.ts';
import { expectWithin } from './helpers/compare.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { mulberry32 } from './helpers/random.ts';

// Elements [PAD_START, PAD_END) play the zero padding between two parameter tensors: grads there
// are always 0, and params, m, v must stay exactly 0 (their error bound is 0, so it is checked).
const PAD_START = 64;
const PAD_END = 128;

type Clip = 'none' | 'active' | 'inactive';

interface Case {
  name: string;
  P: number;
  firstStep: number;
  steps: number;
  lr: number | ((step: number) => number);
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  decoupled?: boolean;
  clip: Clip;
  /** Multiplies every gradient (default 1). */
  gradMagnitude?: number;
  /** Start from non-zero moments (as a resumed run would). */
  warmMoments?: boolean;
  /** Per step (0-based within the case): indices whose gradient is replaced by this value. */
  poison?: Record<number, [number, number][]>;
}

function randomVector(P: number, rnd: () => number, scale: (r: number) => number): Float32Array {
  const out = Float32Array.from({ length: P }, () => scale(rnd()) * (rnd() - 0.5));
  out.fill(0, PAD_START, PAD_END);
  return out;
}

/** Gradients whose magnitudes span three decades: some elements sit near eps·sqrt(v) scale. */
const gradScale = (r: number) => 10 ** (3 * r - 3);

interface Gpu {
  params: Tensor; grads: Tensor; m: Tensor; v: Tensor; hyper: Tensor; stats: Tensor; partials: Tensor;
  ops: PreparedOp[];
}

async function prepare(ctx: GpuContext, P: number, p: Float32Array, m: Float32Array, v: Float32Array): Promise<Gpu> {
  const params = upload(ctx, [P], p, 'f32', 'params');
  const grads = createTensor(ctx, [P], 'f32', 'grads');
  const mt = upload(ctx, [P], m, 'f32', 'm');
  const vt = upload(ctx, [P], v, 'f32', 'v');
  const hyper = createTensor(ctx, [ADAM_HYPER_LEN], 'f32', 'hyper');
  const stats = createTensor(ctx, [GRAD_NORM_STATS_LEN], 'f32', 'gradNorm');
  const [s] = adamScratch(P);
  const partials = createTensor(ctx, s!.shape, s!.dtype, s!.name);
  const ops = [
    await prepareGradNorm(ctx, { P }, { grads, partials, normOut: stats }),
    await prepareAdamStep(ctx, { P }, { params, grads, m: mt, v: vt, hyper, gradNorm: stats }),
  ];
  return { params, grads, m: mt, v: vt, hyper, stats, partials, ops };
}

function destroy(g: Gpu): void {
  for (const t of [g.params, g.grads, g.m, g.v, g.hyper, g.stats, g.partials]) t.buffer.destroy();
}

/** |got − want| ≤ 2·bound per element (2: headroom for the second-order terms the bound drops). */
function expectWithinBound(got: Float64Array, want: Float64Array, bound: Float64Array, what: string): void {
  expectWithin(got, want, Float64Array.from(bound, (b) => 2 * b), `${what} (2× the propagated rounding bound)`);
}

interface CaseResult { p: Float64Array; m: Float64Array; v: Float64Array; stats: Float64Array[] }

/**
 * Runs `c` on the GPU and in the float64 oracle side by side and checks params, m, v and the
 * gradient norm after every step.
 */
async function runCase(ctx: GpuContext, c: Case, seed = 1): Promise<CaseResult> {
  const { P } = c;
  const rnd = mulberry32(seed);
  const p32 = randomVector(P, rnd, () => 2);
  const m32 = c.warmMoments ? randomVector(P, rnd, (r) => 0.1 * gradScale(r)) : new Float32Array(P);
  // v ≥ m² (as Adam's moments always are), so the warm state is a reachable one.
  const v32 = c.warmMoments ? Float32Array.from(m32, (x, i) => x * x * (1 + 3 * ((i * 7919) % 13) / 13)) : new Float32Array(P);
  const gpu = await prepare(ctx, P, p32, m32, v32);
  const p = Float64Array.from(p32), m = Float64Array.from(m32), v = Float64Array.from(v32);
  const bound = new AdamErrorBound(P);
  const beta1 = c.beta1 ?? 0.9, beta2 = c.beta2 ?? 0.999, eps = c.eps ?? 1e-8, wd = c.weightDecay ?? 0;
  const chain = gradNormPlan(P).chainLength;
  const statsSeen: Float64Array[] = [];
  let step = c.firstStep;
  let prev: { p: Float64Array; m: Float64Array; v: Float64Array } = { p: Float64Array.from(p32), m: Float64Array.from(m32), v: Float64Array.from(v32) };
  for (let s = 0; s < c.steps; s++) {
    const g32 = randomVector(P, rnd, (r) => (c.gradMagnitude ?? 1) * gradScale(r));
    for (const [at, value] of c.poison?.[s] ?? []) g32[at] = value;
    const finite = g32.every(Number.isFinite);
    const lr = typeof c.lr === 'number' ? c.lr : c.lr(step);
    let norm = 0;
    for (const x of g32) norm += x * x;
    norm = Math.sqrt(norm);
    const maxNorm = c.clip === 'active' ? norm / 2 : c.clip === 'inactive' ? 2 * norm : Infinity;
    writeTensor(ctx, gpu.grads, g32);
    writeAdamHyper(ctx, gpu.hyper, { lr, step, beta1, beta2, eps, weightDecay: wd, decoupled: c.decoupled, maxNorm: finite ? maxNorm : 1 });
    await runOps(ctx, gpu.ops);
    const stats = await download(ctx, gpu.stats);
    statsSeen.push(stats);
    const [gp, gm, gv] = [await download(ctx, gpu.params), await download(ctx, gpu.m), await download(ctx, gpu.v)];
    if (!finite) {
      // Skipped step: the state must be bit-for-bit what it was, and the flag raised.
      expect(stats[GRAD_NORM_STAT.nonFinite], `step ${step}: non-finite flag`).toBe(1);
      expect(stats[GRAD_NORM_STAT.norm]).toBeNaN();
      expect(Array.from(gp), `step ${step}: params unchanged`).toEqual(Array.from(prev.p));
      expect(Array.from(gm), `step ${step}: m unchanged`).toEqual(Array.from(prev.m));
      expect(Array.from(gv), `step ${step}: v unchanged`).toEqual(Array.from(prev.v));
      continue; // the oracle skips the step too, and the step counter does not advance
    }
    const before = prev;
    prev = { p: gp, m: gm, v: gv };
    expect(stats[GRAD_NORM_STAT.nonFinite]).toBe(0);
    const g = Float64Array.from(g32);
    const clip = globalNormClip([g], maxNorm);
    // The case must exercise what its name says: a scale < 1, or exactly 1.
    if (c.clip === 'active') expect(clip.scale).toBeLessThan(0.6);
    else expect(clip.scale).toBe(1);
    // GPU norm: Σg² chain (relative ≤ chain·U), halved by sqrt, plus sqrt's error.
    const normRtol = (chain * U) / 2 + SQRT_ERR;
    expect(Math.abs(stats[GRAD_NORM_STAT.norm]! - clip.norm)).toBeLessThanOrEqual(normRtol * clip.norm);
    // Clip scale = min(1, maxNorm / (norm + 1e-6)): the norm's error, the addition, the division
    // (maxNorm itself is rounded to f32: one more U). Exactly 1 when the ratio is far above 1.
    const scaleErr = clip.scale < 1 ? normRtol + 2 * U + DIV_ERR : 0;
    const h = adamHyperValues({ lr, step, beta1, beta2, eps, weightDecay: wd, decoupled: c.decoupled });
    const p0 = Float64Array.from(p), m0 = Float64Array.from(m), v0 = Float64Array.from(v);
    adamStep(p, g, m, v, step, { lr, beta1, beta2, eps, weightDecay: wd, decoupled: c.decoupled });
    bound.step({
      beta1, beta2, eps, l2: c.decoupled ? 0 : wd, decay: c.decoupled ? lr * wd : 0,
      stepSize: h[ADAM_HYPER.stepSize]!, invBc2Sqrt: h[ADAM_HYPER.invBc2Sqrt]!, scaleErr,
    }, p0, m0, v0, g, p);
    expectWithinBound(gm, m, bound.dM, `${c.name} step ${step}: m`);
    expectWithinBound(gv, v, bound.dV, `${c.name} step ${step}: v`);
    expectWithinBound(gp, p, bound.dP, `${c.name} step ${step}: params`);
    // The kernel really ran: params moved from the GPU's own previous state.
    expect(gp.some((x, i) => x !== before.p[i])).toBe(true);
    step++;
  }
  const out = { p: await download(ctx, gpu.params), m: await download(ctx, gpu.m), v: await download(ctx, gpu.v), stats: statsSeen };
  destroy(gpu);
  return out;
}

const cases: Case[] = [
  { name: 'Adam, no decay, no clipping, P = 1003 (not a multiple of 64 or 4)', P: 1003, firstStep: 1, steps: 4, lr: 1e-3, clip: 'none' },
  {
    name: 'Adam + L2 decay, clipping active, P = 3 norm chunks + 77 (4 chunks + tail)',
    P: 3 * GRAD_NORM_CHUNK + 77, firstStep: 1, steps: 4, lr: 2e-4, weightDecay: 0.05, clip: 'active',
  },
  {
    name: 'AdamW, clipping inactive (maxNorm above the norm), custom betas/eps, P = 1003',
    P: 1003, firstStep: 1, steps: 4, lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: true, clip: 'inactive',
  },
  {
    name: 'AdamW + clipping active, resumed at step 1000 with warm moments and a scheduled lr, P = 4096 (no tail)',
    P: 4096, firstStep: 1000, steps: 3, weightDecay: 0.01, decoupled: true, clip: 'active', warmMoments: true,
    lr: (step) => learningRate(step, { lr: 2e-4, warmupSteps: 100, totalSteps: 2000, minLr: 1e-5 }),
  },
  {
    // ‖g‖ ≈ 5e-5: clip_grad_norm_'s +1e-6 changes the scale by ~2 %, and eps = 1e-8 is comparable
    // to sqrt(v̂) for the smaller elements, so both constants must be where torch puts them.
    name: 'Adam, tiny gradients (‖g‖ ~ 5e-5), clipping active, P = 1003',
    P: 1003, firstStep: 1, steps: 3, lr: 1e-3, clip: 'active', gradMagnitude: 1e-5,
  },
];

describe('adamStep + gradNorm vs the float64 oracle (Adam/AdamW, clip_grad_norm_)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      await runCase(await testDevice(), c);
    });
  }

  it('skips a step with a NaN or Inf gradient (params, m, v bitwise unchanged, flag set), then resumes', async () => {
    const ctx = await testDevice();
    await runCase(ctx, {
      name: 'non-finite', P: 1003, firstStep: 1, steps: 5, lr: 1e-3, weightDecay: 0.01, clip: 'active',
      // step index 1: NaN in the vec4 part; index 3: +Inf in the scalar tail (1003 = 4·250 + 3).
      poison: { 1: [[500, NaN]], 3: [[1002, Infinity]] },
    });
  });

  it('is bitwise deterministic: two runs give identical params, moments and norms', async () => {
    const ctx = await testDevice();
    const c = cases[1]!;
    const a = await runCase(ctx, c, 5);
    const b = await runCase(ctx, c, 5);
    expect(Array.from(b.p)).toEqual(Array.from(a.p));
    expect(Array.from(b.m)).toEqual(Array.from(a.m));
    expect(Array.from(b.v)).toEqual(Array.from(a.v));
    expect(b.stats.map((s) => Array.from(s))).toEqual(a.stats.map((s) => Array.from(s)));
  });
});

describe('adam launcher and hyper-parameter errors', () => {
  it('refuses wrong shapes, dtypes, aliasing and P beyond the binding limit, naming op and shapes', async () => {
    const ctx = await testDevice();
    const P = 100;
    const mk = (n: number, label: string, dtype: 'f32' | 'u32' = 'f32') => createTensor(ctx, [n], dtype, label);
    const t = { params: mk(P, 'params'), grads: mk(P, 'grads'), m: mk(P, 'm'), v: mk(P, 'v'), hyper: mk(ADAM_HYPER_LEN, 'hyper'), gradNorm: mk(GRAD_NORM_STATS_LEN, 'gradNorm') };
    const wrong = mk(P + 1, 'wrong');
    const u32 = mk(P, 'u32', 'u32');
    const tries: [() => unknown, RegExp][] = [
      [() => prepareAdamStep(ctx, { P }, { ...t, m: wrong }), /adamStep: m has shape \[101\], expected \[100\]/],
      [() => prepareAdamStep(ctx, { P }, { ...t, v: u32 }), /adamStep: v must be f32, got u32.*P=100/],
      [() => prepareAdamStep(ctx, { P }, { ...t, hyper: t.gradNorm }), /adamStep: hyper has shape \[4\], expected \[12\]/],
      [() => prepareAdamStep(ctx, { P }, { ...t, gradNorm: t.hyper }), /adamStep: gradNorm has shape \[12\], expected \[4\]/],
      [() => prepareAdamStep(ctx, { P: 3 }, t), /adamStep: P must be an integer ≥ 4/],
      [() => prepareAdamStep(ctx, { P }, { ...t, v: t.m }), /adamStep: m .* and v .* overlap/],
    ];
    for (const [f, msg] of tries) expect(f).toThrow(msg);
    const huge = ctx.limits.maxStorageBufferBindingSize / 4 + 4;
    expect(() => prepareAdamStep(ctx, { P: huge }, t)).toThrow(LimitExceededError);
    expect(() => prepareAdamStep(ctx, { P: huge }, t)).toThrow(/adamStep: needs maxStorageBufferBindingSize/);
    for (const x of [...Object.values(t), wrong, u32]) x.buffer.destroy();
  });

  it('validates hyper-parameters before writing them', async () => {
    const ctx = await testDevice();
    const hyper = createTensor(ctx, [ADAM_HYPER_LEN], 'f32', 'hyper');
    const ok = { lr: 1e-3, step: 1 };
    const tries: [object, RegExp][] = [
      [{ ...ok, step: 0 }, /writeAdamHyper: step must be an integer ≥ 1, got 0/],
      [{ ...ok, step: 1.5 }, /step must be an integer/],
      [{ ...ok, lr: -1 }, /lr must be finite and ≥ 0/],
      [{ ...ok, lr: NaN }, /lr must be finite/],
      [{ ...ok, beta1: 1 }, /beta1 must be in \[0, 1\)/],
      [{ ...ok, beta2: -0.1 }, /beta2 must be in \[0, 1\)/],
      [{ ...ok, eps: 0 }, /eps must be finite and > 0/],
      [{ ...ok, weightDecay: -1 }, /weightDecay must be finite and ≥ 0/],
      [{ ...ok, maxNorm: 0 }, /maxNorm must be > 0/],
      [{ ...ok, maxNorm: NaN }, /maxNorm must be > 0/],
      [{ ...ok, maxNorm: 1e39 }, /overflows f32/],
    ];
    for (const [h, msg] of tries) expect(() => writeAdamHyper(ctx, hyper, h as never)).toThrow(msg);
    const short = createTensor(ctx, [4], 'f32', 'short');
    expect(() => writeAdamHyper(ctx, short, ok)).toThrow(ShapeError);
    expect(() => writeAdamHyper(ctx, short, ok)).toThrow(/writeAdamHyper: hyper has shape \[4\], expected \[12\]/);
    // Adam puts the decay on the gradient, AdamW on the params; no clipping is the −1 marker.
    const adam = adamHyperValues({ lr: 0.5, step: 3, weightDecay: 0.25 });
    const adamw = adamHyperValues({ lr: 0.5, step: 3, weightDecay: 0.25, decoupled: true, maxNorm: 2 });
    expect([adam[ADAM_HYPER.l2], adam[ADAM_HYPER.decay], adam[ADAM_HYPER.maxNorm]]).toEqual([0.25, 0, -1]);
    expect([adamw[ADAM_HYPER.l2], adamw[ADAM_HYPER.decay], adamw[ADAM_HYPER.maxNorm]]).toEqual([0, 0.125, 2]);
    hyper.buffer.destroy(); short.buffer.destroy();
  });
});
