import { describe, expect, it } from 'vitest';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { runOps } from '../src/runtime/kernel.ts';
import { createTensor, type Tensor } from '../src/runtime/tensor.ts';
import type { GpuContext } from '../src/runtime/device.ts';
import {
  GRAD_NORM_CHUNK, GRAD_NORM_FINAL_WG, GRAD_NORM_STAT, GRAD_NORM_STATS_LEN, GRAD_NORM_WG, gradNormPlan, gradNormScratch, prepareGradNorm,
} from '../src/shaders/gradNorm.ts';
import { globalNormClip } from './reference/index.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { mulberry32 } from './helpers/random.ts';

// f32 unit roundoff, and WGSL's sqrt accuracy (inherited from 1/inverseSqrt: 2 + 2.5 ULP = 9 u).
const U = 2 ** -24;
const SQRT_ERR = 9 * U;

/** f32 gradients whose magnitudes span six decades, as real gradient buffers do. */
function randomGrads(P: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: P }, () => (rnd() - 0.5) * 10 ** (3 * rnd() - 3));
}

async function normOf(ctx: GpuContext, g: ArrayLike<number>): Promise<{ stats: Float64Array; partials: Float64Array }> {
  const P = g.length;
  const grads = upload(ctx, [P], g, 'f32', 'grads');
  const [scratch] = gradNormScratch(P);
  const partials = createTensor(ctx, scratch!.shape, scratch!.dtype, scratch!.name);
  const normOut = createTensor(ctx, [GRAD_NORM_STATS_LEN], 'f32', 'normOut');
  const op = await prepareGradNorm(ctx, { P }, { grads, partials, normOut });
  await runOps(ctx, [op]);
  const out = { stats: await download(ctx, normOut), partials: await download(ctx, partials) };
  for (const t of [grads, partials, normOut]) t.buffer.destroy();
  return out;
}

