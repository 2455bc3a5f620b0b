import { describe, expect, it } from 'vitest';
import { allocateArena, findPlanConflicts, planMemory, type OpDecl, type TensorDecl } from '../src/runtime/planner.ts';
import { readTensor } from '../src/runtime/staging.ts';
import { writeTensor } from '../src/runtime/tensor.ts';
import { testDevice } from './helpers/gpu.ts';
import { mulberry32 } from './helpers/random.ts';

/** A random chain-with-skips graph: op i writes t_i and reads a few earlier tensors. */
function randomGraph(seed: number, n: number): { tensors: TensorDecl[]; ops: OpDecl[] } {
  const rnd = mulberry32(seed);
  const tensors: TensorDecl[] = [{ name: 'w', shape: [100], dtype: 'f32', lifetime: 'persistent' }];
  const ops: OpDecl[] = [];
  for (let i = 0; i < n; i++) {
    tensors.push({ name: `t${i}`, shape: [1 + Math.floor(rnd() * 5000)], dtype: rnd() < 0.2 ? 'f16' : 'f32', lifetime: 'transient' });
    const reads = ['w'];
    for (let r = 0; r < 3 && i > 0; r++) reads.push(`t${Math.floor(rnd() * i)}`);
    ops.push({ name: `op${i}`, reads, writes: [`t${i}`] });
  }
  return { tensors, ops };
}

describe('planMemory', () => {
  it('never overlaps two simultaneously live tensors (random graphs)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const { tensors, ops } = randomGraph(seed, 40);
      const plan = planMemory(tensors, ops);
      expect(findPlanConflicts(plan), `seed ${seed}`).toEqual([]);
      for (const t of plan.tensors) expect(t.offset % 256).toBe(0);
      expect(plan.plannedPeakBytes).toBeLessThanOrEqual(plan.noReuseBytes);
    }
  });

  it('reuses memory of dead tensors in a chain', () => {
    const tensors: TensorDecl[] = [0, 1, 2, 3, 4].map((i) => ({ name: `a${i}`, shape: [1024], dtype: 'f32', lifetime: 'transient' }));
    const ops: OpDecl[] = [0, 1, 2, 3].map((i) => ({ name: `f${i}`, reads: [`a${i}`], writes: [`a${i + 1}`] }));
    ops.unshift({ name: 'init', reads: [], writes: ['a0'] });
    const plan = planMemory(tensors, ops);
    // A chain needs only two live buffers at a time.
    expect(plan.transientBytes).toBe(2 * 4096);
    expect(plan.noReuseBytes).toBe(5 * 4096);
  });

  it('detects conflicts when they exist (the checker can fail)', () => {
    const plan = planMemory(
      [{ name: 'a', shape: [64], dtype: 'f32', lifetime: 'transient' }, { name: 'b', shape: [64], dtype: 'f32', lifetime: 'transient' }],
      [{ name: 'o', reads: [], writes: ['a', 'b'] }],
    );
    expect(findPlanConflicts(plan)).toEqual([]);
    plan.tensors[1]!.offset = plan.tensors[0]!.offset;
    expect(findPlanConflicts(plan)).toEqual([['a', 'b']]);
  });

  it('rejects undeclared tensors and reads before writes, naming them', () => {
    expect(() => planMemory([], [{ name: 'o', reads: ['ghost'], writes: [] }])).toThrow(/op 'o' uses undeclared tensor 'ghost'/);
    expect(() => planMemory(
      [{ name: 'x', shape: [4], dtype: 'f32', lifetime: 'transient' }],
      [{ name: 'r', reads: ['x'], writes: [] }, { name: 'w', reads: [], writes: ['x'] }],
    )).toThrow(/reads transient 'x' before any op writes it/);
  });

  it('allocates views that hold independent data on a real device', async () => {
    const ctx = await testDevice();
    const { tensors, ops } = randomGraph(7, 12);
    const plan = planMemory(tensors, ops);
    const arena = allocateArena(ctx, plan, 'test');
    // Persistent data survives; a transient's bytes are its own while live.
    const w = arena.get('w');
    const data = Float32Array.from({ length: 100 }, (_, i) => i * 0.5);
    writeTensor(ctx, w, data);
    const t0 = arena.get('t0');
    writeTensor(ctx, t0, new Float32Array(t0.shape[0]!).fill(3));
    expect(Array.from(await readTensor(ctx, w))).toEqual(Array.from(data));
    arena.destroy();
  });
});
