import { describe, expect, it } from 'vitest';
import { prepareScaleShift } from '../src/shaders/elementwise.ts';
import { GpuValidationError, LimitExceededError, ShaderCompilationError, ShapeError } from '../src/runtime/errors.ts';
import { pipelineCache } from '../src/runtime/pipelines.ts';
import { runOps, type PreparedOp } from '../src/runtime/kernel.ts';
import { readTensor, stagingRing } from '../src/runtime/staging.ts';
import { createBuffer, createTensor, tensorView, writeTensor, STORAGE_USAGE, type DType } from '../src/runtime/tensor.ts';
import { f16BitsToF32, f32ToF16Bits } from '../src/runtime/f16.ts';
import { testDevice } from './helpers/gpu.ts';
import { mulberry32 } from './helpers/random.ts';

function values(dtype: DType, n: number, seed: number): number[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const r = rnd();
    switch (dtype) {
      case 'f32': return Math.fround((r - 0.5) * 1e3);
      case 'f16': return f16BitsToF32(f32ToF16Bits((r - 0.5) * 100));
      case 'u32': return Math.floor(r * 2 ** 32);
      case 'i32': return Math.floor((r - 0.5) * 2 ** 32);
    }
  });
}

describe('tensor upload/download', () => {
  const sizes = [1, 3, 257, 4099];
  for (const dtype of ['f32', 'f16', 'u32', 'i32'] as DType[]) {
    it(`round-trips ${dtype} at sizes ${sizes.join(',')}`, async () => {
      const ctx = await testDevice();
      for (const n of sizes) {
        const data = values(dtype, n, n);
        const t = createTensor(ctx, [n], dtype, `rt.${dtype}.${n}`);
        writeTensor(ctx, t, data);
        expect(Array.from(await readTensor(ctx, t))).toEqual(data);
        t.buffer.destroy();
      }
    });
  }

  it('round-trips views at 256-byte-aligned offsets inside one buffer without clobbering neighbours', async () => {
    const ctx = await testDevice();
    const buf = createBuffer(ctx, 4096, STORAGE_USAGE, 'arena');
    const a = tensorView(ctx, buf, 0, [5], 'f32', 'a');
    const b = tensorView(ctx, buf, 256, [3, 7], 'f32', 'b');
    const c = tensorView(ctx, buf, 1024, [9], 'f16', 'c');
    const da = values('f32', 5, 1), db = values('f32', 21, 2), dc = values('f16', 9, 3);
    writeTensor(ctx, a, da); writeTensor(ctx, b, db); writeTensor(ctx, c, dc);
    expect(Array.from(await readTensor(ctx, b))).toEqual(db);
    expect(Array.from(await readTensor(ctx, a))).toEqual(da);
    expect(Array.from(await readTensor(ctx, c))).toEqual(dc);
    expect(() => tensorView(ctx, buf, 100, [4], 'f32', 'misaligned')).toThrow(/not a multiple of minStorageBufferOffsetAlignment 256/);
    expect(() => tensorView(ctx, buf, 3840, [128], 'f32', 'overrun')).toThrow(LimitExceededError);
    buf.destroy();
  });

  it('reuses staging buffers across reads', async () => {
    const ctx = await testDevice();
    const ring = stagingRing(ctx);
    const t = createTensor(ctx, [1000], 'f32', 'reuse');
    writeTensor(ctx, t, values('f32', 1000, 9));
    for (let i = 0; i < ring.slotCount; i++) await readTensor(ctx, t); // fill every slot once
    const before = ring.buffersCreated;
    for (let i = 0; i < 20; i++) await readTensor(ctx, t);
    expect(ring.buffersCreated).toBe(before);
    t.buffer.destroy();
  });

  it('rejects a wrong number of values with the tensor named', async () => {
    const ctx = await testDevice();
    const t = createTensor(ctx, [2, 3], 'f32', 'six');
    expect(() => writeTensor(ctx, t, [1, 2, 3])).toThrow(/writeTensor\(six\): got 3 values for a tensor of 6 elements/);
    t.buffer.destroy();
  });
});

