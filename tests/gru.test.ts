import { describe, expect, it } from 'vitest';
import { LimitExceededError, ShapeError } from '../src/runtime/errors.ts';
import { createTensor } from '../src/runtime/tensor.ts';
import {
  gruBackwardScratch, gruForwardScratch, gruSavedSpec, prepareGruBackward, prepareGruForward, type GruDims,
} from '../src/shaders/gru.ts';
import { prepareGruNaiveBackward, prepareGruNaiveForward, gruNaiveScratch, writeGruNaiveSteps } from '../bench/gruNaive.ts';
import { runOps } from '../src/runtime/kernel.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';
import { allocScratch, expectGruMatchesOracle as checkAll, gruProblem, runGruGpu, type GruGpuResult } from './helpers/gruData.ts';

describe('gru forward + backward vs the float64 oracle', () => {
  it('B=1, zero h0 (PyTorch default), defaults', async () => {
    const ctx = await testDevice();
    const p = gruProblem({ B: 1, T: 5, C: 8, H: 12 }, 11, { h0Zero: true });
    checkAll(p, await runGruGpu(ctx, p), false);
  });

  it('T=128, B=3 with 2 sequences per workgroup (a partial one), H=36 (9 quads) over 4 invocations, h0 and dhT', async () => {
    const ctx = await testDevice();
    const p = gruProblem({ B: 3, T: 128, C: 12, H: 36 }, 22, { dhT: true });
    checkAll(p, await runGruGpu(ctx, p, { sequencesPerWorkgroup: 2, workgroupSize: 4 }), false);
  });

  it('H and C not multiples of 4 (padded quads), several quads per invocation, odd GEMM tiles, accumulate', async () => {
    const ctx = await testDevice();
    const p = gruProblem({ B: 2, T: 17, C: 10, H: 70 }, 33, { dhT: true });
    // 18 quads over 8 invocations; 3-quad × 12-column tiles leave partial tiles on every edge.
    const tile = { rq: 3, tm: 12 };
    const tiles = { inputProjection: tile, weightGrad: tile, inputGrad: { rq: 4, tm: 4 } };
    checkAll(p, await runGruGpu(ctx, p, { workgroupSize: 8, accumulate: true, tiles }), true);
  });

  it('the small bench shape at T=128 (C=H=64), accumulate, defaults', async () => {
    const ctx = await testDevice();
    const p = gruProblem({ B: 4, T: 128, C: 64, H: 64 }, 44);
    checkAll(p, await runGruGpu(ctx, p, { accumulate: true }), true);
  });

  it('H=520 (130 quads, 3 per invocation), B=8 in 2-sequence workgroups', async () => {
    const ctx = await testDevice();
    const p = gruProblem({ B: 8, T: 3, C: 16, H: 520 }, 55, { dhT: true });
    checkAll(p, await runGruGpu(ctx, p, { sequencesPerWorkgroup: 2, workgroupSize: 64 }), false);
  });

  it('is bitwise deterministic across runs and across recurrence geometries', async () => {
    const ctx = await testDevice();
    // The T=128 problem above (its pipelines are already built), run again and with another split.
    const p = gruProblem({ B: 3, T: 128, C: 12, H: 36 }, 22, { dhT: true });
    const a = await runGruGpu(ctx, p, { sequencesPerWorkgroup: 2, workgroupSize: 4 });
    const b = await runGruGpu(ctx, p, { sequencesPerWorkgroup: 2, workgroupSize: 4 });
    const c = await runGruGpu(ctx, p, { sequencesPerWorkgroup: 1, workgroupSize: 2 });
    for (const k of Object.keys(a) as (keyof GruGpuResult)[]) {
      expect(Array.from(b[k]), k).toEqual(Array.from(a[k]));
      // Each output's sums run in the same order whatever the geometry: the bits do not change.
      expect(Array.from(c[k]), k).toEqual(Array.from(a[k]));
    }
  });
});

