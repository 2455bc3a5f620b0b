// `cpc-webgpu bench --only infonce`: the fused InfoNCE kernels against the unfused baseline
// (bench/infonceNaive.*), per negatives mode, forward / backward / both. extra_bytes counts memory
// beyond the inputs (z, preds, negIdx) and the required outputs (metrics, dPreds, dZ): the fused
// kernels keep O(rows) per-row values (+ the sampled inverse index), the baseline the rows × candidates
// score and gradient matrices.
// Variant rows infonce.<mode>.{fwd,bwd}[<id>][@paper], one per infoNceVariants entry of the batch
// and batch-time cases (field `variant`; `default` marks this adapter's default), checked against
// the baseline, then timed in interleaved rounds in one run, each keeping its best.
import type { GpuContext } from '../src/runtime/device.ts';
import { runOps, type PreparedOp } from '../src/runtime/kernel.ts';
import { readTensor } from '../src/runtime/staging.ts';
import { createTensor, writeTensor, type Tensor } from '../src/runtime/tensor.ts';
import {
  candidatesPerRow, infoNceBackwardScratch, infoNceForwardScratch, prepareInfoNceBackward, prepareInfoNceForward,
  infoNceVariants, prepareNegativeSampler, type InfoNceDims, type InfoNceMode,
} from '../src/shaders/infonce.ts';
import { naiveMatrixBytes, naiveMatrixShape, prepareNaiveBackward, prepareNaiveForward } from './infonceNaive.ts';
import { timeOps } from './timing.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

interface Case { dims: InfoNceDims; mode: InfoNceMode; paper: boolean }

function cases(b: BenchContext): Case[] {
  if (b.quick) {
    const dims = { B: 4, T: 32, C: 64, K: 4 };
    return [{ kind: 'batch' }, { kind: 'batch-time' }, { kind: 'sampled', n: 16 }].map((mode) => ({ dims, mode: mode as InfoNceMode, paper: false }));
  }
  const at = (C: number) => ({ B: 8, T: 126, C, K: 12 });
  const out: Case[] = [
    { dims: at(64), mode: { kind: 'batch' }, paper: false },
    { dims: at(64), mode: { kind: 'batch-time' }, paper: false },
    { dims: at(64), mode: { kind: 'sampled', n: 128 }, paper: false },
  ];
  if (b.paper) {
    out.push({ dims: at(512), mode: { kind: 'batch' }, paper: true });
    out.push({ dims: at(512), mode: { kind: 'sampled', n: 128 }, paper: true });
  }
  return out;
}

/** Uniform values in [−0.5, 0.5) from a fixed LCG: the timing does not depend on them. */
function fill(ctx: GpuContext, t: Tensor, seed: number): void {
  let s = seed >>> 0;
  const n = t.shape.reduce((a, b) => a * b, 1);
  writeTensor(ctx, t, Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  }));
}

