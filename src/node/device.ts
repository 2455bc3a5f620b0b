import { acquireDevice, type AcquireOptions, type GpuContext } from '../runtime/device.ts';
import { createNodeGpu, releaseNodeGpu } from './gpu.ts';

/**
 * How long the Dawn GPU object is kept after its device reported itself destroyed. dawn.node's
 * AsyncRunner still has a ProcessEvents() call scheduled then; if garbage collection frees the
 * instance first, that call locks a freed mutex (core dumps: "The futex facility returned an
 * unexpected error code" in InstanceBase::ProcessEvents, SIGSEGV, or a hang there), which hit a few
 * percent of runs that failed right after acquiring the device (lots of garbage, an early GC).
 * Measured on the #11 repro (train, channels 100000): 4 of 58 runs crashed when the object was dropped
 * at dispose (also when dispose then awaited `lost`), 0 of 40 with it dropped 100 ms after `lost`.
 */
const RELEASE_AFTER_LOST_MS = 100;

/**
 * Acquires a device through Dawn. Disposing the context also drops the Dawn GPU object so the
 * Node process can exit by itself — but only once the device is reported lost (destroyed) and Dawn's
 * last scheduled event processing has run; `closeNodeDevice` waits for that.
 */
export async function acquireNodeDevice(options: Omit<AcquireOptions, 'gpu'> = {}): Promise<GpuContext> {
  let ctx: GpuContext;
  try {
    ctx = await acquireDevice({ ...options, gpu: createNodeGpu() });
  } catch (e) {
    if (liveDevices === 0) releaseNodeGpu();
    throw e;
  }
  liveDevices++;
  const released = ctx.lost
    .then(() => new Promise<void>((resolve) => setTimeout(resolve, RELEASE_AFTER_LOST_MS)))
    .then(() => {
      // The GPU object is shared: dropping it while another device lives would free that one's instance.
      if (--liveDevices === 0) releaseNodeGpu();
    });
  releases.set(ctx, released);
  return ctx;
}

let liveDevices = 0;
const releases = new WeakMap<GpuContext, Promise<void>>();

/**
 * Disposes `ctx` (destroying its device) and waits until the Dawn GPU object has been dropped, so the
 * process exits cleanly afterwards. Every CLI path, success or error, ends its device through this.
 */
export async function closeNodeDevice(ctx: GpuContext): Promise<void> {
  ctx.dispose();
  await releases.get(ctx);
}