describe('the per-step bench baseline (bench/gruNaive)', () => {
  it('computes the same GRU as the oracle, so its timings are a fair comparison', async () => {
    const ctx = await testDevice();
    const p = gruProblem({ B: 2, T: 9, C: 6, H: 10 }, 77, { dhT: true });
    const { B, T, C, H } = p.dims;
    const params = {
      weightIh: upload(ctx, [3 * H, C], p.weightIh), weightHh: upload(ctx, [3 * H, H], p.weightHh),
      biasIh: upload(ctx, [3 * H], p.biasIh), biasHh: upload(ctx, [3 * H], p.biasHh),
    };
    const x = upload(ctx, [B, T, C], p.x);
    const h0 = upload(ctx, [B, H], p.h0);
    const out = createTensor(ctx, [B, T, H]);
    const saved = createTensor(ctx, [B, T, 4, H]);
    const sc = allocScratch(ctx, gruNaiveScratch(p.dims));
    writeGruNaiveSteps(ctx, sc.steps!, T);
    const g = {
      dx: upload(ctx, [B, T, C], p.dxPrior), dh0: createTensor(ctx, [B, H]), dWeightIh: createTensor(ctx, [3 * H, C]),
      dWeightHh: createTensor(ctx, [3 * H, H]), dBiasIh: createTensor(ctx, [3 * H]), dBiasHh: createTensor(ctx, [3 * H]),
    };
    const fwd = await prepareGruNaiveForward(ctx, p.dims, { x, h0, params, out, saved, steps: sc.steps! });
    const bwd = await prepareGruNaiveBackward(ctx, p.dims, {
      dOut: upload(ctx, [B, T, H], p.dOut), dhT: upload(ctx, [B, H], p.dhT!), x, h0, out, saved, params, ...g,
      steps: sc.steps!, dG: sc.dG!, gz: sc.gz!,
    }, true);
    await runOps(ctx, [fwd, bwd]);
    const got: GruGpuResult = {
      h: await download(ctx, out), dx: await download(ctx, g.dx), dh0: await download(ctx, g.dh0),
      dWeightIh: await download(ctx, g.dWeightIh), dWeightHh: await download(ctx, g.dWeightHh),
      dBiasIh: await download(ctx, g.dBiasIh), dBiasHh: await download(ctx, g.dBiasHh),
    };
    checkAll(p, got, true);
  });
});

