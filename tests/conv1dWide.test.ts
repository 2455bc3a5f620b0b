// The 4-wide entry points (ChannelNorm's *Vec4, the conv GEMM's *Out4 stores) promise the same
// sums in the same order as the 1-wide ones they replace where C % 4 == 0, i.e. BITWISE equal
// results. This file runs each layer's planned dispatches twice, as planned and with every 4-wide
// entry swapped back to its 1-wide twin, and compares every output bit for bit. (Accuracy against
// the float64 oracle is conv1d.test.ts's job; both paths are checked there at their shapes.)
import { describe, expect, it } from 'vitest';
import { ceilDiv, prepareDispatches, runOps, type DispatchSpec } from '../src/runtime/kernel.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { createTensor } from '../src/runtime/tensor.ts';
import {
  conv1dBackwardScratch, conv1dForwardScratch, conv1dSavedTensors, planConv1dBackward, planConv1dForward, type Conv1dDims,
} from '../src/shaders/conv1d.ts';
import { allocSpecs, convLayerProblem, toChannelsLast } from './helpers/convData.ts';
import { download, testDevice, upload } from './helpers/gpu.ts';

/** The 1-wide twin of a spec (same module, same bindings), or the spec itself. */
function narrow(s: DispatchSpec): DispatchSpec {
  const e = s.entryPoint ?? '';
  if (e.endsWith('Out4')) return { ...s, entryPoint: e.slice(0, -4) };
  if (['forwardVec4', 'backwardVec4', 'paramPartialVec4'].includes(e) && s.shader.name.startsWith('channelNorm')) {
    const c = s.constants as Record<string, number>;
    // paramPartial runs one lane per (chunk, channel) instead of per (chunk, channel quad).
    const workgroups = e === 'paramPartialVec4' ? [ceilDiv(c.C! * c.CHUNKS!, 64), 1, 1] as const : s.workgroups;
    return { ...s, entryPoint: e.slice(0, -4), workgroups };
  }
  return s;
}

function dims(o: Omit<Conv1dDims, 'Tout'>): Conv1dDims {
  return { ...o, Tout: Math.floor((o.Tin - o.K) / o.stride) + 1 };
}

async function bits(ctx: Awaited<ReturnType<typeof testDevice>>, ts: Record<string, Tensor | null | undefined>): Promise<Record<string, number[]>> {
  const o: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(ts)) {
    if (!t) continue;
    // Compare as f32 bit patterns (readTensor widens to float64 exactly).
    o[k] = Array.from(new Uint32Array(Float32Array.from(await download(ctx, t)).buffer));
  }
  return o;
}

async function forwardAndBackward(d: Conv1dDims, wide: boolean): Promise<{ counts: number; out: Record<string, number[]> }> {
  const ctx = await testDevice();
  const p = convLayerProblem(d, 11);
  const xShape = d.layer === 0 ? [d.B, d.Tin] : [d.B, d.Tin, d.Cin];
  const yShape = [d.B, d.Tout, d.Cout];
  const x = upload(ctx, xShape, toChannelsLast(p.x, d.B, d.Cin, d.Tin));
  const weight = upload(ctx, [d.Cout, d.Cin, d.K], p.w);
  const bias = upload(ctx, [d.Cout], p.b);
  const normWeight = upload(ctx, [d.Cout], p.gamma);
  const normBias = upload(ctx, [d.Cout], p.beta);
  const y = createTensor(ctx, yShape, 'f32', 'y');
  const saved = allocSpecs(ctx, conv1dSavedTensors(d), 'saved');
  const fp = planConv1dForward(ctx, d, {
    x, weight, bias, y, normWeight, normBias, xhat: saved.xhat, rstd: saved.rstd,
    scratch: allocSpecs(ctx, conv1dForwardScratch(d), 'fs') as { wT: Tensor },
  });
  const dy = upload(ctx, yShape, toChannelsLast(p.dy, d.B, d.Cout, d.Tout));
  const dx = d.layer > 0 ? createTensor(ctx, xShape, 'f32', 'dx') : null;
  const dWeight = createTensor(ctx, [d.Cout, d.Cin, d.K], 'f32', 'dw');
  const dBias = createTensor(ctx, [d.Cout], 'f32', 'db');
  const dNormWeight = createTensor(ctx, [d.Cout], 'f32', 'dgamma');
  const dNormBias = createTensor(ctx, [d.Cout], 'f32', 'dbeta');
  const scratch = allocSpecs(ctx, conv1dBackwardScratch(d, { inputGrad: dx !== null }), 'bs');
  const bp = planConv1dBackward(ctx, d, {
    x, weight, y, dy, dx, dWeight, dBias, normWeight, xhat: saved.xhat, rstd: saved.rstd, dNormWeight, dNormBias,
    scratch: scratch as Parameters<typeof planConv1dBackward>[2]['scratch'],
  });
  const specs = [...fp.specs, ...bp.specs];
  const used = wide ? specs : specs.map(narrow);
  const counts = specs.filter((s, i) => s !== used[i]).length;
  const op = await prepareDispatches(ctx, 'wide', {}, used);
  await runOps(ctx, [op]);
  return { counts, out: await bits(ctx, { y, ...saved, dx, dWeight, dBias, dNormWeight, dNormBias, duPad: scratch.duPad }) };
}

describe('4-wide conv / ChannelNorm entry points equal the 1-wide ones bitwise', () => {
  it.each([
    ['waveform layer + norm (Cin = 1, Cout = 64: GEMM Out4 store, all three norm Vec4 entries)', dims({ layer: 0, B: 2, Cin: 1, Tin: 1031, Cout: 64, K: 10, stride: 5, norm: true })],
    ['inner layer + norm (Cin = Cout = 16: forward and dx Out4, norm Vec4)', dims({ layer: 1, B: 2, Cin: 16, Tin: 203, Cout: 16, K: 8, stride: 4, norm: true })],
    ['inner layer, no norm, Cin = 12, Cout = 20 (Out4 both ways)', dims({ layer: 2, B: 3, Cin: 12, Tin: 61, Cout: 20, K: 4, stride: 2, norm: false })],
  ])('%s', async (_name, d) => {
    const wide = await forwardAndBackward(d, true);
    const narrowRun = await forwardAndBackward(d, false);
    // The swap must have replaced something, or this test could not fail.
    expect(narrowRun.counts).toBeGreaterThanOrEqual(d.norm ? 4 : 2);
    for (const [k, v] of Object.entries(wide.out)) {
      const n = narrowRun.out[k]!;
      expect(v.length, k).toBe(n.length);
      const diff = v.findIndex((b, i) => b !== n[i]);
      expect(diff, `${k}: first differing element ${diff}`).toBe(-1);
    }
    // Non-trivial outputs (not all zero), so equality means something.
    expect(wide.out.y!.some((b) => b !== 0)).toBe(true);
    expect(wide.out.dWeight!.some((b) => b !== 0)).toBe(true);
  });
});
