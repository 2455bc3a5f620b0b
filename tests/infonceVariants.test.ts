// Every InfoNCE kernel variant (infoNceVariants: register score tiles, workgroup-memory tiled score
// GEMM), forward and backward vs the float64 oracle through the predictor → InfoNCE → backward
// chain, on lavapipe and SwiftShader (vitest.config.ts runs *Variants files on both). The bounds are
// infonce.test.ts's (tests/helpers/infonceRun.ts, infonceBounds.ts): γ_n sums in any order and the
// WGSL exp/log error, so they hold for every tiling unchanged.
import { describe, expect, it } from 'vitest';
import { infoNceVariants, type InfoNceMode } from '../src/shaders/infonce.ts';
import { testDevice } from './helpers/gpu.ts';
import { checkAgainstOracle, problem, runGpu, type Dims, type GpuRun, type Setup } from './helpers/infonceRun.ts';

// B = 1; C/4 = 19 channel quads (partial stages at 16 and 32 quads per stage) with B = 3 (partial
// 4-row tiles) and B·T = 42 batch-time candidates (a partial 8-candidate tile); and K·⌈B/4⌉ = 72
// lanes per target step, so batch spreads one step over two 64-invocation workgroups.
const SHAPES: { dims: Dims; bias: boolean; seed: number }[] = [
  { dims: { B: 1, T: 9, C: 12, H: 8, K: 2 }, bias: true, seed: 51 },
  { dims: { B: 3, T: 14, C: 76, H: 8, K: 3 }, bias: false, seed: 52 },
  { dims: { B: 21, T: 14, C: 8, H: 8, K: 12 }, bias: true, seed: 53 },
];
const MODES: InfoNceMode[] = [{ kind: 'batch' }, { kind: 'batch-time' }];
/** What infoNceVariants lists for batch / batch-time on the software adapters (checked below). */
const VARIANT_IDS = ['register', 'wgmem.wg64.c16', 'wgmem.wg64.c32', 'wgmem.wg128.c16'];

describe('InfoNCE kernel variants vs the float64 oracle', () => {
  it('lists stable, distinct ids with the adapter-class default first; sampled has only today\'s kernel', async () => {
    const ctx = await testDevice();
    const d = SHAPES[0]!.dims;
    const ids = infoNceVariants(ctx, d, { kind: 'batch' }, 'forward').map((v) => v.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(VARIANT_IDS);   // software adapter: register first
    expect(infoNceVariants(ctx, d, { kind: 'sampled', n: 4 }, 'backward').map((v) => v.id)).toEqual(['register']);
  });

  // One test per (mode, shape, variant): each is a whole chain, and lavapipe compiles its pipelines
  // at first use (slow on a loaded 2-core machine), so every test gets its own timeout.
  for (const mode of MODES) {
    for (const s of SHAPES) {
      const { B, T, C, H, K } = s.dims;
      for (const id of VARIANT_IDS) {
        it(`${mode.kind} ${id}: K=${K} B=${B} T=${T} C=${C} H=${H}${s.bias ? ', bias' : ''}`, async () => {
          const ctx = await testDevice();
          const v = infoNceVariants(ctx, s.dims, mode, 'forward').find((x) => x.id === id);
          expect(v, `${id} is listed for ${mode.kind}`).toBeDefined();
          await checkAgainstOracle({ dims: s.dims, mode, seed: s.seed, bias: s.bias, options: v!.options });
        });
      }
    }
  }

  it('a given variant is bitwise deterministic', async () => {
    const ctx = await testDevice();
    for (const mode of MODES) {
      const v = infoNceVariants(ctx, SHAPES[2]!.dims, mode, 'forward').find((x) => x.id.startsWith('wgmem'))!;
      const s: Setup = { dims: SHAPES[2]!.dims, mode, seed: 61, bias: true, options: v.options };
      const a = await runGpu(ctx, s, problem(s));
      const b = await runGpu(ctx, s, problem(s));
      for (const k of Object.keys(a) as (keyof GpuRun)[]) {
        const x = a[k], y = b[k];
        if (x) expect(Array.from(y!), `${mode.kind} ${v.id} ${k}`).toEqual(Array.from(x));
      }
    }
  });
});
