// The safetensors checkpoint format (https://github.com/huggingface/safetensors), read and written
// without dependencies so it runs in the browser as well as in Node:
//
//   [u64 little-endian N][N bytes of UTF-8 JSON header, space-padded][data section]
//
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the
// data section) plus an optional "__metadata__" object of strings. Files come from outside (a user's
// disk, a download), so the parser checks everything the reference implementation checks and a bit
// more, and every failure is a CheckpointError naming the file, the tensor and the problem. The data is
// copied out into fresh typed arrays: the data section need not be aligned inside the caller's buffer,
// and callers must be free to drop the (possibly huge) file buffer.
import { CpcError } from '../runtime/errors.ts';

export type SafetensorsDType = 'F32' | 'F16' | 'U32' | 'I32' | 'F64' | 'U8' | 'I64' | 'BF16';

/**
 * One tensor. `data` is the matching typed array: F32 → Float32Array, F64 → Float64Array,
 * U32 → Uint32Array, I32 → Int32Array, U8 → Uint8Array, F16 and BF16 → Uint16Array holding the raw
 * bit patterns, I64 → Uint8Array holding the raw little-endian bytes (8 per element), because the
 * union has no BigInt64Array and mixing bigint into numeric code is a trap.
 */
export interface SafeTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Uint32Array | Int32Array | Float64Array | Uint16Array | Uint8Array;
}

/** A checkpoint that is malformed, or tensors/metadata that cannot be written as one. */
export class CheckpointError extends CpcError {}

/** The reference implementation's limit; a larger header is refused before it is decoded. */
export const MAX_HEADER_BYTES = 100_000_000;

type DataKind = 'Float32Array' | 'Float64Array' | 'Uint32Array' | 'Int32Array' | 'Uint16Array' | 'Uint8Array';

interface DTypeInfo {
  /** Bytes per element in the file. */
  size: number;
  kind: DataKind;
  /**
   * Position in the reference implementation's Dtype enum (increasing alignment). Its writer lays
   * tensors out by descending rank, then by name, so that every tensor is aligned to its element size;
   * we do the same so that our files are byte-identical to Python's for the same tensors.
   */
  rank: number;
}

const DTYPES: Record<SafetensorsDType, DTypeInfo> = {
  U8: { size: 1, kind: 'Uint8Array', rank: 0 },
  F16: { size: 2, kind: 'Uint16Array', rank: 1 },
  BF16: { size: 2, kind: 'Uint16Array', rank: 2 },
  I32: { size: 4, kind: 'Int32Array', rank: 3 },
  U32: { size: 4, kind: 'Uint32Array', rank: 4 },
  F32: { size: 4, kind: 'Float32Array', rank: 5 },
  F64: { size: 8, kind: 'Float64Array', rank: 6 },
  I64: { size: 8, kind: 'Uint8Array', rank: 7 },
};

// dtypes the format defines that we do not represent: refused with a clearer message than "unknown".
const OTHER_SPEC_DTYPES = new Set(['BOOL', 'I8', 'U16', 'I16', 'U64', 'C64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0',
  'F4', 'F6_E2M3', 'F6_E3M2']);

function isDType(s: string): s is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Bytes per element of a dtype in a safetensors file. */
export function dtypeSize(dtype: SafetensorsDType): number {
  return DTYPES[dtype].size;
}

