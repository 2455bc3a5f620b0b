// `cpc-webgpu bench --only conv`: the 5-layer CPC encoder (kernels [10, 8, 4, 4, 4], strides
// [5, 4, 2, 2, 2]) forward and backward, per layer and for the whole stack, against the naive
// one-invocation-per-output baselines (bench/convNaive.*). Shapes: small (B = 8, C = 64,
// L = 20480) and, unless --quick / --no-paper, the paper's C = 512 (@paper rows, B = 8).
//
// Every dispatch runs in its own timestamped pass (Profiler); one profiled run of the whole stack
// gives each dispatch, each layer (sum of its dispatches) and the stack (sum of all), and the
// median over reps is reported. Extra fields per row: dispatch_ms (the layer's dispatches —
// the profile that shows where the time goes), max_abs_diff_vs_baseline (small shape: ours and
// the baseline computed the same thing in this run), lanes (subgroup or portable fetch8).
// The @paper baselines run at B = 1 and are scaled ×8 (baseline_scaled_from_B = 1): the naive
// kernels' work is exactly linear in B, and at B = 8 they alone would take several minutes here.
// Extra rows: conv.stack.{fwd,bwd}.norm (ChannelNorm on; no baseline) and
// conv.stack.{fwd,bwd}.portable (no subgroups, what browsers without them run).
// Variant rows conv.l<i>.{fwd,bwd}[<variant id>] (fields variant, is_default, vs_default =
// default's ms / this ms, both measured in this run): every entry of conv1dVariants for that layer
// and phase, each variant's stack built once and the variants timed interleaved rep by rep (so
// machine load hits them alike). At @paper they run at B = 1 (shape says so): the per-layer GEMMs
// keep ≥ 126 rows there, and 10 variants × B = 8 would take tens of minutes on a software adapter.
import type { GpuContext } from '../src/runtime/device.ts';
import { prepareDispatches, runOps, type DispatchSpec, type PreparedOp } from '../src/runtime/kernel.ts';
import { Profiler } from '../src/runtime/profiler.ts';
import { readTensor } from '../src/runtime/staging.ts';
import { createTensor, writeTensor, type Tensor } from '../src/runtime/tensor.ts';
import {
  conv1dBackwardScratch, conv1dFlops, conv1dForwardScratch, conv1dSavedTensors, conv1dVariants, encoderStackDims, planConv1dBackward,
  planConv1dForward, type Conv1dDims, type Conv1dOptions, type Conv1dPlan, type Conv1dTensorSpec,
} from '../src/shaders/conv1d.ts';
import { naiveBackwardSpecs, naiveForwardSpecs } from './convNaive.ts';
import { median } from './timing.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

const KERNELS = [10, 8, 4, 4, 4];
const STRIDES = [5, 4, 2, 2, 2];

function fill(n: number, seed: number, scale: number, positive = false): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = (s / 4294967296) * 2 - 1;
    out[i] = (positive ? Math.abs(u) : u) * scale;
  }
  return out;
}

/** One op per dispatch, tagged with its layer, so a single profiled run yields every breakdown. */
interface TaggedOp { layer: number; op: PreparedOp; entry: string }

interface Stack {
  dims: Conv1dDims[];
  fwd: TaggedOp[];
  bwd: TaggedOp[];
  /** [name, ours, baseline] tensors to compare after one run of both. */
  pairs: [string, number, Tensor, Tensor][];
  destroy(): void;
}

async function opsOf(ctx: GpuContext, layer: number, name: string, specs: DispatchSpec[], flops: number): Promise<TaggedOp[]> {
  return Promise.all(specs.map(async (s, i) => ({
    layer, entry: s.entryPoint ?? 'main',
    op: await prepareDispatches(ctx, `${name}[${i}].${s.entryPoint}`, {}, [s], { flops: i === 0 ? flops : 0 }),
  })));
}

