// The CPC training step as data: every tensor (shape, lifetime) and every op (what it reads and
// writes, how to prepare its dispatches), in execution order — forward, loss, backward in reverse,
// optimizer. Pure until `prepare` is called, so the memory plan of any config (even one too large
// for this device) can be computed and tested without a GPU.
import type { GpuContext } from '../runtime/device.ts';
import { prepareDispatches, type PreparedOp } from '../runtime/kernel.ts';
import type { OpDecl, TensorDecl } from '../runtime/planner.ts';
import type { Tensor } from '../runtime/tensor.ts';
import type { KernelVariant } from '../runtime/variants.ts';
import {
  conv1dBackwardScratch, conv1dFlops, conv1dForwardScratch, conv1dSavedTensors, encoderStackDims,
  conv1dVariants, planConv1dBackward, prepareConv1dForward, type Conv1dDims, type Conv1dOptions, type Conv1dPlan,
} from '../shaders/conv1d.ts';
import {
  gruBackwardScratch, gruForwardScratch, gruSavedSpec, gruVariants, prepareGruBackward, prepareGruForward,
  type GruBackwardOptions, type GruDims,
} from '../shaders/gru.ts';
import { preparePredictorBackward, preparePredictorForward, predictorVariants, type PredictorOptions } from '../shaders/predictor.ts';
import {
  infoNceBackwardScratch, infoNceForwardScratch, infoNceMetricsLayout, prepareInfoNceBackward,
  prepareInfoNceForward, prepareNegativeSampler, infoNceVariants, type InfoNceMode, type InfoNceOptions,
} from '../shaders/infonce.ts';
import { gradNormScratch, prepareGradNorm, GRAD_NORM_STATS_LEN } from '../shaders/gradNorm.ts';
import { ADAM_HYPER_LEN, prepareAdamStep } from '../shaders/adam.ts';
import { framesPerWindow, type CpcTrainConfig } from './config.ts';
import { paramLayout, type ParamLayout } from './params.ts';

export type Phase = 'forward' | 'loss' | 'backward' | 'optimizer';

/** What an op's `prepare` can look up: planned tensors and parameter / gradient groups. */
export interface GraphEnv {
  ctx: GpuContext;
  tensor(name: string): Tensor;
  param(group: string): Tensor;
  grad(group: string): Tensor;
}

/**
 * An op whose kernels come in variants (src/runtime/variants.ts). The list depends on the device,
 * so it is a function of the context; `dims` is the shape part of the tuner's cache key.
 */
export interface GraphTunable {
  dims: Record<string, number | string | boolean>;
  variants(ctx: GpuContext): KernelVariant[];
}

export interface GraphOp extends OpDecl {
  phase: Phase;
  /** Present when the op has kernel variants; `prepare(env, variant.options)` selects one. */
  tunable?: GraphTunable;
  /** Prepares the op's dispatches; `options` (a variant's) only for tunable ops, default otherwise. */
  prepare(env: GraphEnv, options?: unknown): Promise<PreparedOp>;
}

/** The graph's tunable ops with their candidates on this device (for the tuner's resolveVariants). */
export function graphTunables(graph: CpcGraph, ctx: GpuContext): { name: string; dims: GraphTunable['dims']; variants: KernelVariant[] }[] {
  return graph.ops.flatMap((op) => (op.tunable ? [{ name: op.name, dims: op.tunable.dims, variants: op.tunable.variants(ctx) }] : []));
}

/** A tunable op's variant list (default first) and key dims: one line per op in buildCpcGraph. */
function tunable<D extends object>(dims: D, variants: (ctx: GpuContext) => KernelVariant[]): GraphTunable {
  return { dims: { ...dims } as GraphTunable['dims'], variants };
}

export interface CpcGraph {
  config: CpcTrainConfig;
  layout: ParamLayout;
  /** Frames per window. */
  T: number;
  convDims: Conv1dDims[];
  gruDims: GruDims;
  mode: InfoNceMode;
  tensors: TensorDecl[];
  ops: GraphOp[];
  /** Name of the frame features z [B, T, C] and the context c [B, T, H]. */
  z: string;
  c: string;
}

