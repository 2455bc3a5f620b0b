// Kernel variants: several ways to run one op (tiling, workgroup size, workgroup memory, subgroups)
// that all stay within that op's oracle-tested error bounds. GPUs differ in which is fastest, so the
// tuner (src/runtime/tuner.ts) times them on the actual device for the actual shapes and caches the
// choice; without a cache entry the first variant of a family's list — its default for this adapter
// class — is used. A given variant is bitwise deterministic (fixed reduction order), but two
// variants may round differently, which is why every variant is oracle-tested on its own.
//
// Contract for kernel families (src/shaders/*.ts): export `<family>Variants(ctx, dims, …)` returning
// the candidates valid on this device for these dims, default first, each with a stable `id`
// (part of the tuner's cache key; never reuse an id for a different kernel) and the launcher
// options that select it. The family's `prepare…` functions accept those options.
import type { GpuContext } from './device.ts';

/** One candidate way to run an op. */
export interface KernelVariant<O = unknown> {
  /** Stable id, e.g. 'subgroup.wg16' or 'wgmem.t64x64': cache key, shown by `info` and the demo. */
  id: string;
  /** Launcher options that select this variant. */
  options: O;
}

/** The family's default (its list's first entry). */
export function defaultVariant<O>(family: string, list: readonly KernelVariant<O>[]): KernelVariant<O> {
  const v = list[0];
  if (!v) throw new Error(`${family}: no kernel variant is valid on this device`);
  return v;
}

/** The variant with this id, or undefined when it is not valid on this device for these dims. */
export function findVariant<O>(list: readonly KernelVariant<O>[], id: string): KernelVariant<O> | undefined {
  return list.find((v) => v.id === id);
}

/**
 * A CPU-backed adapter (fallback, or a software Vulkan such as lavapipe / SwiftShader): families
 * order their variants differently there, because barriers and workgroup memory cost a CPU far more
 * than registers (DESIGN §6), while GPUs favour workgroup-memory tiles.
 */
export function isSoftwareAdapter(ctx: Pick<GpuContext, 'adapter'>): boolean {
  const a = ctx.adapter;
  return a.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(`${a.architecture} ${a.description}`);
}