describe('gradNorm: global L2 norm of the flat gradient buffer', () => {
  // 4..63: below one stage-1 workgroup, with 0..3 tail scalars; one chunk exactly; one chunk + a
  // partial second + tail; 5 chunks → 320 partials, more than the 256 stage-2 threads, so the
  // strided stage-2 loop runs more than one round.
  const C = GRAD_NORM_CHUNK;
  for (const P of [4, 5, 7, 63, C, C + 3, 4 * C + 4465]) {
    it(`matches the float64 oracle for P = ${P}`, async () => {
      const ctx = await testDevice();
      const g = randomGrads(P, P);
      const { norm } = globalNormClip([Float64Array.from(g)], Infinity);
      const { stats } = await normOf(ctx, g);
      // All terms are non-negative, so the relative error of Σg² is at most chainLength·u (each
      // addition along the longest chain rounds once); the sqrt halves it and adds its own error.
      const plan = gradNormPlan(P);
      const rtol = (plan.chainLength * U) / 2 + SQRT_ERR;
      expect(Math.abs(stats[GRAD_NORM_STAT.norm]! - norm), `norm (rtol ${rtol.toExponential(2)})`).toBeLessThanOrEqual(rtol * norm);
      expect(Math.abs(stats[GRAD_NORM_STAT.sumSquares]! - norm * norm)).toBeLessThanOrEqual(plan.chainLength * U * norm * norm);
      expect(stats[GRAD_NORM_STAT.nonFinite]).toBe(0);
    });
  }

  it('counts every region: first vec4, a later chunk, the scalar tail', async () => {
    const ctx = await testDevice();
    const P = 2 * C + 3; // 2 full chunks + 3 tail scalars
    for (const at of [0, 3, C + 5, 2 * C - 1, 2 * C, 2 * C + 2]) {
      const g = new Float32Array(P);
      g[at] = -0.75;
      const { stats } = await normOf(ctx, g);
      // One non-zero term: Σg² is its square (exact in f32), so only sqrt's error remains.
      expect(Math.abs(stats[GRAD_NORM_STAT.norm]! - 0.75), `one non-zero at ${at}`).toBeLessThanOrEqual(0.75 * SQRT_ERR);
    }
  });

  it('plans a fixed partition of chunks, one partial per stage-1 thread', () => {
    expect(gradNormPlan(4).chunks).toBe(1);
    expect(gradNormPlan(C).chunks).toBe(1);
    expect(gradNormPlan(C + 4).chunks).toBe(2);
    expect(gradNormPlan(C + 3).chunks).toBe(1); // the 3 tail scalars go to stage 2
    expect(gradNormPlan(4 * C + 4465).numPartials).toBe(5 * GRAD_NORM_WG);
    expect(gradNormPlan(4 * C + 4465).numPartials).toBeGreaterThan(GRAD_NORM_FINAL_WG);
  });

  it('flags NaN / ±Inf anywhere (vec4 part, later chunk, scalar tail) and f32 overflow of Σg²', async () => {
    const ctx = await testDevice();
    const P = 2 * C + 3003; // 3 chunks + 3 tail scalars
    const cases: [string, number, number][] = [
      ['NaN first', 0, NaN], ['NaN in chunk 3', 2 * C + 100, NaN], ['+Inf in the tail', P - 2, Infinity],
      ['-Inf last', P - 1, -Infinity], ['-Inf mid-vec4', C + 1, -Infinity],
    ];
    for (const [what, at, value] of cases) {
      const g = randomGrads(P, 7);
      g[at] = value;
      const { stats } = await normOf(ctx, g);
      expect(stats[GRAD_NORM_STAT.nonFinite], what).toBe(1);
      expect(stats[GRAD_NORM_STAT.norm], what).toBeNaN();
    }
    // Every element finite, but Σg² = P·1e40 is beyond f32's 3.4e38.
    const big = new Float32Array(P).fill(1e20);
    expect((await normOf(ctx, big)).stats[GRAD_NORM_STAT.nonFinite], 'overflow inside a chunk').toBe(1);
    // Each partial finite (1.5e19² = 2.25e38 < 3.4e38) but their sum overflows: caught in stage 2.
    const split = new Float32Array(P);
    split[0] = 1.5e19;
    split[C + 1] = -1.5e19;
    expect((await normOf(ctx, split)).stats[GRAD_NORM_STAT.nonFinite], 'overflow across chunks').toBe(1);
    // Partials fine, the square of a tail scalar pushes the total over.
    const tail = new Float32Array(P);
    tail[0] = 1.5e19;
    tail[P - 1] = 1.5e19;
    expect((await normOf(ctx, tail)).stats[GRAD_NORM_STAT.nonFinite], 'overflow in the tail').toBe(1);
  });

  it('is bitwise deterministic (same partials, same stats on a second run)', async () => {
    const ctx = await testDevice();
    const g = randomGrads(4 * C + 4465, 3);
    const a = await normOf(ctx, g);
    const b = await normOf(ctx, g);
    expect(Array.from(b.partials)).toEqual(Array.from(a.partials));
    expect(Array.from(b.stats)).toEqual(Array.from(a.stats));
  });

  it('refuses wrong shapes, aliasing outputs and P beyond the binding limit, naming op and shapes', async () => {
    const ctx = await testDevice();
    const P = 100;
    const grads = createTensor(ctx, [P], 'f32', 'grads');
    const partials = createTensor(ctx, gradNormScratch(P)[0]!.shape, 'f32', 'partials');
    const normOut = createTensor(ctx, [GRAD_NORM_STATS_LEN], 'f32', 'normOut');
    const wrong = createTensor(ctx, [P + 1], 'f32', 'wrong');
    const u32 = createTensor(ctx, [P], 'u32', 'gradsU32');
    const shortStats = createTensor(ctx, [2], 'f32', 'stats2');
    const tries: [() => unknown, RegExp][] = [
      [() => prepareGradNorm(ctx, { P }, { grads: wrong, partials, normOut }), /gradNorm: grads has shape \[101\], expected \[100\]/],
      [() => prepareGradNorm(ctx, { P }, { grads: u32, partials, normOut }), /gradNorm: grads must be f32, got u32.*P=100/],
      [() => prepareGradNorm(ctx, { P }, { grads, partials: normOut, normOut }), /gradNorm: partials has shape \[4\], expected \[64\]/],
      [() => prepareGradNorm(ctx, { P }, { grads, partials, normOut: shortStats }), /gradNorm: normOut has shape \[2\], expected \[4\]/],
      [() => prepareGradNorm(ctx, { P: 3 }, { grads, partials, normOut }), /gradNorm: P = 3: .*at least 4/],
      [() => prepareGradNorm(ctx, { P: 2.5 }, { grads, partials, normOut }), /gradNorm: P must be a positive integer/],
    ];
    for (const [f, msg] of tries) expect(f).toThrow(msg);
    const huge = ctx.limits.maxStorageBufferBindingSize / 4 + 1;
    expect(() => prepareGradNorm(ctx, { P: huge }, { grads, partials, normOut })).toThrow(LimitExceededError);
    expect(() => prepareGradNorm(ctx, { P: huge }, { grads, partials, normOut })).toThrow(/gradNorm: needs maxStorageBufferBindingSize/);
    // Stats tensor overlapping the partials inside one buffer: a planner bug, refused up front.
    const arena = createTensor(ctx, [1024], 'f32', 'arena');
    const view = (off: number, n: number): Tensor => ({ ...arena, byteOffset: off, byteLength: 4 * n, shape: [n] });
    expect(() => prepareGradNorm(ctx, { P }, { grads, partials: view(0, 64), normOut: view(0, 4) })).toThrow(ShapeError);
    expect(() => prepareGradNorm(ctx, { P }, { grads, partials: view(0, 64), normOut: view(0, 4) })).toThrow(/overlap/);
    for (const t of [grads, partials, normOut, wrong, u32, shortStats, arena]) t.buffer.destroy();
  });
});
