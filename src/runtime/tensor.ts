// Typed tensor handles: a shape and dtype over a byte range of a GPUBuffer. Alignment rules live
// here and nowhere else: storage-binding offsets are multiples of minStorageBufferOffsetAlignment
// (256 everywhere today) and every byte length is padded to 4 so copies and f16 tails are legal.
import type { GpuContext } from './device.ts';
import { LimitExceededError, ShapeError } from './errors.ts';
import { fromF16Array, toF16Array } from './f16.ts';
import { BufferUsage } from './usage.ts';

export type DType = 'f32' | 'f16' | 'u32' | 'i32';

export const DTYPE_BYTES: Record<DType, number> = { f32: 4, f16: 2, u32: 4, i32: 4 };

export type HostArray = Float32Array | Uint32Array | Int32Array | Uint16Array;

/** Usage of every tensor buffer: bound as storage, copied to staging for reads, written by uploads. */
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensorByteLength(shape: readonly number[], dtype: DType): number {
  return alignUp(numel(shape) * DTYPE_BYTES[dtype], 4);
}

export interface Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly buffer: GPUBuffer;
  /** Byte offset into `buffer`; a multiple of the storage-offset alignment. */
  readonly byteOffset: number;
  /** Padded to a multiple of 4. */
  readonly byteLength: number;
  readonly label: string;
}

export function validateShape(op: string, shape: readonly number[]): void {
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ShapeError(op, `invalid tensor shape [${shape.join(', ')}]: dimensions must be positive integers`);
  }
}

/** Allocates a GPU buffer after checking maxBufferSize ourselves (WebGPU would only warn asynchronously). */
export function createBuffer(ctx: GpuContext, size: number, usage: number, label: string): GPUBuffer {
  const op = `createBuffer(${label})`;
  ctx.assertAlive(op);
  if (!Number.isFinite(size) || size <= 0) throw new ShapeError(op, `buffer size must be positive, got ${size}`);
  ctx.checkLimit(op, 'maxBufferSize', size, { bytes: size });
  return ctx.device.createBuffer({ size: alignUp(size, 4), usage, label });
}

/** A tensor with its own storage buffer (arena-backed tensors come from the planner instead). */
export function createTensor(ctx: GpuContext, shape: readonly number[], dtype: DType = 'f32', label = 'tensor'): Tensor {
  validateShape(`createTensor(${label})`, shape);
  const byteLength = tensorByteLength(shape, dtype);
  if (dtype === 'f16' && !ctx.has('shader-f16')) {
    throw new ShapeError(`createTensor(${label})`, "dtype f16 needs the 'shader-f16' feature, which this device lacks");
  }
  ctx.checkLimit(`createTensor(${label})`, 'maxStorageBufferBindingSize', byteLength, { shape: shape as number[] });
  const buffer = createBuffer(ctx, byteLength, STORAGE_USAGE, label);
  return { shape: [...shape], dtype, buffer, byteOffset: 0, byteLength, label };
}

/** A view of `numel(shape)` elements at `byteOffset` inside an existing buffer. */
export function tensorView(
  ctx: GpuContext, buffer: GPUBuffer, byteOffset: number, shape: readonly number[], dtype: DType, label: string,
): Tensor {
  const op = `tensorView(${label})`;
  validateShape(op, shape);
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  if (byteOffset % align !== 0) {
    throw new ShapeError(op, `byte offset ${byteOffset} is not a multiple of minStorageBufferOffsetAlignment ${align}`);
  }
  const byteLength = tensorByteLength(shape, dtype);
  if (byteOffset + byteLength > buffer.size) {
    throw new LimitExceededError(op, 'buffer.size', byteOffset + byteLength, buffer.size, { shape: shape as number[] });
  }
  ctx.checkLimit(op, 'maxStorageBufferBindingSize', byteLength, { shape: shape as number[] });
  return { shape: [...shape], dtype, buffer, byteOffset, byteLength, label };
}

function hostArrayFor(dtype: DType, data: ArrayLike<number>): HostArray {
  switch (dtype) {
    case 'f32': return data instanceof Float32Array ? data : Float32Array.from(data);
    case 'u32': return data instanceof Uint32Array ? data : Uint32Array.from(data);
    case 'i32': return data instanceof Int32Array ? data : Int32Array.from(data);
    case 'f16': return data instanceof Uint16Array ? data : toF16Array(data);
  }
}

/**
 * Uploads host data. For f16 tensors a Float32Array (or number[]) is converted; a Uint16Array is
 * taken as raw half bits.
 */
export function writeTensor(ctx: GpuContext, t: Tensor, data: ArrayLike<number>): void {
  const op = `writeTensor(${t.label})`;
  ctx.assertAlive(op);
  const n = numel(t.shape);
  if (data.length !== n) throw new ShapeError(op, `got ${data.length} values for a tensor of ${n} elements`, { shape: t.shape as number[] });
  const host = hostArrayFor(t.dtype, data);
  const bytes = n * DTYPE_BYTES[t.dtype];
  if (bytes % 4 === 0) {
    ctx.device.queue.writeBuffer(t.buffer, t.byteOffset, host.buffer, host.byteOffset, bytes);
  } else {
    // writeBuffer needs a multiple of 4 bytes; pad the odd f16 tail with one zero half.
    const padded = new Uint16Array(n + 1);
    padded.set(host as Uint16Array);
    ctx.device.queue.writeBuffer(t.buffer, t.byteOffset, padded.buffer, 0, bytes + 2);
  }
}

export function decodeTensorBytes(dtype: DType, bytes: ArrayBuffer, n: number): Float32Array | Uint32Array | Int32Array {
  switch (dtype) {
    case 'f32': return new Float32Array(bytes, 0, n);
    case 'u32': return new Uint32Array(bytes, 0, n);
    case 'i32': return new Int32Array(bytes, 0, n);
    case 'f16': return fromF16Array(new Uint16Array(bytes, 0, n));
  }
}

export function fillTensorZero(encoder: GPUCommandEncoder, t: Tensor): void {
  encoder.clearBuffer(t.buffer, t.byteOffset, t.byteLength);
}

export function copyTensor(encoder: GPUCommandEncoder, src: Tensor, dst: Tensor): void {
  if (src.byteLength !== dst.byteLength || src.dtype !== dst.dtype) {
    throw new ShapeError('copyTensor', `cannot copy ${src.label} [${src.shape}] ${src.dtype} to ${dst.label} [${dst.shape}] ${dst.dtype}`);
  }
  encoder.copyBufferToBuffer(src.buffer, src.byteOffset, dst.buffer, dst.byteOffset, src.byteLength);
}