describe('gru launcher errors', () => {
  const dims: GruDims = { B: 2, T: 3, C: 8, H: 12 };

  async function tensors(d: GruDims) {
    const ctx = await testDevice();
    const { B, T, C, H } = d;
    const t = (shape: number[], label: string) => createTensor(ctx, shape, 'f32', label);
    return {
      ctx,
      x: t([B, T, C], 'x'), h0: t([B, H], 'h0'), out: t([B, T, H], 'out'), saved: t(gruSavedSpec(d).shape, 'saved'),
      params: { weightIh: t([3 * H, C], 'wih'), weightHh: t([3 * H, H], 'whh'), biasIh: t([3 * H], 'bih'), biasHh: t([3 * H], 'bhh') },
      fwdScratch: allocScratch(ctx, gruForwardScratch(d)),
      bwdScratch: allocScratch(ctx, gruBackwardScratch(d)),
      dOut: t([B, T, H], 'dOut'), dx: t([B, T, C], 'dx'), dh0: t([B, H], 'dh0'),
      dWeightIh: t([3 * H, C], 'dwih'), dWeightHh: t([3 * H, H], 'dwhh'), dBiasIh: t([3 * H], 'dbih'), dBiasHh: t([3 * H], 'dbhh'),
    };
  }

  it('names the op, the tensor and the shapes on a wrong shape', async () => {
    const a = await tensors(dims);
    const badWih = createTensor(a.ctx, [3 * 12, 9], 'f32', 'badWih');
    const fwd = { x: a.x, h0: a.h0, out: a.out, saved: a.saved, scratch: a.fwdScratch as never };
    expect(() => prepareGruForward(a.ctx, { ...fwd, params: { ...a.params, weightIh: badWih } }))
      .toThrow(/^gruForward: weightIh has shape \[36, 9\], expected \[36, 8\] \(B=2, T=3, C=8, H=12\)/);
    expect(() => prepareGruForward(a.ctx, { ...fwd, params: a.params, x: createTensor(a.ctx, [6, 8], 'f32', 'x2') }))
      .toThrow(/^gruForward: x must be \[B, T, C\], got \[6, 8\]/);
    expect(() => prepareGruForward(a.ctx, { ...fwd, params: a.params, out: createTensor(a.ctx, [2, 3, 13], 'f32', 'o') }))
      .toThrow(ShapeError);
    const bwd = {
      dOut: a.dOut, x: a.x, h0: a.h0, out: a.out, saved: a.saved, params: a.params, dh0: a.dh0,
      dWeightIh: a.dWeightIh, dWeightHh: a.dWeightHh, dBiasIh: a.dBiasIh, dBiasHh: a.dBiasHh, scratch: a.bwdScratch as never,
    };
    expect(() => prepareGruBackward(a.ctx, { ...bwd, dx: createTensor(a.ctx, [2, 3, 12], 'f32', 'dxBad') }))
      .toThrow(/^gruBackward: dx has shape \[2, 3, 12\], expected \[2, 3, 8\] \(B=2, T=3, C=8, H=12\)/);
    expect(() => prepareGruBackward(a.ctx, { ...bwd, dx: a.dx, dhT: createTensor(a.ctx, [3, 12], 'f32', 'dhTBad') }))
      .toThrow(/^gruBackward: dhT has shape \[3, 12\], expected \[2, 12\]/);
  });

  it('asks for the padded-weight scratch when H is not a multiple of 4', async () => {
    const d: GruDims = { B: 1, T: 2, C: 8, H: 10 };
    const a = await tensors(d);
    const { whhPacked: _omit, ...scratch } = a.fwdScratch;
    expect(gruForwardScratch(d).map((s) => s.name)).toContain('whhPacked');
    expect(() => prepareGruForward(a.ctx, { x: a.x, h0: a.h0, out: a.out, saved: a.saved, params: a.params, scratch: scratch as never }))
      .toThrow(/^gruForward: scratch\.whhPacked \[30, 12\] is required/);
    const { gi: _gi, ...noGi } = a.fwdScratch;
    expect(() => prepareGruForward(a.ctx, { x: a.x, h0: a.h0, out: a.out, saved: a.saved, params: a.params, scratch: noGi as never }))
      .toThrow(/^gruForward: scratch\.gi \[1, 2, 3, 12\] is required/);
  });

  it('refuses a recurrence geometry beyond the workgroup-storage limit, naming the limit', async () => {
    const d: GruDims = { B: 8, T: 2, C: 8, H: 512 };
    const a = await tensors(d);
    const args = { x: a.x, h0: a.h0, out: a.out, saved: a.saved, params: a.params, scratch: a.fwdScratch as never };
    // The default geometry shrinks SPW to fit; an explicit request beyond the limit is refused.
    const bwd = {
      dOut: a.dOut, x: a.x, h0: a.h0, out: a.out, saved: a.saved, params: a.params, dx: a.dx, dh0: a.dh0,
      dWeightIh: a.dWeightIh, dWeightHh: a.dWeightHh, dBiasIh: a.dBiasIh, dBiasHh: a.dBiasHh, scratch: a.bwdScratch as never,
    };
    expect(() => prepareGruBackward(a.ctx, bwd, { sequencesPerWorkgroup: 8 })).toThrow(LimitExceededError);
    // Backward shared memory: dgh, 2 buffers × 8 sequences × 3 gates × 512 units, + an 8 × 512 stash.
    const needed = (2 * 8 * 3 * 512 + 8 * 512) * 4;
    expect(needed).toBeGreaterThan(a.ctx.limits.maxComputeWorkgroupStorageSize);
    expect(() => prepareGruBackward(a.ctx, bwd, { sequencesPerWorkgroup: 8 }))
      .toThrow(`gruBackward: needs maxComputeWorkgroupStorageSize = ${needed}, but the device allows ${a.ctx.limits.maxComputeWorkgroupStorageSize}`);
    await expect(prepareGruBackward(a.ctx, bwd)).resolves.toBeDefined();
    await expect(prepareGruForward(a.ctx, args)).resolves.toBeDefined();
    expect(() => prepareGruForward(a.ctx, args, { sequencesPerWorkgroup: 9 })).toThrow(/sequencesPerWorkgroup must be an integer in 1\.\.8/);
    expect(() => prepareGruForward(a.ctx, args, { workgroupSize: 4096 })).toThrow(/maxComputeInvocationsPerWorkgroup/);
    expect(() => prepareGruForward(a.ctx, args, { tiles: { inputProjection: { rq: 2, tm: 6 } } }))
      .toThrow(/^gruForward: inputProjection tile \{"rq":2,"tm":6\}: rq must be in 1\.\.4, tm a multiple of 4 in 4\.\.16/);
  });
});
