// Typed errors. Every message names the operation and the shapes involved, so a user can tell
// which op of which config failed without reading a stack trace.

export type Shapes = Record<string, readonly number[] | number | string>;

export function formatShapes(shapes?: Shapes): string {
  if (!shapes) return '';
  const parts = Object.entries(shapes).map(([k, v]) =>
    `${k}=${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export class CpcError extends Error {
  readonly op: string;
  readonly shapes?: Shapes;
  constructor(op: string, message: string, shapes?: Shapes) {
    super(`${op}: ${message}${formatShapes(shapes)}`);
    this.name = new.target.name;
    this.op = op;
    this.shapes = shapes;
  }
}

/** No usable WebGPU adapter (or only a null/CPU-fallback backend we refuse to use). */
export class NoAdapterError extends CpcError {}
/** Wrong shapes or an invalid config, found by our own checks before WebGPU is asked. */
export class ShapeError extends CpcError {}
/** A request beyond a device limit, refused before WebGPU is asked. */
export class LimitExceededError extends CpcError {
  readonly limit: string;
  readonly requested: number;
  readonly allowed: number;
  constructor(op: string, limit: string, requested: number, allowed: number, shapes?: Shapes) {
    super(op, `needs ${limit} = ${requested}, but the device allows ${allowed}`, shapes);
    this.limit = limit;
    this.requested = requested;
    this.allowed = allowed;
  }
}
/** A WebGPU validation error captured by an error scope or `uncapturederror`. */
export class GpuValidationError extends CpcError {}
export class GpuOutOfMemoryError extends CpcError {}
export class GpuInternalError extends CpcError {}
export class DeviceLostError extends CpcError {
  readonly reason: string;
  constructor(op: string, reason: string, message: string) {
    super(op, `device lost (${reason}): ${message}`);
    this.reason = reason;
  }
}
export class ShaderCompilationError extends CpcError {}
/** Non-finite values where finite ones are required (data, loss). */
export class NonFiniteError extends CpcError {}

/** Wraps a GPUError popped from an error scope into our typed error. */
export function fromGpuError(op: string, err: GPUError, shapes?: Shapes): CpcError {
  const kind = (err as { constructor?: { name?: string } }).constructor?.name ?? '';
  if (kind.includes('OutOfMemory')) return new GpuOutOfMemoryError(op, `out of memory: ${err.message}`, shapes);
  if (kind.includes('Internal')) return new GpuInternalError(op, `internal error: ${err.message}`, shapes);
  return new GpuValidationError(op, `validation error: ${err.message}`, shapes);
}

export function assertShape(op: string, name: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new ShapeError(op, `${name} has shape [${actual.join(', ')}], expected [${expected.join(', ')}]`);
  }
}

export function assertPositiveInt(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new ShapeError(op, `${name} must be a positive integer, got ${v}`);
}