/** Our stack (naive = false) or the baseline stack; `shared` lets the baseline read our tensors. */
async function buildStack(
  ctx: GpuContext, dims: Conv1dDims[], naive: boolean, opts: Conv1dOptions, shared?: Stack & { tensors: Map<string, Tensor> },
): Promise<Stack & { tensors: Map<string, Tensor> }> {
  const all: Tensor[] = [];
  const tensors = new Map<string, Tensor>();
  const t = (name: string, shape: number[], data?: Float32Array) => {
    const x = createTensor(ctx, shape, 'f32', name);
    if (data) writeTensor(ctx, x, data);
    all.push(x);
    tensors.set(name, x);
    return x;
  };
  const spec = (prefix: string, specs: Conv1dTensorSpec[]) => Object.fromEntries(specs.map((s) => [s.name, t(`${prefix}.${s.name}`, s.shape)]));
  const fwd: TaggedOp[] = [];
  const bwd: TaggedOp[] = [];
  const pairs: Stack['pairs'] = [];
  const d0 = dims[0]!;
  let x = shared?.tensors.get('x0') ?? t('x0', [d0.B, d0.Tin], fill(d0.B * d0.Tin, 1, 1));
  const layerIO: { x: Tensor; y: Tensor; w: Tensor }[] = [];
  for (const d of dims) {
    const i = d.layer;
    const w = shared?.tensors.get(`w${i}`) ?? t(`w${i}`, [d.Cout, d.Cin, d.K], fill(d.Cout * d.Cin * d.K, 10 + i, 1 / Math.sqrt(d.Cin * d.K)));
    const bias = shared?.tensors.get(`b${i}`) ?? t(`b${i}`, [d.Cout], fill(d.Cout, 20 + i, 0.1));
    const y = t(`y${i}`, [d.B, d.Tout, d.Cout]);
    if (naive) {
      // The baseline reads our stack's inputs, so each layer sees the same data as ours.
      const xin = shared ? shared.tensors.get(i === 0 ? 'x0' : `y${i - 1}`)! : x;
      fwd.push(...await opsOf(ctx, i, `convNaive.l${i + 1}.fwd`, naiveForwardSpecs(ctx, d, { x: xin, weight: w, bias, y }), conv1dFlops(d)));
      if (shared) pairs.push([`l${i + 1}.y`, i, shared.tensors.get(`y${i}`)!, y]);
    } else {
      const g = createTensor(ctx, [d.Cout], 'f32', 'gamma');
      writeTensor(ctx, g, new Float32Array(d.Cout).fill(1));
      all.push(g);
      const saved = spec(`saved${i}`, conv1dSavedTensors(d));
      const plan = planConv1dForward(ctx, d, {
        x, weight: w, bias, y, normWeight: g, normBias: bias, xhat: saved.xhat, rstd: saved.rstd,
        scratch: spec(`fs${i}`, conv1dForwardScratch(d)) as { wT: Tensor },
      }, opts);
      fwd.push(...await opsOf(ctx, i, plan.name, plan.specs, plan.flops));
      tensors.set(`g${i}`, g);
    }
    layerIO.push({ x, y, w });
    x = y;
  }
  const dL = dims[dims.length - 1]!;
  let dy = shared?.tensors.get('dz') ?? t('dz', [dL.B, dL.Tout, dL.Cout], fill(dL.B * dL.Tout * dL.Cout, 2, 1));
  for (const d of [...dims].reverse()) {
    const i = d.layer;
    const { x: xi, y, w } = layerIO[i]!;
    const dx = i > 0 ? t(`dx${i}`, [d.B, d.Tin, d.Cin]) : null;
    const dWeight = t(`dw${i}`, [d.Cout, d.Cin, d.K]);
    const dBias = t(`db${i}`, [d.Cout]);
    if (naive) {
      const src = (name: string, own: Tensor) => shared?.tensors.get(name) ?? own;
      const du = t(`du${i}`, [d.B, d.Tout, d.Cout]);
      const specs = naiveBackwardSpecs(ctx, d, {
        x: src(i === 0 ? 'x0' : `y${i - 1}`, xi), weight: w, y: src(`y${i}`, y), dy: src(i === dims.length - 1 ? 'dz' : `dx${i + 1}`, dy),
        du, dx, dWeight, dBias,
      });
      bwd.push(...await opsOf(ctx, i, `convNaive.l${i + 1}.bwd`, specs, conv1dFlops(d) * (dx ? 2 : 1)));
      if (shared) {
        pairs.push([`l${i + 1}.dWeight`, i, shared.tensors.get(`dw${i}`)!, dWeight]);
        if (dx) pairs.push([`l${i + 1}.dx`, i, shared.tensors.get(`dx${i}`)!, dx]);
      }
    } else {
      const saved = { xhat: tensors.get(`saved${i}.xhat`), rstd: tensors.get(`saved${i}.rstd`) };
      const plan: Conv1dPlan = planConv1dBackward(ctx, d, {
        x: xi, weight: w, y, dy, dx, dWeight, dBias, normWeight: tensors.get(`g${i}`), ...saved,
        dNormWeight: t(`dg${i}`, [d.Cout]), dNormBias: t(`dbeta${i}`, [d.Cout]),
        scratch: spec(`bs${i}`, conv1dBackwardScratch(d, { inputGrad: dx !== null })) as never,
      }, opts);
      bwd.push(...await opsOf(ctx, i, plan.name, plan.specs, plan.flops));
    }
    if (dx) dy = dx;
  }
  return { dims, fwd, bwd, pairs, tensors, destroy: () => all.forEach((a) => a.buffer.destroy()) };
}

