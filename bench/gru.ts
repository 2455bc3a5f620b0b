// `cpc-webgpu bench --only gru`: the GRU forward / backward / both, against the per-step baseline
// (bench/gruNaive.*), at (B, T, C, H) = (8, 128, 64, 64) and the paper's (8, 128, 512, 256).
// Rows gru.{fwd,bwd,fwdbwd}[@paper]; the backward runs with accumulate (as the training step does).
// Extra fields: recurrence_ms / baseline_recurrence_ms (our single recurrence dispatch vs the
// baseline's per-step dispatches: its whole forward, which computes the input projection inside
// each step, and the T + 1 step dispatches of its backward), dispatch_ms (each of our dispatches
// timed alone; longest_dispatch_ms must stay far below 1 s), max_abs_diff_vs_baseline (both paths
// computed the same thing in this run).
// Variant rows gru.{fwd,bwd}[<id>][@paper], one per gruVariants entry (field `variant`; `default`
// marks this adapter's default): timed in interleaved rounds in one run, each keeping its best.
import type { GpuContext } from '../src/runtime/device.ts';
import { prepareDispatches, runOps, type DispatchSpec, type PreparedOp } from '../src/runtime/kernel.ts';
import { readTensor } from '../src/runtime/staging.ts';
import { createTensor, writeTensor, type Tensor } from '../src/runtime/tensor.ts';
import {
  gruBackwardScratch, gruForwardScratch, gruSavedSpec, planGruBackward, planGruForward,
  gruVariants, type GruBackwardOptions, type GruDims, type GruPlan, type ScratchSpec,
} from '../src/shaders/gru.ts';
import { gruNaiveScratch, naiveBackwardSpecs, naiveForwardSpecs, writeGruNaiveSteps } from './gruNaive.ts';
import { timeOps } from './timing.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

