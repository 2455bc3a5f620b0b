// Node-only: the Dawn `GPU` object from the `webgpu` package. dawn.node keeps the process alive
// while this object is referenced, so it is created lazily and dropped by `releaseNodeGpu()`.
//
// `webgpu` is an optional dependency (≈130 MB of native builds that browser-only users never load),
// so it is imported here with a catch: when it is missing, acquiring a device says how to install it
// in one line instead of the whole package failing to import.
import { NoAdapterError } from '../runtime/errors.ts';

type Dawn = typeof import('webgpu');

/** The pinned Dawn build we test against (package.json optionalDependencies). */
const DAWN_PACKAGE = 'webgpu@0.6.2';

const dawn: Dawn | Error = await import('webgpu').catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

let gpu: GPU | null = null;

/** Dawn flags: CPC_WEBGPU_DAWN_FLAGS="backend=vulkan,adapter=llvmpipe" style, comma separated. */
function dawnFlags(): string[] {
  const flags = (process.env.CPC_WEBGPU_DAWN_FLAGS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const adapter = process.env.CPC_WEBGPU_ADAPTER;
  if (adapter) flags.push(`adapter=${adapter}`);
  return flags;
}

export function createNodeGpu(): GPU {
  if (dawn instanceof Error) {
    const missing = (dawn as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && dawn.message.includes("'webgpu'");
    throw new NoAdapterError('createNodeGpu', missing
      ? `the 'webgpu' package (Dawn for Node) is not installed; install it with: npm install ${DAWN_PACKAGE}`
      : `could not load Dawn from the 'webgpu' package: ${dawn.message}`);
  }
  if (!gpu) {
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    // GPUBufferUsage and friends must be globals for code written against the browser API.
    Object.assign(globalThis, dawn.globals);
    gpu = dawn.create(dawnFlags()) as unknown as GPU;
  }
  return gpu;
}

export function releaseNodeGpu(): void {
  gpu = null;
}