describe('limits and errors', () => {
  it('refuses a buffer beyond maxBufferSize before asking WebGPU, naming size and limit', async () => {
    const ctx = await testDevice();
    const huge = ctx.limits.maxBufferSize + 4;
    expect(() => createBuffer(ctx, huge, STORAGE_USAGE, 'huge')).toThrow(LimitExceededError);
    expect(() => createBuffer(ctx, huge, STORAGE_USAGE, 'huge'))
      .toThrow(`createBuffer(huge): needs maxBufferSize = ${huge}, but the device allows ${ctx.limits.maxBufferSize}`);
  });

  it('refuses a storage tensor beyond maxStorageBufferBindingSize', async () => {
    const ctx = await testDevice();
    const n = ctx.limits.maxStorageBufferBindingSize / 4 + 1;
    expect(() => createTensor(ctx, [n], 'f32', 'big')).toThrow(/maxStorageBufferBindingSize/);
  });

  it('rejects non-positive shapes', async () => {
    const ctx = await testDevice();
    expect(() => createTensor(ctx, [3, 0], 'f32', 'empty')).toThrow(ShapeError);
  });

  it('catches an invalid dispatch in an error scope and names the op', async () => {
    const ctx = await testDevice();
    const x = createTensor(ctx, [8], 'f32', 'x');
    const y = createTensor(ctx, [8], 'f32', 'y');
    const good = await prepareScaleShift(ctx, x, y, 2, 1);
    // Dispatch without a bind group: encoder validation fails at finish().
    const broken: PreparedOp = {
      ...good,
      name: 'brokenDispatch',
      encode(pass) {
        good.encode(pass);
        pass.setBindGroup(0, null);
        pass.dispatchWorkgroups(1);
      },
    };
    await expect(runOps(ctx, [broken])).rejects.toThrow(GpuValidationError);
    await expect(runOps(ctx, [broken])).rejects.toThrow(/^brokenDispatch: validation error/);
    // The device is still usable afterwards.
    writeTensor(ctx, x, [1, 2, 3, 4, 5, 6, 7, 8]);
    await runOps(ctx, [good]);
    expect(Array.from(await readTensor(ctx, y))).toEqual([3, 5, 7, 9, 11, 13, 15, 17]);
  });

  it('refuses workgroup counts above the per-dimension limit before dispatch', async () => {
    const ctx = await testDevice();
    const { checkWorkgroups } = await import('../src/runtime/kernel.ts');
    expect(() => checkWorkgroups(ctx, 'tooWide', [70000], { n: 70000 })).toThrow(/tooWide: needs maxComputeWorkgroupsPerDimension = 70000/);
  });

  it('reports WGSL compilation errors with file, line and source', async () => {
    const ctx = await testDevice();
    const bad = { name: 'broken_shader', code: '@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_thing;\n}\n' };
    const p = pipelineCache(ctx).get({ shader: bad });
    await expect(p).rejects.toThrow(ShaderCompilationError);
    await expect(pipelineCache(ctx).get({ shader: bad })).rejects.toThrow(/broken_shader\.wgsl:3:\d+: error: .*undefined_thing[\s\S]*let x: f32 = undefined_thing;/);
  });
});

describe('pipeline cache', () => {
  it('hits on a repeat of the same shader and constants, misses on new constants', async () => {
    const ctx = await testDevice();
    const cache = pipelineCache(ctx);
    const x = createTensor(ctx, [100], 'f32', 'x');
    const y = createTensor(ctx, [100], 'f32', 'y');
    const misses0 = cache.misses, hits0 = cache.hits;
    await prepareScaleShift(ctx, x, y, 3, 0);
    expect(cache.misses).toBe(misses0 + 1);
    await prepareScaleShift(ctx, x, y, 3, 0);
    expect(cache.hits).toBe(hits0 + 1);
    expect(cache.misses).toBe(misses0 + 1);
    await prepareScaleShift(ctx, x, y, 4, 0);
    expect(cache.misses).toBe(misses0 + 2);
  });

  it('runs a kernel over more elements than one grid dimension holds', async () => {
    const ctx = await testDevice();
    const n = 65535 * 64 + 77; // forces a 2-D grid
    const data = new Float32Array(n).map((_, i) => i % 1000);
    const x = createTensor(ctx, [n], 'f32', 'x');
    const y = createTensor(ctx, [n], 'f32', 'y');
    writeTensor(ctx, x, data);
    await runOps(ctx, [await prepareScaleShift(ctx, x, y, 0.5, -1)]);
    const out = await readTensor(ctx, y);
    for (const i of [0, 1, 999, 65535 * 64, n - 1]) expect(out[i]).toBe((i % 1000) * 0.5 - 1);
  });
});