function lcgFill(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

interface GruSetup {
  fwd: GruPlan;
  bwd: GruPlan;
  naiveFwd: DispatchSpec[];
  naiveBwd: DispatchSpec[];
  /** Outputs to compare: [ours, baseline] pairs. */
  pairs: [string, Tensor, Tensor][];
  destroy(): void;
}

function setup(ctx: GpuContext, d: GruDims, opts: GruBackwardOptions): GruSetup {
  const { B, T, C, H } = d;
  const all: Tensor[] = [];
  const t = (shape: number[], label: string, data?: Float32Array, dtype: 'f32' | 'u32' = 'f32') => {
    const x = createTensor(ctx, shape, dtype, label);
    if (data) writeTensor(ctx, x, data);
    all.push(x);
    return x;
  };
  const scratch = (specs: ScratchSpec[]) => Object.fromEntries(specs.map((s) => [s.name, t(s.shape, s.name, undefined, s.dtype as 'f32')]));
  const ws = 1 / Math.sqrt(H);
  const params = {
    weightIh: t([3 * H, C], 'weightIh', lcgFill(3 * H * C, 1, ws)),
    weightHh: t([3 * H, H], 'weightHh', lcgFill(3 * H * H, 2, ws)),
    biasIh: t([3 * H], 'biasIh', lcgFill(3 * H, 3, ws)),
    biasHh: t([3 * H], 'biasHh', lcgFill(3 * H, 4, ws)),
  };
  const x = t([B, T, C], 'x', lcgFill(B * T * C, 5, 1));
  const h0 = t([B, H], 'h0', new Float32Array(B * H));
  const dOut = t([B, T, H], 'dOut', lcgFill(B * T * H, 6, 0.1));
  const mk = (tag: string) => ({
    out: t([B, T, H], `${tag}.out`), saved: t(gruSavedSpec(d).shape, `${tag}.saved`),
    dx: t([B, T, C], `${tag}.dx`), dh0: t([B, H], `${tag}.dh0`),
    dWeightIh: t([3 * H, C], `${tag}.dWih`), dWeightHh: t([3 * H, H], `${tag}.dWhh`),
    dBiasIh: t([3 * H], `${tag}.dbih`), dBiasHh: t([3 * H], `${tag}.dbhh`),
  });
  const ours = mk('ours');
  const base = mk('naive');
  const fwd = planGruForward(ctx, { x, h0, params, out: ours.out, saved: ours.saved, scratch: scratch(gruForwardScratch(d)) as never }, opts);
  // The training step accumulates the GRU's dx into dz: time what it will run.
  const bwd = planGruBackward(ctx, {
    dOut, x, h0, params, ...ours, scratch: scratch(gruBackwardScratch(d)) as never,
  }, { ...opts, accumulate: true });
  const ns = scratch(gruNaiveScratch(d));
  writeGruNaiveSteps(ctx, ns.steps!, T);
  const naiveFwd = naiveForwardSpecs(ctx, d, { x, h0, params, out: base.out, saved: base.saved, steps: ns.steps! });
  const naiveBwd = naiveBackwardSpecs(ctx, d, {
    dOut, dhT: h0, x, h0, params, ...base, steps: ns.steps!, dG: ns.dG!, gz: ns.gz!,
  }, true);
  const pairs: [string, Tensor, Tensor][] = (Object.keys(ours) as (keyof typeof ours)[])
    .filter((k) => k !== 'saved').map((k) => [k, ours[k], base[k]]);
  return { fwd, bwd, naiveFwd, naiveBwd, pairs, destroy: () => all.forEach((x) => x.buffer.destroy()) };
}

async function opOf(ctx: GpuContext, name: string, specs: DispatchSpec[], flops = 0): Promise<PreparedOp> {
  return prepareDispatches(ctx, name, {}, specs, { flops });
}

async function runShape(b: BenchContext, d: GruDims, suffix: string): Promise<BenchResult[]> {
  const { ctx, peak } = b;
  const s = setup(ctx, d, {});
  try {
    const fwd = await prepareDispatches(ctx, s.fwd.name, s.fwd.shapes, s.fwd.specs, s.fwd);
    const bwd = await prepareDispatches(ctx, s.bwd.name, s.bwd.shapes, s.bwd.specs, s.bwd);
    const nFwd = await opOf(ctx, 'gruNaiveForward', s.naiveFwd);
    const nBwd = await opOf(ctx, 'gruNaiveBackward', s.naiveBwd);
    const nRec = await opOf(ctx, 'gruNaiveBackward.steps', s.naiveBwd.slice(0, d.T + 1));
    // Same inputs, zeroed dx for both (accumulate): one run each, then compare every output.
    for (const [, ours, base] of s.pairs) {
      writeTensor(ctx, ours, new Float32Array(ours.byteLength / 4));
      writeTensor(ctx, base, new Float32Array(base.byteLength / 4));
    }
    await runOps(ctx, [fwd, bwd, nFwd, nBwd]);
    let maxDiff = 0;
    for (const [name, ours, base] of s.pairs) {
      const [o, n] = [await readTensor(ctx, ours), await readTensor(ctx, base)];
      let m = 0;
      for (let i = 0; i < o.length; i++) m = Math.max(m, Math.abs(o[i]! - n[i]!));
      // A sanity check that both paths did the same work, not an accuracy test (tests/gru.test.ts
      // checks both against the float64 oracle): values are O(1)–O(100), f32 differences ~1e-5.
      if (!(m < 1e-2)) throw new Error(`gru bench: ${name} differs from the baseline by ${m}`);
      maxDiff = Math.max(maxDiff, m);
    }
    const quick = b.quick;
    const reps = quick ? 3 : 7;
    const budgetMs = quick ? 2_000 : 8_000;
    const time = (ops: PreparedOp[], heavy = false) => timeOps(ctx, ops, { reps, budgetMs, warmup: heavy ? 0 : 1 });
    const heavy = d.C * d.H > 64 * 64;

    const dispatchMs: Record<string, number> = {};
    const recOf: Record<string, number> = {};
    for (const plan of [s.fwd, s.bwd]) {
      for (const [i, spec] of plan.specs.entries()) {
        const name = `${plan.name}[${i}].${spec.entryPoint}`;
        dispatchMs[name] = round(await time([await opOf(ctx, name, [spec])]));
        if (spec.entryPoint?.includes('Recurrence')) recOf[plan.name] = dispatchMs[name]!;
      }
    }
    const nFwdMs = await time([nFwd], heavy);
    const nRecMs = await time([nRec], heavy);
    const nBwdMs = await time([nBwd], heavy);
    const nBothMs = await time([nFwd, nBwd], heavy);
    const fwdMs = await time([fwd]);
    const bwdMs = await time([bwd]);
    const bothMs = await time([fwd, bwd]);
    const shape = { ...d };
    const longest = Math.max(...Object.values(dispatchMs));
    const common = { shape, peak, max_abs_diff_vs_baseline: maxDiff, longest_dispatch_ms: longest };
    return [
      makeResult({
        name: `gru.fwd${suffix}`, ms: fwdMs, flops: s.fwd.flops, baseline: 'gru.naive.fwd', baselineMs: nFwdMs, ...common,
        recurrence_ms: recOf.gruForward, baseline_recurrence_ms: nFwdMs,
        dispatch_ms: Object.fromEntries(Object.entries(dispatchMs).filter(([k]) => k.startsWith('gruForward'))),
      }),
      makeResult({
        name: `gru.bwd${suffix}`, ms: bwdMs, flops: s.bwd.flops, baseline: 'gru.naive.bwd', baselineMs: nBwdMs, ...common,
        recurrence_ms: recOf.gruBackward, baseline_recurrence_ms: nRecMs,
        dispatch_ms: Object.fromEntries(Object.entries(dispatchMs).filter(([k]) => k.startsWith('gruBackward'))),
      }),
      makeResult({
        name: `gru.fwdbwd${suffix}`, ms: bothMs, flops: s.fwd.flops + s.bwd.flops, baseline: 'gru.naive.fwdbwd', baselineMs: nBothMs, ...common,
      }),
    ];
  } finally {
    s.destroy();
  }
}

/** Every GRU variant's forward and backward at this shape, checked against the baseline first. */
async function runVariants(b: BenchContext, d: GruDims, suffix: string): Promise<BenchResult[]> {
  const { ctx, peak } = b;
  const variants = gruVariants(ctx, d, 'backward');
  const runs: { id: string; fwd: PreparedOp; bwd: PreparedOp; flops: [number, number]; s: GruSetup }[] = [];
  try {
    for (const v of variants) {
      b.log(`gru variant ${v.id}${suffix}: compiling`);
      const s = setup(ctx, d, v.options);
      runs.push({
        id: v.id, s, flops: [s.fwd.flops, s.bwd.flops],
        fwd: await prepareDispatches(ctx, s.fwd.name, s.fwd.shapes, s.fwd.specs, s.fwd),
        bwd: await prepareDispatches(ctx, s.bwd.name, s.bwd.shapes, s.bwd.specs, s.bwd),
      });
      const r = runs[runs.length - 1]!;
      for (const [, ours] of s.pairs) writeTensor(ctx, ours, new Float32Array(ours.byteLength / 4));
      for (const [, , base] of s.pairs) writeTensor(ctx, base, new Float32Array(base.byteLength / 4));
      const nFwd = await opOf(ctx, 'gruNaiveForward', s.naiveFwd);
      const nBwd = await opOf(ctx, 'gruNaiveBackward', s.naiveBwd);
      await runOps(ctx, [r.fwd, r.bwd, nFwd, nBwd]);
      for (const [name, ours, base] of s.pairs) {
        const [o, n] = [await readTensor(ctx, ours), await readTensor(ctx, base)];
        let m = 0;
        for (let i = 0; i < o.length; i++) m = Math.max(m, Math.abs(o[i]! - n[i]!));
        if (!(m < 1e-2)) throw new Error(`gru bench: variant ${v.id} ${name} differs from the baseline by ${m}`);
      }
    }
    const rounds = b.quick ? 1 : 2;
    const opts = { reps: b.quick ? 3 : 5, budgetMs: b.quick ? 1_000 : 3_000, warmup: 0 };
    const best = runs.map(() => [Infinity, Infinity]);
    for (let round = 0; round < rounds; round++) {
      for (const [i, r] of runs.entries()) {
        best[i]![0] = Math.min(best[i]![0]!, await timeOps(ctx, [r.fwd], opts));
        best[i]![1] = Math.min(best[i]![1]!, await timeOps(ctx, [r.bwd], opts));
      }
    }
    const rows: BenchResult[] = [];
    for (const [i, r] of runs.entries()) {
      for (const [j, phase] of (['fwd', 'bwd'] as const).entries()) {
        rows.push(makeResult({
          name: `gru.${phase}[${r.id}]${suffix}`, shape: { ...d }, ms: best[i]![j]!, flops: r.flops[j], peak,
          variant: r.id, default: i === 0,
        }));
      }
    }
    return rows;
  } finally {
    for (const r of runs) r.s.destroy();
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

export const gruSuite: BenchSuite = {
  name: 'gru',
  async run(b) {
    const rows: BenchResult[] = [];
    b.log('gru: (B, T, C, H) = (8, 128, 64, 64)');
    rows.push(...await runShape(b, { B: 8, T: 128, C: 64, H: 64 }, ''));
    rows.push(...await runVariants(b, { B: 8, T: 128, C: 64, H: 64 }, ''));
    if (b.paper) {
      b.log('gru: (B, T, C, H) = (8, 128, 512, 256) @paper');
      rows.push(...await runShape(b, { B: 8, T: 128, C: 512, H: 256 }, '@paper'));
      rows.push(...await runVariants(b, { B: 8, T: 128, C: 512, H: 256 }, '@paper'));
    }
    return rows;
  },
};
