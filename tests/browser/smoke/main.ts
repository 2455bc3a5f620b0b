// Runs the same runtime modules as Node (device, tensors, pipeline cache, launcher, staging ring)
// in the page and publishes the result for the test to read.
import { acquireDevice } from '../../../src/runtime/device.ts';
import { runOps } from '../../../src/runtime/kernel.ts';
import { readTensor } from '../../../src/runtime/staging.ts';
import { createTensor, writeTensor } from '../../../src/runtime/tensor.ts';
import { prepareScaleShift } from '../../../src/shaders/elementwise.ts';

declare global {
  interface Window { smokeResult?: { ok: boolean; adapter?: string; input?: number[]; output?: number[]; error?: string } }
}

async function run(): Promise<void> {
  const ctx = await acquireDevice({ label: 'browser-smoke' });
  try {
    const input = Array.from({ length: 1000 }, (_, i) => (i % 17) - 8);
    const x = createTensor(ctx, [input.length], 'f32', 'x');
    const y = createTensor(ctx, [input.length], 'f32', 'y');
    writeTensor(ctx, x, input);
    await runOps(ctx, [await prepareScaleShift(ctx, x, y, 1.5, 0.25)]);
    const output = Array.from(await readTensor(ctx, y));
    window.smokeResult = { ok: true, adapter: `${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.description}`, input, output };
  } finally {
    ctx.dispose();
  }
}

run().catch((e: unknown) => {
  window.smokeResult = { ok: false, error: String((e as Error)?.message ?? e) };
}).finally(() => {
  document.getElementById('out')!.textContent = JSON.stringify(window.smokeResult);
});