interface Profiled { layerMs: number[][]; stackMs: number[]; dispatchMs: Map<string, number[]> }

async function profileReps(prof: Profiler, ops: TaggedOp[], layers: number, reps: number, warmup: number): Promise<Profiled> {
  const res: Profiled = { layerMs: Array.from({ length: layers }, () => []), stackMs: [], dispatchMs: new Map() };
  for (let r = 0; r < warmup + reps; r++) {
    const p = await prof.profile(ops.map((o) => o.op));
    if (r < warmup) continue;
    const per = new Array<number>(layers).fill(0);
    p.ops.forEach((o, i) => {
      per[ops[i]!.layer]! += o.ms;
      const list = res.dispatchMs.get(o.name) ?? [];
      list.push(o.ms);
      res.dispatchMs.set(o.name, list);
    });
    per.forEach((ms, l) => res.layerMs[l]!.push(ms));
    res.stackMs.push(p.totalMs);
  }
  return res;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

async function runShape(b: BenchContext, prof: Profiler, cfg: { B: number; C: number; L: number }, suffix: string): Promise<BenchResult[]> {
  const { ctx, peak } = b;
  const paper = suffix === '@paper';
  const dims = encoderStackDims({ L: cfg.L, B: cfg.B, channels: cfg.C, kernels: KERNELS, strides: STRIDES });
  const reps = b.quick ? 3 : paper ? 3 : 7;
  const warmup = paper ? 0 : 1;
  const shape = { B: cfg.B, C: cfg.C, L: cfg.L };
  const rows: BenchResult[] = [];
  const ours = await buildStack(ctx, dims, false, {});
  let base: Stack | null = null;
  let naiveScale = 1;
  try {
    const naiveB = paper ? 1 : cfg.B;
    naiveScale = cfg.B / naiveB;
    base = paper
      ? await buildStack(ctx, encoderStackDims({ L: cfg.L, B: naiveB, channels: cfg.C, kernels: KERNELS, strides: STRIDES }), true, {})
      : await buildStack(ctx, dims, true, {}, ours);
    const diffs = new Map<number, number>();
    if (!paper) {
      await runOps(ctx, [...ours.fwd, ...ours.bwd, ...base.fwd, ...base.bwd].map((o) => o.op));
      for (const [name, layer, a, c] of base.pairs) {
        const [x, y] = [await readTensor(ctx, a), await readTensor(ctx, c)];
        let m = 0, scale = 0;
        for (let i = 0; i < x.length; i++) { m = Math.max(m, Math.abs(x[i]! - y[i]!)); scale = Math.max(scale, Math.abs(y[i]!)); }
        if (!(m <= 1e-3 * Math.max(1, scale))) throw new Error(`conv bench: ${name} differs from the baseline by ${m} (max |value| ${scale})`);
        diffs.set(layer, Math.max(diffs.get(layer) ?? 0, m));
      }
    }
    for (const dir of ['fwd', 'bwd'] as const) {
      b.log(`conv${suffix}: ${dir} (ours, then baseline${paper ? ' at B = 1' : ''})`);
      const o = await profileReps(prof, ours[dir], dims.length, reps, warmup);
      const n = await profileReps(prof, base[dir], dims.length, paper ? 1 : reps, paper ? 0 : warmup);
      const flops = dims.map((d) => conv1dFlops(d) * (dir === 'bwd' && d.layer > 0 ? 2 : 1));
      dims.forEach((d, l) => {
        const dispatch = Object.fromEntries([...o.dispatchMs].filter(([k]) => k.startsWith(`conv1d${dir === 'fwd' ? 'Forward' : 'Backward'}.l${l + 1}[`))
          .map(([k, v]) => [k, r4(median(v))]));
        rows.push(makeResult({
          name: `conv.l${l + 1}.${dir}${suffix}`, shape, ms: median(o.layerMs[l]!), flops: flops[l], peak,
          baseline: `conv.naive.l${l + 1}.${dir}`, baselineMs: median(n.layerMs[l]!) * naiveScale,
          ...(paper ? { baseline_scaled_from_B: 1 } : { max_abs_diff_vs_baseline: diffs.get(l) ?? null }),
          lanes: ctx.has('subgroups') ? 'subgroup' : 'portable', dispatch_ms: dispatch,
        }));
      });
      rows.push(makeResult({
        name: `conv.stack.${dir}${suffix}`, shape, ms: median(o.stackMs), flops: flops.reduce((a, c) => a + c, 0), peak,
        baseline: `conv.naive.stack.${dir}`, baselineMs: median(n.stackMs) * naiveScale,
        ...(paper ? { baseline_scaled_from_B: 1 } : {}),
      }));
    }
  } finally {
    ours.destroy();
    base?.destroy();
  }
  if (!paper) {
    // Variants on the small shape: ChannelNorm on, and the portable (no-subgroup) lane sharing.
    const variants: [string, Conv1dDims[], Conv1dOptions][] = [['norm', dims.map((d) => ({ ...d, norm: true })), {}]];
    if (ctx.has('subgroups')) variants.push(['portable', dims, { lanes: 'portable' }]);
    for (const [tag, ds, opts] of variants) {
      b.log(`conv${suffix}: stack variant ${tag}`);
      const s = await buildStack(ctx, ds, false, opts);
      try {
        for (const dir of ['fwd', 'bwd'] as const) {
          const o = await profileReps(prof, s[dir], ds.length, b.quick ? 2 : 3, 1);
          const flops = ds.reduce((a, d) => a + conv1dFlops(d) * (dir === 'bwd' && d.layer > 0 ? 2 : 1), 0);
          rows.push(makeResult({ name: `conv.stack.${dir}.${tag}${suffix}`, shape, ms: median(o.stackMs), flops, peak, lanes: opts.lanes ?? 'subgroup' }));
        }
      } finally {
        s.destroy();
      }
    }
  }
  return rows;
}

/** Per-layer rows for every conv1dVariants entry, timed interleaved in one run (header). */
export async function variantRows(b: BenchContext, prof: Profiler, cfg: { B: number; C: number; L: number }, suffix: string): Promise<BenchResult[]> {
  const { ctx, peak } = b;
  const dims = encoderStackDims({ L: cfg.L, B: cfg.B, channels: cfg.C, kernels: KERNELS, strides: STRIDES });
  const shape = { B: cfg.B, C: cfg.C, L: cfg.L };
  const dirs = [['fwd', 'forward'], ['bwd', 'backward']] as const;
  // id → options, and per (layer, dir) the ids listed there (first = default).
  const options = new Map<string, Conv1dOptions>();
  const listed = new Map<string, string[]>();
  for (const d of dims) {
    for (const [dir, phase] of dirs) {
      const list = conv1dVariants(ctx, d, phase);
      listed.set(`${d.layer}.${dir}`, list.map((v) => v.id));
      for (const v of list) options.set(v.id, v.options);
    }
  }
  const stacks = new Map<string, Stack>();
  const times = new Map<string, number[]>();
  const reps = b.quick ? 3 : 5;
  try {
    for (const [id, opts] of options) {
      b.log(`conv${suffix}: building variant ${id}`);
      stacks.set(id, await buildStack(ctx, dims, false, opts));
    }
    for (let r = 0; r < reps + 1; r++) {
      b.log(`conv${suffix}: variants rep ${r + 1}/${reps + 1}${r === 0 ? ' (warm-up)' : ''}`);
      for (const [id, s] of stacks) {
        for (const [dir] of dirs) {
          const o = await profileReps(prof, s[dir], dims.length, 1, 0);
          if (r === 0) continue;
          o.layerMs.forEach((ms, l) => {
            const k = `${l}.${dir}.${id}`;
            times.set(k, [...(times.get(k) ?? []), ms[0]!]);
          });
        }
      }
    }
  } finally {
    for (const s of stacks.values()) s.destroy();
  }
  const rows: BenchResult[] = [];
  for (const d of dims) {
    for (const [dir] of dirs) {
      const ids = listed.get(`${d.layer}.${dir}`)!;
      const defMs = median(times.get(`${d.layer}.${dir}.${ids[0]}`)!);
      for (const id of ids) {
        const ms = median(times.get(`${d.layer}.${dir}.${id}`)!);
        rows.push(makeResult({
          name: `conv.l${d.layer + 1}.${dir}[${id}]${suffix}`, shape, ms, peak,
          flops: conv1dFlops(d) * (dir === 'bwd' && d.layer > 0 ? 2 : 1),
          variant: id, is_default: id === ids[0], vs_default: r4(defMs / ms),
        }));
      }
    }
  }
  return rows;
}

export const convSuite: BenchSuite = {
  name: 'conv',
  async run(b) {
    const prof = new Profiler(b.ctx, 256);
    const rows: BenchResult[] = [];
    const small = b.quick ? { B: 2, C: 64, L: 20480 } : { B: 8, C: 64, L: 20480 };
    b.log(`conv: small (B, C, L) = (${small.B}, ${small.C}, ${small.L})`);
    rows.push(...await runShape(b, prof, small, ''));
    rows.push(...await variantRows(b, prof, small, ''));
    if (b.paper) {
      b.log('conv: paper (B, C, L) = (8, 512, 20480) @paper');
      rows.push(...await runShape(b, prof, { B: 8, C: 512, L: 20480 }, '@paper'));
      rows.push(...await variantRows(b, prof, { B: 1, C: 512, L: 20480 }, '@paper'));
    }
    return rows;
  },
};