// The file format is little-endian; typed arrays use the host's order. Every host that runs WebGPU is
// little-endian, but a silent byte-order bug in a checkpoint would be unrecoverable, so swap if not.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapBytesInPlace(bytes: Uint8Array, elemSize: number): void {
  for (let i = 0; i + elemSize <= bytes.length; i += elemSize) {
    for (let a = i, b = i + elemSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Names come from untrusted files: quote them, and keep a hostile 100 MB name out of messages. */
function quote(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${quote(v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  return `a ${typeof v}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Product of the dims, or null past Number.MAX_SAFE_INTEGER (checked at every step, as the reference does). */
function checkedNumel(shape: readonly number[]): number | null {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

function checkedBytes(shape: readonly number[], dtype: SafetensorsDType): number | null {
  const numel = checkedNumel(shape);
  if (numel === null) return null;
  const bytes = numel * DTYPES[dtype].size;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Code-point order, which is the byte order of the UTF-8 names the reference implementation sorts. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}

// ------------------------------------------------------------------------------------------ encode

/**
 * Serialises tensors (and string metadata) to safetensors bytes. Layout, header key order and padding
 * follow the reference writer (dtype alignment descending, then name), so Python reads the file and the
 * bytes match what `safetensors.torch.save` writes for the same tensors and at most one metadata key.
 */
export function encodeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const op = 'encodeSafetensors';
  const entries: [string, SafeTensor][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);

  const prepared = entries.map(([name, t]) => {
    if (typeof name !== 'string' || name.length === 0) throw new CheckpointError(op, 'tensor names must be non-empty strings');
    if (name === '__metadata__') throw new CheckpointError(op, 'the tensor name "__metadata__" is reserved for the header metadata');
    if (!isPlainObject(t)) throw new CheckpointError(op, `tensor ${quote(name)} is ${describeValue(t)}, not a tensor`);
    const { dtype, shape, data } = t;
    if (typeof dtype !== 'string' || !isDType(dtype)) {
      throw new CheckpointError(op, `tensor ${quote(name)} has unsupported dtype ${describeValue(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new CheckpointError(op, `tensor ${quote(name)} shape must be an array of non-negative integers, got ${Array.isArray(shape) ? formatShape(shape) : describeValue(shape)}`);
    }
    const info = DTYPES[dtype];
    const kind = Object.prototype.toString.call(data).slice(8, -1);
    if (kind !== info.kind) {
      throw new CheckpointError(op, `tensor ${quote(name)} of dtype ${dtype} needs its data in a ${info.kind}, got ${kind}`);
    }
    const nbytes = checkedBytes(shape, dtype);
    if (nbytes === null) throw new CheckpointError(op, `tensor ${quote(name)} shape ${formatShape(shape)} × ${dtype} overflows the safe integer range`);
    if (data.byteLength !== nbytes) {
      throw new CheckpointError(op, `tensor ${quote(name)} shape ${formatShape(shape)} × ${dtype} needs ${nbytes} bytes, but its data has ${data.byteLength}`);
    }
    return { name, dtype, shape: shape.slice(), data, nbytes, rank: info.rank };
  });
  prepared.sort((a, b) => (b.rank - a.rank) || compareCodePoints(a.name, b.name));

  // Header JSON is assembled by hand: JS objects put integer-like keys ("0", "12") first regardless of
  // insertion order, which would reorder tensors relative to the data layout and the reference bytes.
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new CheckpointError(op, `metadata must be an object of strings, got ${describeValue(metadata)}`);
    const keys = Object.keys(metadata).sort(compareCodePoints);
    const items = keys.map((k) => {
      const v: unknown = metadata[k];
      if (typeof v !== 'string') throw new CheckpointError(op, `metadata ${quote(k)} is ${describeValue(v)}; safetensors metadata values must be strings`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${items.join(',')}}`);
  }
  let offset = 0;
  for (const t of prepared) {
    const end = offset + t.nbytes;
    if (!Number.isSafeInteger(end)) throw new CheckpointError(op, 'total tensor data overflows the safe integer range');
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES) {
    throw new CheckpointError(op, `header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce`);
  }
  const total = 8 + padded + offset;
  if (!Number.isSafeInteger(total)) throw new CheckpointError(op, 'file size overflows the safe integer range');

  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const t of prepared) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos);
    if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(out.subarray(pos, pos + t.nbytes), t.data.BYTES_PER_ELEMENT);
    pos += t.nbytes;
  }
  return out;
}

// ------------------------------------------------------------------------------------------- parse

interface Entry { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }

/**
 * Parses and validates safetensors bytes. `source` (usually the file path) prefixes every error.
 * Tensors come back in file layout order, each with its own freshly allocated, aligned data.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  source = 'checkpoint',
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  // Explicit types so TypeScript treats calls as never-returning and narrows after them.
  const fail: (message: string) => never = (message) => {
    throw new CheckpointError('parseSafetensors', `${source}: ${message}`);
  };
  const failTensor: (name: string, message: string) => never = (name, message) => fail(`tensor ${quote(name)}: ${message}`);

  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length prefix`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 === 0n) fail('header length is 0; even an empty checkpoint has the header "{}"');
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (n > bytes.length - 8) {
    fail(`header length ${n} exceeds the file size ${bytes.length} minus the 8-byte prefix (${bytes.length - 8}); the file is truncated or not safetensors`);
  }

  let text: string;
  try {
    // ignoreBOM keeps a leading U+FEFF in the text so that the '{' check refuses it, as the reference does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header does not start with '{' (first byte 0x${bytes[8]!.toString(16).padStart(2, '0')})`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    fail(`header is not valid JSON (${why.length > 200 ? `${why.slice(0, 200)}…` : why})`);
  }
  if (!isPlainObject(header)) fail(`header is ${describeValue(header)}, not a JSON object`);

  // JSON.parse makes "__proto__" an own data property and Object.fromEntries keeps it one, so a hostile
  // key cannot reach a prototype.
  let metadata: Record<string, string> = {};
  const meta = header['__metadata__'];
  // The reference reads "__metadata__" as Option<HashMap<String, String>>: null means absent.
  if (meta !== undefined && meta !== null) {
    if (!isPlainObject(meta)) fail(`__metadata__ is ${describeValue(meta)}, not an object of strings`);
    const pairs = Object.entries(meta);
    for (const [k, v] of pairs) {
      if (typeof v !== 'string') fail(`__metadata__ ${quote(k)} is ${describeValue(v)}, not a string`);
    }
    metadata = Object.fromEntries(pairs) as Record<string, string>;
  }

  const entries: Entry[] = [];
  for (const name of Object.keys(header)) {
    if (name === '__metadata__') continue;
    const e = header[name];
    if (!isPlainObject(e)) failTensor(name, `entry is ${describeValue(e)}, not an object`);
    const { dtype, shape, data_offsets: offsets } = e;

    if (dtype === undefined) failTensor(name, 'missing dtype');
    if (typeof dtype !== 'string') failTensor(name, `dtype is ${describeValue(dtype)}, not a string`);
    if (!isDType(dtype)) {
      failTensor(name, OTHER_SPEC_DTYPES.has(dtype)
        ? `unsupported dtype ${quote(dtype)} (this reader handles ${Object.keys(DTYPES).join(', ')})`
        : `unknown dtype ${quote(dtype)}`);
    }

    if (shape === undefined) failTensor(name, 'missing shape');
    if (!Array.isArray(shape)) failTensor(name, `shape is ${describeValue(shape)}, not an array`);
    const dims: number[] = [];
    shape.forEach((d: unknown, i: number) => {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        failTensor(name, `shape[${i}] is ${describeValue(d)}, not a non-negative safe integer`);
      }
      dims.push(d);
    });

    if (offsets === undefined) failTensor(name, 'missing data_offsets');
    if (!Array.isArray(offsets) || offsets.length !== 2) {
      failTensor(name, `data_offsets is ${describeValue(offsets)}${Array.isArray(offsets) ? ` of length ${offsets.length}` : ''}, not [begin, end]`);
    }
    const [begin, end]: unknown[] = offsets;
    if (typeof begin !== 'number' || !Number.isSafeInteger(begin) || begin < 0) {
      failTensor(name, `data_offsets begin is ${describeValue(begin)}, not a non-negative safe integer`);
    }
    if (typeof end !== 'number' || !Number.isSafeInteger(end) || end < 0) {
      failTensor(name, `data_offsets end is ${describeValue(end)}, not a non-negative safe integer`);
    }
    if (begin > end) failTensor(name, `data_offsets [${begin}, ${end}] has begin > end`);

    const nbytes = checkedBytes(dims, dtype);
    if (nbytes === null) failTensor(name, `shape ${formatShape(dims)} × ${dtype} overflows the safe integer range`);
    if (end - begin !== nbytes) {
      failTensor(name, `data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape ${formatShape(dims)} × ${dtype} needs ${nbytes}`);
    }
    entries.push({ name, dtype, shape: dims, begin, end });
  }

  // Sorted by (begin, end) as the reference does, so a zero-size tensor sorts before a tensor at the
  // same offset and coverage is a single pass.
  entries.sort((x, y) => (x.begin - y.begin) || (x.end - y.end));
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  let cursor = 0;
  let prev: Entry | undefined;
  for (const e of entries) {
    if (e.begin !== cursor) {
      if (!prev) failTensor(e.name, `data_offsets [${e.begin}, ${e.end}]: the first tensor must begin at 0`);
      failTensor(e.name, `data_offsets [${e.begin}, ${e.end}] ${e.begin > cursor ? 'leave a gap after' : 'overlap'} tensor ${quote(prev.name)} ending at ${cursor}; tensors must be contiguous`);
    }
    if (e.end > dataLen) {
      failTensor(e.name, `data_offsets [${e.begin}, ${e.end}] run past the end of the data section (${dataLen} bytes); the file is truncated`);
    }
    cursor = e.end;
    prev = e;
  }
  if (cursor !== dataLen) {
    fail(`the data section is ${dataLen} bytes but the tensors cover ${cursor}: ${dataLen - cursor} trailing bytes${prev ? ` after tensor ${quote(prev.name)}` : ''}`);
  }

  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    // A fresh buffer per tensor: aligned for any element size and independent of the input. Not
    // bytes.slice(): on a Node Buffer that returns a view into the (pooled) input.
    const raw = new Uint8Array(e.end - e.begin);
    raw.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    let data: SafeTensor['data'];
    switch (DTYPES[e.dtype].kind) {
      case 'Float32Array': data = new Float32Array(raw.buffer); break;
      case 'Float64Array': data = new Float64Array(raw.buffer); break;
      case 'Uint32Array': data = new Uint32Array(raw.buffer); break;
      case 'Int32Array': data = new Int32Array(raw.buffer); break;
      case 'Uint16Array': data = new Uint16Array(raw.buffer); break;
      case 'Uint8Array': data = raw; break;
    }
    if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(raw, data.BYTES_PER_ELEMENT);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}
