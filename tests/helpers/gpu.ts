// One real WebGPU device per test file (Dawn on whatever Vulkan driver is installed; lavapipe in
// CI). Never a mock: if no adapter exists the tests fail with the install hint.
import { afterAll } from 'vitest';
import { acquireNodeDevice } from '../../src/node/device.ts';
import type { GpuContext } from '../../src/runtime/device.ts';
import { readTensor } from '../../src/runtime/staging.ts';
import { createTensor, writeTensor, type DType, type Tensor } from '../../src/runtime/tensor.ts';

let ctxPromise: Promise<GpuContext> | null = null;

/** The file's shared device; disposed after the file's tests so the worker can exit. */
export function testDevice(): Promise<GpuContext> {
  if (!ctxPromise) {
    ctxPromise = acquireNodeDevice({ label: 'test' }).then((ctx) => {
      // The SwiftShader project (vitest.config.ts) must not silently run on lavapipe again.
      const want = process.env.CPC_WEBGPU_EXPECT_ADAPTER;
      const a = ctx.adapter;
      const name = `${a.vendor} ${a.architecture} ${a.description}`;
      if (want && !name.toLowerCase().includes(want.toLowerCase())) {
        ctx.dispose();
        throw new Error(`expected the ${want} adapter (CPC_WEBGPU_EXPECT_ADAPTER), got "${name}"`);
      }
      return ctx;
    });
    afterAll(async () => {
      const ctx = await ctxPromise;
      ctxPromise = null;
      ctx?.dispose();
    });
  }
  return ctxPromise;
}

/** Uploads host values (float64 references are narrowed to f32 here) into a fresh tensor. */
export function upload(ctx: GpuContext, shape: number[], data: ArrayLike<number>, dtype: DType = 'f32', label = 'input'): Tensor {
  const t = createTensor(ctx, shape, dtype, label);
  writeTensor(ctx, t, data);
  return t;
}

export async function download(ctx: GpuContext, t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await readTensor(ctx, t));
}