/** The signal the step reads; the trainer binds it to one of two upload slots. */
export const SIGNAL = 'signal';
export const SIGNAL_SLOTS = ['signal.0', 'signal.1'] as const;

export function buildCpcGraph(cfg: CpcTrainConfig): CpcGraph {
  const B = cfg.batchSize, L = cfg.window, C = cfg.channels, H = cfg.hidden, K = cfg.predictionSteps;
  const T = framesPerWindow(cfg);
  const layout = paramLayout(cfg);
  const P = layout.total;
  const convDims = encoderStackDims({ L, B, channels: C, kernels: cfg.kernels, strides: cfg.strides, norm: cfg.norm, storage: cfg.activations });
  const gruDims: GruDims = { B, T, C, H };
  const mode: InfoNceMode = cfg.negatives.kind === 'sampled'
    ? { kind: 'sampled', n: cfg.negatives.n, shared: cfg.negatives.shared === true }
    : { kind: cfg.negatives.kind };
  const nceDims = { B, T, C, K };
  const tensors: TensorDecl[] = [];
  const ops: GraphOp[] = [];
  const persistent = (name: string, shape: number[], dtype: TensorDecl['dtype'] = 'f32') => tensors.push({ name, shape, dtype, lifetime: 'persistent' });
  const transient = (name: string, shape: number[], dtype: TensorDecl['dtype'] = 'f32') => { tensors.push({ name, shape, dtype, lifetime: 'transient' }); return name; };
  const scratchOf = (prefix: string, specs: { name: string; shape: number[]; dtype: TensorDecl['dtype'] }[]) =>
    specs.map((s) => ({ key: s.name, name: transient(`${prefix}.${s.name}`, s.shape, s.dtype) }));
  const pick = (env: GraphEnv, list: { key: string; name: string }[]) =>
    Object.fromEntries(list.map((s) => [s.key, env.tensor(s.name)]));

  for (const s of SIGNAL_SLOTS) persistent(s, [B, L]);
  persistent('params', [P]);
  persistent('grads', [P]);
  persistent('adam.m', [P]);
  persistent('adam.v', [P]);
  persistent('adam.hyper', [ADAM_HYPER_LEN]);
  persistent('gradNorm', [GRAD_NORM_STATS_LEN]);
  persistent('metrics', [infoNceMetricsLayout(K).length]);
  persistent('gru.h0', [B, H]);
  if (mode.kind === 'sampled') persistent('negatives.seedStep', [2], 'u32');

  // ---- forward: encoder
  const act = (i: number) => `act.${i}`;
  const dact = (i: number) => `dact.${i}`;
  convDims.forEach((d, i) => {
    const x = i === 0 ? SIGNAL_SLOTS[0] : act(i - 1);
    // f16 activations: every conv output but z (read by the GRU and InfoNCE kernels, which are f32).
    transient(act(i), [B, d.Tout, C], cfg.activations === 'f16' && i < convDims.length - 1 ? 'f16' : 'f32');
    const saved = conv1dSavedTensors(d).map((s) => ({ key: s.name, name: transient(`conv${i}.${s.name}`, s.shape, s.dtype) }));
    const scratch = scratchOf(`conv${i}.fwd`, conv1dForwardScratch(d));
    ops.push({
      name: `conv${i}.fwd`, phase: 'forward', reads: [x, 'params'], writes: [act(i), ...saved.map((s) => s.name), ...scratch.map((s) => s.name)],
      tunable: tunable(d, (ctx) => conv1dVariants(ctx, d, 'forward')),
      prepare: (env, options) => {
        const sv = pick(env, saved);
        return prepareConv1dForward(env.ctx, d, {
          x: env.tensor(i === 0 ? SIGNAL : x), weight: env.param(`encoder.${i}.weight`), bias: env.param(`encoder.${i}.bias`), y: env.tensor(act(i)),
          ...(d.norm ? { normWeight: env.param(`encoder.${i}.norm.weight`), normBias: env.param(`encoder.${i}.norm.bias`), xhat: sv.xhat, rstd: sv.rstd } : {}),
          scratch: pick(env, scratch) as { wT: Tensor },
        }, options as Conv1dOptions | undefined);
      },
    });
  });
  const z = act(convDims.length - 1);
  const dz = dact(convDims.length - 1);

  // ---- forward: GRU
  const c = transient('gru.c', [B, T, H]);
  const gruSaved = transient('gru.saved', gruSavedSpec(gruDims).shape);
  const gruFwdScratch = scratchOf('gru.fwd', gruForwardScratch(gruDims));
  const gruParams = (env: GraphEnv, f: (g: string) => Tensor) => ({
    weightIh: f('gru.weight_ih_l0'), weightHh: f('gru.weight_hh_l0'), biasIh: f('gru.bias_ih_l0'), biasHh: f('gru.bias_hh_l0'),
  });
  ops.push({
    name: 'gru.fwd', phase: 'forward', reads: [z, 'gru.h0', 'params'], writes: [c, gruSaved, ...gruFwdScratch.map((s) => s.name)],
    tunable: tunable(gruDims, (ctx) => gruVariants(ctx, gruDims, 'forward')),
    prepare: (env, options) => prepareGruForward(env.ctx, {
      x: env.tensor(z), h0: env.tensor('gru.h0'), params: gruParams(env, env.param), out: env.tensor(c), saved: env.tensor(gruSaved),
      scratch: pick(env, gruFwdScratch) as never,
    }, options as GruBackwardOptions | undefined),
  });

  // ---- loss
  const negIdx = mode.kind === 'sampled' ? transient('negatives.idx', [K, B, T, mode.n], 'u32') : null;
  if (mode.kind === 'sampled') {
    ops.push({
      name: 'negatives.sample', phase: 'loss', reads: ['negatives.seedStep'], writes: [negIdx!],
      prepare: (env) => prepareNegativeSampler(env.ctx, { B, T, K }, mode.n, { seedStep: env.tensor('negatives.seedStep'), negIdx: env.tensor(negIdx!) }, mode.shared),
    });
  }
  const preds = transient('predictor.preds', [K, B, T, C]);
  const predDims = { B, T, C, H, K };
  ops.push({
    name: 'predictor.fwd', phase: 'loss', reads: [c, 'params'], writes: [preds],
    tunable: tunable(predDims, (ctx) => predictorVariants(ctx, predDims, 'forward')),
    prepare: (env, options) => preparePredictorForward(env.ctx, predDims, {
      c: env.tensor(c), weight: env.param('predictors.weight'), bias: cfg.predictorBias ? env.param('predictors.bias') : null, preds: env.tensor(preds),
    }, options as PredictorOptions | undefined),
  });
  const rowLoss = transient('infonce.rowLoss', [K, B, T]);
  const rowLse = transient('infonce.rowLse', [K, B, T]);
  const nceFwdScratch = scratchOf('infonce.fwd', infoNceForwardScratch(nceDims, mode));
  ops.push({
    name: 'infonce.fwd', phase: 'loss', reads: [z, preds, ...(negIdx ? [negIdx] : [])], writes: [rowLoss, rowLse, 'metrics', ...nceFwdScratch.map((s) => s.name)],
    tunable: tunable({ ...nceDims, mode: mode.kind }, (ctx) => infoNceVariants(ctx, nceDims, mode, 'forward')),
    prepare: (env, options) => prepareInfoNceForward(env.ctx, nceDims, mode, {
      z: env.tensor(z), preds: env.tensor(preds), ...(negIdx ? { negIdx: env.tensor(negIdx) } : {}),
      rowLoss: env.tensor(rowLoss), rowLse: env.tensor(rowLse), metrics: env.tensor('metrics'), rowHit: pick(env, nceFwdScratch).rowHit!,
    }, options as InfoNceOptions | undefined),
  });

  // ---- backward
  const dPreds = transient('predictor.dPreds', [K, B, T, C]);
  transient(dz, [B, T, C]);
  const nceBwdScratch = scratchOf('infonce.bwd', infoNceBackwardScratch(nceDims, mode));
  ops.push({
    name: 'infonce.bwd', phase: 'backward', reads: [z, preds, rowLse, ...(negIdx ? [negIdx] : [])], writes: [dPreds, dz, ...nceBwdScratch.map((s) => s.name)],
    tunable: tunable({ ...nceDims, mode: mode.kind }, (ctx) => infoNceVariants(ctx, nceDims, mode, 'backward')),
    prepare: (env, options) => prepareInfoNceBackward(env.ctx, nceDims, mode, {
      z: env.tensor(z), preds: env.tensor(preds), rowLse: env.tensor(rowLse), ...(negIdx ? { negIdx: env.tensor(negIdx) } : {}),
      dPreds: env.tensor(dPreds), dZ: env.tensor(dz), ...pick(env, nceBwdScratch),
    }, options as InfoNceOptions | undefined),
  });
  const dC = transient('gru.dc', [B, T, H]);
  ops.push({
    name: 'predictor.bwd', phase: 'backward', reads: [c, dPreds, 'params'], writes: [dC, 'grads'],
    tunable: tunable(predDims, (ctx) => predictorVariants(ctx, predDims, 'backward')),
    prepare: (env, options) => preparePredictorBackward(env.ctx, predDims, {
      c: env.tensor(c), weight: env.param('predictors.weight'), dPreds: env.tensor(dPreds), dC: env.tensor(dC),
      dWeight: env.grad('predictors.weight'), dBias: cfg.predictorBias ? env.grad('predictors.bias') : null,
    }, options as PredictorOptions | undefined),
  });
  const dh0 = transient('gru.dh0', [B, H]);
  const gruBwdScratch = scratchOf('gru.bwd', gruBackwardScratch(gruDims));
  ops.push({
    // dx accumulates into dz: the InfoNCE gradient of z plus the GRU's.
    name: 'gru.bwd', phase: 'backward', reads: [dC, z, 'gru.h0', c, gruSaved, 'params', dz], writes: [dz, dh0, 'grads', ...gruBwdScratch.map((s) => s.name)],
    tunable: tunable(gruDims, (ctx) => gruVariants(ctx, gruDims, 'backward')),
    prepare: (env, options) => prepareGruBackward(env.ctx, {
      dOut: env.tensor(dC), x: env.tensor(z), h0: env.tensor('gru.h0'), out: env.tensor(c), saved: env.tensor(gruSaved),
      params: gruParams(env, env.param), dx: env.tensor(dz), dh0: env.tensor(dh0),
      dWeightIh: env.grad('gru.weight_ih_l0'), dWeightHh: env.grad('gru.weight_hh_l0'), dBiasIh: env.grad('gru.bias_ih_l0'), dBiasHh: env.grad('gru.bias_hh_l0'),
      scratch: pick(env, gruBwdScratch) as never,
    }, { ...(options as GruBackwardOptions | undefined), accumulate: true }),
  });
  for (let i = convDims.length - 1; i >= 0; i--) {
    const d = convDims[i]!;
    const x = i === 0 ? SIGNAL_SLOTS[0] : act(i - 1);
    const inputGrad = i > 0;
    if (inputGrad) transient(dact(i - 1), [B, d.Tin, C]);
    const saved = conv1dSavedTensors(d).map((s) => ({ key: s.name, name: `conv${i}.${s.name}` }));
    const scratch = scratchOf(`conv${i}.bwd`, conv1dBackwardScratch(d, { inputGrad }));
    const planLayerBackward = (env: GraphEnv, options?: Conv1dOptions) => {
      const sv = pick(env, saved);
      return planConv1dBackward(env.ctx, d, {
        x: env.tensor(i === 0 ? SIGNAL : x), weight: env.param(`encoder.${i}.weight`), y: env.tensor(act(i)), dy: env.tensor(dact(i)),
        dx: inputGrad ? env.tensor(dact(i - 1)) : null, dWeight: env.grad(`encoder.${i}.weight`), dBias: env.grad(`encoder.${i}.bias`),
        ...(d.norm ? {
          normWeight: env.param(`encoder.${i}.norm.weight`), xhat: sv.xhat, rstd: sv.rstd,
          dNormWeight: env.grad(`encoder.${i}.norm.weight`), dNormBias: env.grad(`encoder.${i}.norm.bias`),
        } : {}),
        scratch: pick(env, scratch) as never,
      }, options);
    };
    // Both halves below come from one plan per (env, variant), validated once. The halves are tuned
    // separately (they are separate ops), so each may take another variant's half of the plan.
    const plans = new WeakMap<GraphEnv, Map<string, Conv1dPlan>>();
    const planBackward = (env: GraphEnv, options: unknown): Conv1dPlan => {
      const byOptions = plans.get(env) ?? plans.set(env, new Map()).get(env)!;
      const key = JSON.stringify(options ?? null);
      return byOptions.get(key) ?? byOptions.set(key, planLayerBackward(env, options as Conv1dOptions | undefined)).get(key)!;
    };
    const bwdTunable = tunable(d, (ctx) => conv1dVariants(ctx, d, 'backward'));
    // The layer's backward is two ops so the planner sees that y, dy and the saved norm tensors
    // die once dW is done, before dx (as large as x) is written: on `small` this moves the peak
    // from conv1's backward (x, dx, y, dy, du all live) down by a fifth.
    const split = (p: Conv1dPlan) => {
      const at = p.inputGradFrom ?? p.specs.length;
      return { weights: p.specs.slice(0, at), input: p.specs.slice(at) };
    };
    const duPad = scratch.filter((s) => s.key === 'duPad').map((s) => s.name);
    const wdT = scratch.filter((s) => s.key === 'wdT').map((s) => s.name);
    ops.push({
      name: `conv${i}.bwd.weights`, phase: 'backward',
      reads: [x, act(i), dact(i), 'params', ...saved.map((s) => s.name)],
      writes: ['grads', ...scratch.filter((s) => s.key !== 'wdT').map((s) => s.name)],
      tunable: bwdTunable,
      prepare: (env, options) => {
        const p = planBackward(env, options);
        const flops = p.flops - (inputGrad ? conv1dFlops(d) : 0);
        return prepareDispatches(env.ctx, `${p.name}.weights`, p.shapes, split(p).weights, { flops, bytes: p.bytes });
      },
    });
    if (inputGrad) {
      ops.push({
        name: `conv${i}.bwd.input`, phase: 'backward',
        reads: [...duPad, 'params'], writes: [dact(i - 1), ...wdT],
        tunable: bwdTunable,
        prepare: (env, options) => {
          const p = planBackward(env, options);
          return prepareDispatches(env.ctx, `${p.name}.input`, p.shapes, split(p).input, { flops: conv1dFlops(d), bytes: 4 * (d.B * d.Tin * d.Cin) });
        },
      });
    }
  }

  // ---- optimizer
  const normScratch = scratchOf('optimizer', gradNormScratch(P));
  ops.push({
    name: 'gradNorm', phase: 'optimizer', reads: ['grads'], writes: ['gradNorm', ...normScratch.map((s) => s.name)],
    prepare: (env) => prepareGradNorm(env.ctx, { P }, { grads: env.tensor('grads'), partials: env.tensor(normScratch[0]!.name), normOut: env.tensor('gradNorm') }),
  });
  ops.push({
    name: 'adam', phase: 'optimizer', reads: ['grads', 'adam.hyper', 'gradNorm', 'params', 'adam.m', 'adam.v'], writes: ['params', 'adam.m', 'adam.v'],
    prepare: (env) => prepareAdamStep(env.ctx, { P }, {
      params: env.tensor('params'), grads: env.tensor('grads'), m: env.tensor('adam.m'), v: env.tensor('adam.v'),
      hyper: env.tensor('adam.hyper'), gradNorm: env.tensor('gradNorm'),
    }),
  });
  return { config: cfg, layout, T, convDims, gruDims, mode, tensors, ops, z, c };
}
