// Static memory planning for a step whose op list is fixed: each transient tensor lives from the
// first op that touches it to the last, and transients whose live ranges do not intersect share
// arena memory. Persistent tensors (parameters, gradients, optimizer state, step inputs/outputs)
// get their own region and survive across steps. Knows nothing about CPC.
// Because transients share one buffer, every kernel declares its storage bindings read_write:
// WebGPU refuses a buffer bound both read-only and writable in the same dispatch (measured on
// Dawn), while several writable bindings of one buffer are allowed.
import type { GpuContext } from './device.ts';
import { ShapeError } from './errors.ts';
import { STORAGE_USAGE, alignUp, createBuffer, tensorByteLength, tensorView, type DType, type Tensor } from './tensor.ts';

export type TensorLifetime = 'persistent' | 'transient';

export interface TensorDecl {
  name: string;
  shape: readonly number[];
  dtype: DType;
  lifetime: TensorLifetime;
}

export interface OpDecl {
  name: string;
  reads: readonly string[];
  writes: readonly string[];
}

export interface PlannedTensor extends TensorDecl {
  /** Byte offset inside its arena (a multiple of the storage-offset alignment). */
  offset: number;
  bytes: number;
  /** Inclusive op-index range during which the tensor holds live data ([-1,-1] if unused). */
  firstOp: number;
  lastOp: number;
}

export interface MemoryPlan {
  tensors: PlannedTensor[];
  persistentBytes: number;
  /** Size of the transient arena: the planned peak of simultaneously live transients. */
  transientBytes: number;
  /** persistent + transient. */
  plannedPeakBytes: number;
  /** What the same tensors would take with no reuse (each its own aligned allocation). */
  noReuseBytes: number;
}

function overlaps(a: PlannedTensor, b: PlannedTensor): boolean {
  return a.firstOp <= b.lastOp && b.firstOp <= a.lastOp;
}

/**
 * Places tensors: persistent ones back to back; transients by greedy best-fit in decreasing size
 * order, each at the lowest aligned offset not overlapping any already-placed transient whose live
 * range intersects its own. Deterministic for a given input.
 */
export function planMemory(tensors: readonly TensorDecl[], ops: readonly OpDecl[], alignment = 256): MemoryPlan {
  const byName = new Map<string, PlannedTensor>();
  for (const t of tensors) {
    if (byName.has(t.name)) throw new ShapeError('planMemory', `tensor '${t.name}' declared twice`);
    byName.set(t.name, { ...t, offset: 0, bytes: alignUp(tensorByteLength(t.shape, t.dtype), alignment), firstOp: -1, lastOp: -1 });
  }
  ops.forEach((op, i) => {
    for (const name of [...op.reads, ...op.writes]) {
      const t = byName.get(name);
      if (!t) throw new ShapeError('planMemory', `op '${op.name}' uses undeclared tensor '${name}'`);
      if (t.firstOp < 0) t.firstOp = i;
      t.lastOp = i;
    }
  });
  for (const op of ops) {
    for (const name of op.reads) {
      const t = byName.get(name)!;
      if (t.lifetime === 'transient' && ops.findIndex((o) => o.writes.includes(name)) > ops.indexOf(op)) {
        throw new ShapeError('planMemory', `op '${op.name}' reads transient '${name}' before any op writes it`);
      }
    }
  }
  const all = [...byName.values()];
  let persistentBytes = 0;
  for (const t of all.filter((x) => x.lifetime === 'persistent')) {
    t.offset = persistentBytes;
    persistentBytes += t.bytes;
  }
  const transients = all.filter((x) => x.lifetime === 'transient' && x.firstOp >= 0)
    .sort((a, b) => b.bytes - a.bytes || a.firstOp - b.firstOp || a.name.localeCompare(b.name));
  const placed: PlannedTensor[] = [];
  let transientBytes = 0;
  for (const t of transients) {
    const conflicts = placed.filter((p) => overlaps(p, t)).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const c of conflicts) {
      if (offset + t.bytes <= c.offset) break;
      offset = Math.max(offset, c.offset + c.bytes);
    }
    t.offset = offset;
    placed.push(t);
    transientBytes = Math.max(transientBytes, offset + t.bytes);
  }
  const noReuseBytes = all.reduce((s, t) => s + t.bytes, 0);
  return { tensors: all, persistentBytes, transientBytes, plannedPeakBytes: persistentBytes + transientBytes, noReuseBytes };
}

/** Pairs of transients that are live at the same time and share bytes (must be empty). */
export function findPlanConflicts(plan: MemoryPlan): [string, string][] {
  const ts = plan.tensors.filter((t) => t.lifetime === 'transient' && t.firstOp >= 0);
  const out: [string, string][] = [];
  for (let i = 0; i < ts.length; i++) {
    for (let j = i + 1; j < ts.length; j++) {
      const a = ts[i]!, b = ts[j]!;
      if (overlaps(a, b) && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes) out.push([a.name, b.name]);
    }
  }
  const ps = plan.tensors.filter((t) => t.lifetime === 'persistent');
  for (let i = 0; i < ps.length; i++) {
    for (let j = i + 1; j < ps.length; j++) {
      const a = ps[i]!, b = ps[j]!;
      if (a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes) out.push([a.name, b.name]);
    }
  }
  return out;
}

export interface Arena {
  plan: MemoryPlan;
  persistent: GPUBuffer | null;
  transient: GPUBuffer | null;
  tensors: Map<string, Tensor>;
  get(name: string): Tensor;
  destroy(): void;
}

/** Allocates the two arena buffers of a plan and creates a tensor view for every declared tensor. */
export function allocateArena(ctx: GpuContext, plan: MemoryPlan, label = 'arena'): Arena {
  const persistent = plan.persistentBytes > 0 ? createBuffer(ctx, plan.persistentBytes, STORAGE_USAGE, `${label}.persistent`) : null;
  const transient = plan.transientBytes > 0 ? createBuffer(ctx, plan.transientBytes, STORAGE_USAGE, `${label}.transient`) : null;
  const tensors = new Map<string, Tensor>();
  for (const t of plan.tensors) {
    const buf = t.lifetime === 'persistent' ? persistent : transient;
    if (!buf || (t.lifetime === 'transient' && t.firstOp < 0)) continue;
    tensors.set(t.name, tensorView(ctx, buf, t.offset, t.shape, t.dtype, t.name));
  }
  return {
    plan,
    persistent,
    transient,
    tensors,
    get(name: string): Tensor {
      const t = tensors.get(name);
      if (!t) throw new ShapeError('arena', `no tensor '${name}' in the plan (unused transients get no memory)`);
      return t;
    },
    destroy() {
      persistent?.destroy();
      transient?.destroy();
    },
  };
}
