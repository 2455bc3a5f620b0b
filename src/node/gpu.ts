// Node-only: the Dawn `GPU` object from the `webgpu` package. dawn.node keeps the process alive
// while this object is referenced, so it is created lazily and dropped by `releaseNodeGpu()`.
import { create, globals } from 'webgpu';

let gpu: GPU | null = null;

/** Dawn flags: CPC_WEBGPU_DAWN_FLAGS="backend=vulkan,adapter=llvmpipe" style, comma separated. */
function dawnFlags(): string[] {
  const flags = (process.env.CPC_WEBGPU_DAWN_FLAGS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const adapter = process.env.CPC_WEBGPU_ADAPTER;
  if (adapter) flags.push(`adapter=${adapter}`);
  return flags;
}

export function createNodeGpu(): GPU {
  if (!gpu) {
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    // GPUBufferUsage and friends must be globals for code written against the browser API.
    Object.assign(globalThis, globals);
    gpu = create(dawnFlags()) as unknown as GPU;
  }
  return gpu;
}

export function releaseNodeGpu(): void {
  gpu = null;
}
