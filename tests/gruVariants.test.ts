// Every GRU kernel variant (gruVariants: GEMM register tiles and workgroup-memory tiles), forward and
// backward vs the float64 oracle, on lavapipe and SwiftShader (vitest.config.ts runs *Variants files
// on both). Bounds are gru.test.ts's, derived in tests/helpers/gruData.ts: a variant changes only
// how the GEMM sums are tiled, never their length or order of r, so the same bound applies.
import { describe, expect, it } from 'vitest';
import { gruVariants, type GruDims } from '../src/shaders/gru.ts';
import { testDevice } from './helpers/gpu.ts';
import { expectGruMatchesOracle, gruProblem, runGruGpu, type GruGpuResult } from './helpers/gruData.ts';

// One shape covers the edges, so each variant's pipelines are compiled once (lavapipe JITs every
// pipeline; that, not the GPU work, is this file's time): B = 1; C and H not multiples of 4 (padded
// quads); 30 gate quads and B·T = 70 columns span several workgroup tiles in both i and j with
// partial tiles on every edge; C = 10 and 3·H4 = 120 reduction rows end in partial KR stages.
const DIMS: GruDims = { B: 1, T: 70, C: 10, H: 38 };
const SEED = 101;

describe('gru kernel variants vs the float64 oracle', () => {
  it('lists stable, distinct ids with the adapter-class default first', async () => {
    const ctx = await testDevice();
    const list = gruVariants(ctx, DIMS, 'backward');
    const ids = list.map((v) => v.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('tile4x8');
    expect(ids.some((id) => id.startsWith('wgmem'))).toBe(true);
    // Both test adapters are software: the measured register tile leads.
    expect(ids[0]).toBe('tile4x8');
  });

  it(`every variant, forward and backward (dhT, accumulate), B=${DIMS.B} T=${DIMS.T} C=${DIMS.C} H=${DIMS.H}`, async () => {
    const ctx = await testDevice();
    const p = gruProblem(DIMS, SEED, { dhT: true });
    for (const v of gruVariants(ctx, DIMS, 'backward')) {
      const t0 = performance.now();
      const got = await runGruGpu(ctx, p, { ...v.options, accumulate: true });
      if (process.env.CPC_WEBGPU_TEST_TIMES) console.log(`${v.id}: ${(performance.now() - t0).toFixed(0)} ms`);
      try {
        expectGruMatchesOracle(p, got, true);
      } catch (e) {
        throw new Error(`variant ${v.id}: ${(e as Error).message}`);
      }
    }
  }, 600_000); // 7 variants × (forward + backward) pipelines compiled cold: 120 s measured at load ~10

  it('a given variant is bitwise deterministic', async () => {
    const ctx = await testDevice();
    const p = gruProblem(DIMS, SEED, { dhT: true });
    const wgmem = gruVariants(ctx, DIMS, 'backward').find((v) => v.id.startsWith('wgmem'))!;
    const a = await runGruGpu(ctx, p, { ...wgmem.options, accumulate: true });
    const b = await runGruGpu(ctx, p, { ...wgmem.options, accumulate: true });
    for (const k of Object.keys(a) as (keyof GruGpuResult)[]) expect(Array.from(b[k]), `${wgmem.id} ${k}`).toEqual(Array.from(a[k]));
  });
});
