import { acquireDevice, type AcquireOptions, type GpuContext } from '../runtime/device.ts';
import { createNodeGpu, releaseNodeGpu } from './gpu.ts';

/**
 * Acquires a device through Dawn. Disposing the context also drops the Dawn GPU object so the
 * Node process can exit by itself.
 */
export async function acquireNodeDevice(options: Omit<AcquireOptions, 'gpu'> = {}): Promise<GpuContext> {
  let ctx: GpuContext;
  try {
    ctx = await acquireDevice({ ...options, gpu: createNodeGpu() });
  } catch (e) {
    releaseNodeGpu();
    throw e;
  }
  ctx.addDisposer(releaseNodeGpu);
  return ctx;
}