async function runCase(b: BenchContext, cs: Case): Promise<BenchResult[]> {
  const { ctx } = b;
  const { dims, mode } = cs;
  const { B, T, C, K } = dims;
  const rows = K * B * T;
  const owned: Tensor[] = [];
  const make = (shape: number[], label: string, dtype: 'f32' | 'u32' = 'f32') => {
    const t = createTensor(ctx, shape, dtype, label); owned.push(t); return t;
  };
  try {
    const z = make([B, T, C], 'z'), preds = make([K, B, T, C], 'preds');
    fill(ctx, z, 1); fill(ctx, preds, 2);
    const n = mode.kind === 'sampled' ? mode.n : 1;
    const negIdx = make([K, B, T, n], 'negIdx', 'u32');
    const seedStep = make([2], 'seedStep', 'u32');
    writeTensor(ctx, seedStep, [42, 0]);
    const setup: PreparedOp[] = mode.kind === 'sampled' ? [await prepareNegativeSampler(ctx, dims, n, { seedStep, negIdx })] : [];
    const rowLoss = make([K, B, T], 'rowLoss'), rowLse = make([K, B, T], 'rowLse'), metrics = make([1 + 2 * K], 'metrics');
    const [hitSpec] = infoNceForwardScratch(dims, mode);
    const rowHit = make(hitSpec!.shape, hitSpec!.name, 'u32');
    const dPreds = make([K, B, T, C], 'dPreds'), dZ = make([B, T, C], 'dZ');
    const scratch: Record<string, Tensor> = {};
    let scratchBytes = 0;
    for (const s of infoNceBackwardScratch(dims, mode)) { scratch[s.name] = make(s.shape, s.name, 'u32'); scratchBytes += 4 * s.shape.reduce((a, x) => a * x, 1); }
    const fwd = await prepareInfoNceForward(ctx, dims, mode, { z, preds, negIdx: mode.kind === 'sampled' ? negIdx : undefined, rowLoss, rowLse, metrics, rowHit });
    const bwd = await prepareInfoNceBackward(ctx, dims, mode, { z, preds, rowLse, negIdx: mode.kind === 'sampled' ? negIdx : undefined, dPreds, dZ, ...scratch });

    const S = make(naiveMatrixShape(dims, mode), 'S'), G = make(naiveMatrixShape(dims, mode), 'G');
    const nLoss = make([K, B, T], 'naive.rowLoss'), nLse = make([K, B, T], 'naive.rowLse'), nHit = make([K, B, T], 'naive.rowHit', 'u32');
    const nMetrics = make([1 + 2 * K], 'naive.metrics');
    const nDP = make([K, B, T, C], 'naive.dPreds'), nDZ = make([B, T, C], 'naive.dZ');
    const dummy = make([4], 'unused', 'u32');
    const nFwd = await prepareNaiveForward(ctx, dims, mode, { z, preds, negIdx, S, rowLoss: nLoss, rowLse: nLse, rowHit: nHit, metrics: nMetrics });
    const nBwd = await prepareNaiveBackward(ctx, dims, mode, {
      z, preds, negIdx, S, rowLse: nLse, G, dPreds: nDP, dZ: nDZ,
      negCounts: scratch.negCounts ?? dummy, negBase: scratch.negBase ?? dummy, negEntries: scratch.negEntries ?? dummy,
    });

    // Both sides must compute the same thing before their times mean anything.
    await runOps(ctx, [...setup, fwd, bwd, nFwd, nBwd]);
    await agree(ctx, [[metrics, nMetrics, 'metrics'], [dZ, nDZ, 'dZ'], [dPreds, nDP, 'dPreds']], `infonce.${mode.kind}`);

    // Everything ran once above (pipelines compiled, caches warm): no warm-up. Slow ops stop at 3
    // reps once past the budget, which keeps a full run within a few minutes on 2 cores.
    const opts = { warmup: 0, reps: b.quick ? 3 : 5, budgetMs: b.quick ? 500 : 1500 };
    const rounds = b.quick || cs.paper ? 1 : 2;
    const tag = cs.paper ? '@paper' : '';
    const shape = { B, T, C, K, candidates: candidatesPerRow(dims, mode), mode: mode.kind };
    const rowBytes = 3 * 4 * rows;              // rowLoss, rowLse, rowHit
    const matrix = naiveMatrixBytes(dims, mode) / 2;
    const phases: [string, PreparedOp[], PreparedOp[], number, number][] = [
      ['fwd', [fwd], [nFwd], rowBytes, matrix + rowBytes],
      ['bwd', [bwd], [nBwd], scratchBytes, 2 * matrix + scratchBytes],
      ['fwdbwd', [fwd, bwd], [nFwd, nBwd], rowBytes + scratchBytes, 2 * matrix + rowBytes + scratchBytes],
    ];
    const out: BenchResult[] = [];
    for (const [phase, ops, naive, extra, naiveExtra] of phases) {
      const name = `infonce.${mode.kind}.${phase}${tag}`;
      b.log(`${name} ${JSON.stringify(shape)}`);
      // The machines are shared: fused and baseline are timed in alternating rounds and each keeps
      // its best round median, so a burst of foreign load does not land on one side only.
      let ms = Infinity, baselineMs = Infinity;
      for (let r = 0; r < rounds; r++) {
        ms = Math.min(ms, await timeOps(ctx, ops, opts));
        baselineMs = Math.min(baselineMs, await timeOps(ctx, naive, opts));
      }
      out.push(makeResult({
        name, shape, ms, flops: ops.reduce((a, o) => a + o.flops, 0), peak: b.peak,
        baseline: `infonceNaive.${mode.kind}.${phase}`, baselineMs, extraBytes: extra, baselineExtraBytes: naiveExtra,
      }));
    }
    const variants = mode.kind === 'sampled' ? [] : infoNceVariants(ctx, dims, mode, 'forward');
    const vOps: { id: string; fwd: PreparedOp; bwd: PreparedOp }[] = [];
    for (const v of variants) {
      const vf = await prepareInfoNceForward(ctx, dims, mode, { z, preds, rowLoss, rowLse, metrics, rowHit }, v.options);
      const vb = await prepareInfoNceBackward(ctx, dims, mode, { z, preds, rowLse, dPreds, dZ }, v.options);
      await runOps(ctx, [vf, vb]);
      await agree(ctx, [[metrics, nMetrics, 'metrics'], [dZ, nDZ, 'dZ'], [dPreds, nDP, 'dPreds']], `infonce.${mode.kind}[${v.id}]`);
      vOps.push({ id: v.id, fwd: vf, bwd: vb });
    }
    const best = vOps.map(() => [Infinity, Infinity]);
    for (let r = 0; r < rounds; r++) {
      for (const [i, v] of vOps.entries()) {
        best[i]![0] = Math.min(best[i]![0]!, await timeOps(ctx, [v.fwd], opts));
        best[i]![1] = Math.min(best[i]![1]!, await timeOps(ctx, [v.bwd], opts));
      }
    }
    for (const [i, v] of vOps.entries()) {
      for (const [j, phase] of (['fwd', 'bwd'] as const).entries()) {
        const op = j === 0 ? v.fwd : v.bwd;
        out.push(makeResult({
          name: `infonce.${mode.kind}.${phase}[${v.id}]${tag}`, shape, ms: best[i]![j]!, flops: op.flops, peak: b.peak,
          variant: v.id, default: i === 0,
        }));
      }
    }
    return out;
  } finally {
    for (const t of owned) t.buffer.destroy();
  }
}

async function agree(ctx: GpuContext, pairs: [Tensor, Tensor, string][], what: string): Promise<void> {
  for (const [a, b, name] of pairs) {
    const x = await readTensor(ctx, a), y = await readTensor(ctx, b);
    let scale = 0, err = 0;
    for (let i = 0; i < x.length; i++) { scale = Math.max(scale, Math.abs(y[i]!)); err = Math.max(err, Math.abs(x[i]! - y[i]!)); }
    if (!(err <= 1e-3 * scale + 1e-6)) throw new Error(`${what}: fused and baseline ${name} disagree (max err ${err} vs scale ${scale})`);
  }
}

export const infonceSuite: BenchSuite = {
  name: 'infonce',
  async run(b) {
    const out: BenchResult[] = [];
    for (const cs of cases(b)) out.push(...await runCase(b, cs));
    return out;
  },
};
