// safetensors checkpoints: round trips, byte compatibility with the reference (Rust/Python) writer,
// one test per validation rule, a seeded mutation fuzz, and the atomic file writer.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  dtypeSize,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  parseSafetensors,
  type SafeTensor,
} from '../src/cpc/safetensors.ts';
import { CpcError } from '../src/runtime/errors.ts';
import { FileTooLargeError, readFileLimited, writeFileAtomic } from '../src/node/atomicFile.ts';
import { mulberry32 } from './helpers/random.ts';

const enc = new TextEncoder();

/** [u64 LE header length][header][data]: the header exactly as given (no padding unless included). */
function buildFile(header: string | Uint8Array, data: Uint8Array | number = 0): Uint8Array {
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function bytesOf(t: SafeTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function headerOf(file: Uint8Array): string {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(file.subarray(8, 8 + n));
}

function randomF32(rand: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}

function sampleTensors(): Map<string, SafeTensor> {
  const rand = mulberry32(1234);
  const nanBits = new Float32Array(3);
  // Non-canonical NaN payloads and -0 must survive bit for bit.
  new Uint32Array(nanBits.buffer).set([0x7fc00001, 0xffbfffff, 0x80000000]);
  const i64 = new Uint8Array(16);
  new DataView(i64.buffer).setBigInt64(0, -5n, true);
  new DataView(i64.buffer).setBigInt64(8, 2n ** 62n + 7n, true);
  return new Map<string, SafeTensor>([
    ['encoder.0.weight', { dtype: 'F32', shape: [4, 1, 10], data: randomF32(rand, 40) }],
    // Odd element count: every tensor after it would be misaligned if offsets were used as views.
    ['encoder.0.bias', { dtype: 'F32', shape: [7], data: randomF32(rand, 7) }],
    ['gru.weight_ih_l0', { dtype: 'F32', shape: [6, 4], data: randomF32(rand, 24) }],
    ['nan_payloads', { dtype: 'F32', shape: [3], data: nanBits }],
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([3.5]) }],
    ['empty', { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) }],
    ['step', { dtype: 'U32', shape: [1], data: new Uint32Array([4294967295]) }],
    ['rng', { dtype: 'U32', shape: [3], data: new Uint32Array([1, 0x80000000, 12345]) }],
    ['ints', { dtype: 'I32', shape: [5], data: new Int32Array([-2147483648, -1, 0, 1, 2147483647]) }],
    ['doubles', { dtype: 'F64', shape: [3], data: new Float64Array([Math.PI, -1e-300, Number.MAX_VALUE]) }],
    ['halves', { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7c00]) }],
    ['bf', { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) }],
    ['bytes', { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 127, 128, 255]) }],
    ['longs', { dtype: 'I64', shape: [2], data: i64 }],
  ]);
}

describe('safetensors round trip', () => {
  it('reproduces every tensor bit for bit, with shapes, dtypes and metadata', () => {
    const tensors = sampleTensors();
    const metadata = { format: 'pt', config: JSON.stringify({ C: 512, H: 256 }), 'ünïcode ✓': 'värde 🎉', __proto__x: '' };
    const file = encodeSafetensors(tensors, metadata);
    const { tensors: back, metadata: metaBack } = parseSafetensors(file, 'roundtrip.safetensors');

    expect(metaBack).toEqual(metadata);
    expect([...back.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const u = back.get(name)!;
      expect(u.dtype, name).toBe(t.dtype);
      expect(u.shape, name).toEqual(t.shape);
      expect(Object.prototype.toString.call(u.data), name).toBe(Object.prototype.toString.call(t.data));
      expect(Array.from(bytesOf(u)), name).toEqual(Array.from(bytesOf(t)));
      // Own, aligned storage, not a view onto the file.
      expect(u.data.buffer, name).not.toBe(file.buffer);
      expect(u.data.byteOffset, name).toBe(0);
    }
    // Parsed data is a copy: scribbling over the file afterwards changes nothing.
    const before = Array.from(bytesOf(back.get('encoder.0.bias')!));
    file.fill(0xaa, 8);
    expect(Array.from(bytesOf(back.get('encoder.0.bias')!))).toEqual(before);
  });

  it('accepts a Record as well as a Map, and writes the same bytes whatever the insertion order', () => {
    const tensors = sampleTensors();
    const reversed = new Map([...tensors].reverse());
    const asRecord = Object.fromEntries(tensors);
    const a = encodeSafetensors(tensors, { a: '1', b: '2' });
    expect(encodeSafetensors(reversed, { b: '2', a: '1' })).toEqual(a);
    expect(encodeSafetensors(asRecord, { a: '1', b: '2' })).toEqual(a);
  });

  it('parses from unaligned positions and from a Node Buffer inside a larger pool', () => {
    const file = encodeSafetensors(sampleTensors());
    const expected = parseSafetensors(file);
    for (const shift of [1, 2, 3, 5]) {
      const big = new Uint8Array(file.length + shift + 3);
      big.set(file, shift);
      const got = parseSafetensors(big.subarray(shift, shift + file.length));
      for (const [name, t] of expected.tensors) expect(Array.from(bytesOf(got.tensors.get(name)!)), name).toEqual(Array.from(bytesOf(t)));
    }
    // Buffer.prototype.slice returns a view into the pool; the parser must not rely on slice copying.
    const pooled = Buffer.concat([Buffer.from('garbage-prefix'), Buffer.from(file), Buffer.from('suffix')]);
    const buf = pooled.subarray(14, 14 + file.length);
    const got = parseSafetensors(buf);
    for (const [name, t] of expected.tensors) {
      const u = got.tensors.get(name)!;
      expect(u.data.buffer.byteLength, name).toBe(u.data.byteLength);
      expect(Array.from(bytesOf(u)), name).toEqual(Array.from(bytesOf(t)));
    }
  });

  it('lays tensors out contiguously by descending dtype alignment, then name, with a space-padded header', () => {
    const tensors = sampleTensors();
    tensors.set('10', { dtype: 'F32', shape: [1], data: new Float32Array([1]) });
    tensors.set('2', { dtype: 'F32', shape: [1], data: new Float32Array([2]) });
    const file = encodeSafetensors(tensors, { k: 'v' });
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = headerOf(file);
    expect(header.startsWith('{"__metadata__":{"k":"v"},')).toBe(true);
    expect(header).toMatch(/} *$/);
    // Key order in the header is the layout order, integer-like names included.
    const parsed = JSON.parse(header) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const names = Object.keys(parsed).filter((k) => k !== '__metadata__');
    const textOrder = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]!);
    const rank: Record<string, number> = { I64: 7, F64: 6, F32: 5, U32: 4, I32: 3, BF16: 2, F16: 1, U8: 0 };
    const expectedOrder = [...names].sort((a, b) => (rank[parsed[b]!.dtype]! - rank[parsed[a]!.dtype]!) || (a < b ? -1 : a > b ? 1 : 0));
    expect(textOrder).toEqual(expectedOrder);
    let cursor = 0;
    for (const name of textOrder) {
      const [b, e] = parsed[name]!.data_offsets;
      expect(b, name).toBe(cursor);
      // Descending alignment puts every tensor at a multiple of its element size.
      expect(b % dtypeSize(parsed[name]!.dtype as 'F32'), name).toBe(0);
      cursor = e;
    }
    expect(8 + n + cursor).toBe(file.length);
  });
});

describe('safetensors reference bytes', () => {
  // Expected files are written out by hand (header text + its u64 length + little-endian data), taken
  // from the reference implementation's own serialisation tests, so a match means Python's
  // safetensors writes and reads exactly these bytes.
  const f32le = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
  const u64le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff, 0, 0, 0, 0];

  it('matches the reference file for one F32 tensor that needs header padding', () => {
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + ' '.repeat(7);
    expect(header.length).toBe(72);
    const expected = new Uint8Array([...u64le(72), ...enc.encode(header), ...f32le([0, 1, 2, 3, 4, 5])]);
    // The reference test's literal bytes, verbatim.
    const reference = [
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
      121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
      91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
      115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
      32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
      160, 64,
    ];
    expect(Array.from(expected)).toEqual(reference);

    const written = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    expect(Array.from(written)).toEqual(reference);
    const { tensors, metadata } = parseSafetensors(expected);
    expect(metadata).toEqual({});
    expect(tensors.size).toBe(1);
    const t = tensors.get('attn0')!;
    expect(t.dtype).toBe('F32');
    expect(t.shape).toEqual([1, 1, 2, 3]);
    expect(Array.from(t.data)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('matches the reference files for an empty checkpoint, with and without metadata', () => {
    expect(Array.from(encodeSafetensors(new Map()))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const header = '{"__metadata__":{"framework":"pt"}}     ';
    expect(header.length).toBe(40);
    const expected = [...u64le(40), ...enc.encode(header)];
    expect(Array.from(encodeSafetensors({}, { framework: 'pt' }))).toEqual(expected);
    const parsed = parseSafetensors(new Uint8Array(expected));
    expect(parsed.tensors.size).toBe(0);
    expect(parsed.metadata).toEqual({ framework: 'pt' });
  });

  it('reads a hand-built multi-dtype file in any key order and without header padding', () => {
    // Other writers need not pad or order keys; the reference reader accepts both.
    const header = '{"w64":{"data_offsets":[24,40],"shape":[2],"dtype":"F64"},'
      + '"__metadata__":{"epoch":"3"},'
      + '"half":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},'
      + '"idx":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},'
      + '"cnt":{"dtype":"U32","shape":[2],"data_offsets":[16,24]}}';
    const data = new Uint8Array(40);
    const dv = new DataView(data.buffer);
    [0x3c00, 0xc000, 0x0001, 0x7bff].forEach((h, i) => dv.setUint16(2 * i, h, true));
    dv.setInt32(8, -7, true);
    dv.setInt32(12, 2147483647, true);
    dv.setUint32(16, 4000000000, true);
    dv.setUint32(20, 0, true);
    dv.setFloat64(24, 0.1, true);
    dv.setFloat64(32, -Infinity, true);
    const file = buildFile(header, data);
    expect((8 + enc.encode(header).length) % 8).not.toBe(0);

    const { tensors, metadata } = parseSafetensors(file, 'hand.safetensors');
    expect(metadata).toEqual({ epoch: '3' });
    expect([...tensors.keys()]).toEqual(['half', 'idx', 'cnt', 'w64']); // layout order
    expect(tensors.get('half')).toEqual({ dtype: 'F16', shape: [2, 2], data: new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]) });
    expect(tensors.get('idx')).toEqual({ dtype: 'I32', shape: [2], data: new Int32Array([-7, 2147483647]) });
    expect(tensors.get('cnt')).toEqual({ dtype: 'U32', shape: [2], data: new Uint32Array([4000000000, 0]) });
    expect(tensors.get('w64')).toEqual({ dtype: 'F64', shape: [2], data: new Float64Array([0.1, -Infinity]) });
  });

  it("reads the reference library's unpadded doc example", () => {
    const header = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
    expect(header.length).toBe(60); // '<' in the reference's byte literal
    const t = parseSafetensors(buildFile(header, 16)).tensors.get('test')!;
    expect(t).toEqual({ dtype: 'I32', shape: [2, 2], data: new Int32Array(4) });
  });
});

describe('safetensors validation', () => {
  const SRC = 'runs/exp1/ckpt-000100.safetensors';
  function expectFailure(file: Uint8Array, ...fragments: string[]): void {
    let err: unknown;
    try {
      parseSafetensors(file, SRC);
    } catch (e) {
      err = e;
    }
    expect(err, `expected a CheckpointError containing ${fragments.join(' / ')}`).toBeInstanceOf(CheckpointError);
    expect(err).toBeInstanceOf(CpcError);
    const msg = (err as Error).message;
    expect(msg).toContain(SRC);
    for (const f of fragments) expect(msg).toContain(f);
  }
  const one = (entry: string, dataLen = 12) => buildFile(`{"w":${entry}}`, dataLen);
  const good = '{"dtype":"F32","shape":[3],"data_offsets":[0,12]}';

  it('accepts the baseline used by the cases below', () => {
    expect(parseSafetensors(one(good), SRC).tensors.get('w')!.shape).toEqual([3]);
  });

  it('refuses a file shorter than 8 bytes', () => {
    expectFailure(new Uint8Array(0), 'file is 0 bytes, shorter than the 8-byte');
    expectFailure(new Uint8Array([2, 0, 0, 0, 0]), 'file is 5 bytes, shorter than the 8-byte');
  });

  it('refuses a header length of 0', () => {
    expectFailure(new Uint8Array(8), 'header length is 0');
    expectFailure(buildFile(''), 'header length is 0');
  });

  it('refuses a header length over 100 MB, without reading that far', () => {
    const file = buildFile('{}');
    new DataView(file.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
    expectFailure(file, `header length ${MAX_HEADER_BYTES + 1} exceeds the 100000000-byte limit`);
    new DataView(file.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    expectFailure(file, 'header length 18446744073709551615 exceeds the 100000000-byte limit');
  });

  it('refuses a header length past the end of the file', () => {
    const file = buildFile('{}');
    new DataView(file.buffer).setBigUint64(0, 3n, true);
    expectFailure(file, 'header length 3 exceeds the file size 10 minus the 8-byte prefix (2)');
    expectFailure(buildFile(`{"w":${good}}`, 12).subarray(0, 30), 'exceeds the file size 30');
  });

  it('refuses a header that is not valid UTF-8', () => {
    const h = enc.encode('{"__metadata__":{"a":"xx"}}');
    h[22] = 0xff;
    expectFailure(buildFile(h), 'header is not valid UTF-8');
    // Overlong encoding of '"' and an unpaired surrogate encoded as UTF-8: both invalid.
    expectFailure(buildFile(new Uint8Array([0x7b, 0xc0, 0xa2, 0x7d])), 'not valid UTF-8');
    expectFailure(buildFile(new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d])), 'not valid UTF-8');
  });

  it("refuses a header that does not start with '{' (arrays, leading spaces, a BOM)", () => {
    expectFailure(buildFile(' {}     '), "header does not start with '{'", '0x20');
    expectFailure(buildFile('[]'), "does not start with '{'");
    expectFailure(buildFile('null'), "does not start with '{'");
    expectFailure(buildFile(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), "does not start with '{'", '0xef');
  });

  it('refuses a header that is not JSON', () => {
    expectFailure(buildFile('{"w":'), 'header is not valid JSON');
    expectFailure(buildFile('{}x'), 'header is not valid JSON');
    expectFailure(buildFile('{}\0\0\0\0\0\0'), 'header is not valid JSON');
  });

  it('refuses __metadata__ that is not an object of strings', () => {
    expectFailure(buildFile('{"__metadata__":["a"]}'), '__metadata__ is an array, not an object of strings');
    expectFailure(buildFile('{"__metadata__":"pt"}'), '__metadata__ is the string "pt", not an object');
    expectFailure(buildFile('{"__metadata__":{"epoch":3}}'), '__metadata__ "epoch" is the number 3, not a string');
    expectFailure(buildFile('{"__metadata__":{"cfg":{"C":512}}}'), '__metadata__ "cfg" is a object, not a string');
    // null is what the reference reads as "no metadata".
    expect(parseSafetensors(buildFile('{"__metadata__":null}')).metadata).toEqual({});
  });

  it('refuses an entry that is not an object', () => {
    expectFailure(one('5'), 'tensor "w": entry is the number 5, not an object');
    expectFailure(one('[1,2]'), 'tensor "w": entry is an array');
    expectFailure(one('null'), 'tensor "w": entry is null');
  });

  it('refuses an entry missing dtype, shape or data_offsets', () => {
    expectFailure(one('{"shape":[3],"data_offsets":[0,12]}'), 'tensor "w": missing dtype');
    expectFailure(one('{"dtype":"F32","data_offsets":[0,12]}'), 'tensor "w": missing shape');
    expectFailure(one('{"dtype":"F32","shape":[3]}'), 'tensor "w": missing data_offsets');
  });

  it('refuses a dtype that is not a string, unknown, or unsupported', () => {
    expectFailure(one('{"dtype":32,"shape":[3],"data_offsets":[0,12]}'), 'tensor "w": dtype is the number 32, not a string');
    expectFailure(one('{"dtype":"F17","shape":[3],"data_offsets":[0,12]}'), 'tensor "w": unknown dtype "F17"');
    expectFailure(one('{"dtype":"f32","shape":[3],"data_offsets":[0,12]}'), 'unknown dtype "f32"');
    expectFailure(one('{"dtype":"BOOL","shape":[12],"data_offsets":[0,12]}'), 'tensor "w": unsupported dtype "BOOL"');
    expectFailure(one('{"dtype":"toString","shape":[3],"data_offsets":[0,12]}'), 'unknown dtype "toString"');
  });

  it('refuses a shape that is not an array of non-negative safe integers', () => {
    expectFailure(one('{"dtype":"F32","shape":3,"data_offsets":[0,12]}'), 'tensor "w": shape is the number 3, not an array');
    expectFailure(one('{"dtype":"F32","shape":[3,-1],"data_offsets":[0,12]}'), 'tensor "w": shape[1] is the number -1, not a non-negative safe integer');
    expectFailure(one('{"dtype":"F32","shape":[1.5],"data_offsets":[0,12]}'), 'shape[0] is the number 1.5');
    expectFailure(one('{"dtype":"F32","shape":["3"],"data_offsets":[0,12]}'), 'shape[0] is the string "3"');
    expectFailure(one('{"dtype":"F32","shape":[null],"data_offsets":[0,12]}'), 'shape[0] is null');
    expectFailure(one('{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,12]}'), 'shape[0] is the number 9007199254740992, not a non-negative safe integer');
  });

  it('refuses data_offsets that are not two non-negative integers with begin <= end', () => {
    expectFailure(one('{"dtype":"F32","shape":[3],"data_offsets":{"0":0,"1":12}}'), 'tensor "w": data_offsets is a object, not [begin, end]');
    expectFailure(one('{"dtype":"F32","shape":[3],"data_offsets":[0,12,24]}'), 'data_offsets is an array of length 3, not [begin, end]');
    expectFailure(one('{"dtype":"F32","shape":[3],"data_offsets":[-4,8]}'), 'data_offsets begin is the number -4, not a non-negative safe integer');
    expectFailure(one('{"dtype":"F32","shape":[3],"data_offsets":[0,12.5]}'), 'data_offsets end is the number 12.5');
    expectFailure(one('{"dtype":"F32","shape":[3],"data_offsets":[0,1e300]}'), 'data_offsets end is the number 1e+300');
    expectFailure(one('{"dtype":"F32","shape":[3],"data_offsets":[12,0]}'), 'tensor "w": data_offsets [12, 0] has begin > end');
  });

  it('refuses shapes whose byte size overflows', () => {
    expectFailure(one('{"dtype":"F32","shape":[67108864,67108864,67108864,0],"data_offsets":[0,12]}'),
      'tensor "w": shape [67108864, 67108864, 67108864, 0] × F32 overflows the safe integer range');
    // numel is safe, numel × 8 is not.
    expectFailure(one('{"dtype":"F64","shape":[4503599627370496],"data_offsets":[0,12]}'), 'overflows the safe integer range');
  });

  it('refuses data_offsets whose span does not match shape × dtype size', () => {
    expectFailure(one('{"dtype":"F32","shape":[2],"data_offsets":[0,12]}'), 'tensor "w": data_offsets [0, 12] span 12 bytes, but shape [2] × F32 needs 8');
    expectFailure(one('{"dtype":"F64","shape":[3],"data_offsets":[0,12]}'), 'shape [3] × F64 needs 24');
    expectFailure(one('{"dtype":"F16","shape":[3],"data_offsets":[0,12]}'), 'shape [3] × F16 needs 6');
  });

  it('refuses tensors that do not start at 0, leave gaps, or overlap', () => {
    const t = (b: number, e: number) => `{"dtype":"F32","shape":[${(e - b) / 4}],"data_offsets":[${b},${e}]}`;
    expectFailure(buildFile(`{"a":${t(4, 16)}}`, 16), 'tensor "a": data_offsets [4, 16]: the first tensor must begin at 0');
    expectFailure(buildFile(`{"a":${t(0, 8)},"b":${t(12, 20)}}`, 20), 'tensor "b": data_offsets [12, 20] leave a gap after tensor "a" ending at 8');
    expectFailure(buildFile(`{"a":${t(0, 8)},"b":${t(4, 12)}}`, 12), 'tensor "b": data_offsets [4, 12] overlap tensor "a" ending at 8');
    // Two tensors on the same bytes: aliasing would make loading order-dependent.
    expectFailure(buildFile(`{"a":${t(0, 8)},"b":${t(0, 8)}}`, 8), 'overlap tensor');
    // Zero-size tensors may share an offset with a neighbour, in any key order.
    const ok = buildFile(`{"b":${t(0, 8)},"z":${t(8, 8)},"a":${t(0, 0)},"c":${t(8, 12)}}`, 12);
    expect([...parseSafetensors(ok).tensors.keys()]).toEqual(['a', 'b', 'z', 'c']);
  });

  it('refuses a data section longer or shorter than the tensors cover', () => {
    expectFailure(one(good, 16), 'the data section is 16 bytes but the tensors cover 12: 4 trailing bytes after tensor "w"');
    expectFailure(buildFile('{}', 3), 'the data section is 3 bytes but the tensors cover 0: 3 trailing bytes');
    expectFailure(one(good, 8), 'tensor "w": data_offsets [0, 12] run past the end of the data section (8 bytes); the file is truncated');
  });

  it('quotes hostile tensor names and keeps huge ones out of the message', () => {
    const name = 'x'.repeat(100_000);
    let msg = '';
    try {
      parseSafetensors(buildFile(`{"${name}":5}`), SRC);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('entry is the number 5');
    expect(msg.length).toBeLessThan(500);
    expectFailure(buildFile('{"a\\"b\\n":5}'), 'tensor "a\\"b\\n": entry is the number 5');
  });

  it('keeps a "__proto__" metadata key or tensor name as plain data', () => {
    const file = buildFile('{"__metadata__":{"__proto__":"x"},"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1);
    const { tensors, metadata } = parseSafetensors(file);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(metadata, '__proto__')).toBe(true);
    expect(tensors.get('__proto__')!.shape).toEqual([1]);
  });
});

describe('encodeSafetensors refusals', () => {
  const f32 = (shape: number[], n: number): SafeTensor => ({ dtype: 'F32', shape, data: new Float32Array(n) });
  function expectRefusal(fn: () => unknown, fragment: string): void {
    expect(fn).toThrow(CheckpointError);
    expect(fn).toThrow(fragment);
  }

  it('refuses non-string metadata values', () => {
    expectRefusal(() => encodeSafetensors({ w: f32([1], 1) }, { step: 3 as unknown as string }), 'metadata "step" is the number 3; safetensors metadata values must be strings');
    expectRefusal(() => encodeSafetensors({}, { cfg: { C: 1 } as unknown as string }), 'metadata "cfg" is a object');
    expectRefusal(() => encodeSafetensors({}, ['x'] as unknown as Record<string, string>), 'metadata must be an object of strings');
  });

  it('refuses data whose length does not match shape × dtype', () => {
    expectRefusal(() => encodeSafetensors({ w: f32([2, 3], 5) }), 'tensor "w" shape [2, 3] × F32 needs 24 bytes, but its data has 20');
    expectRefusal(() => encodeSafetensors({ w: { dtype: 'I64', shape: [2], data: new Uint8Array(8) } }), 'needs 16 bytes, but its data has 8');
  });

  it('refuses data in the wrong typed array for the dtype', () => {
    expectRefusal(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Uint32Array(2) } }), 'tensor "w" of dtype F32 needs its data in a Float32Array, got Uint32Array');
    expectRefusal(() => encodeSafetensors({ w: { dtype: 'F16', shape: [2], data: new Float32Array(2) } }), 'needs its data in a Uint16Array');
  });

  it('refuses empty and reserved names, bad shapes and unknown dtypes', () => {
    expectRefusal(() => encodeSafetensors({ '': f32([1], 1) }), 'tensor names must be non-empty strings');
    expectRefusal(() => encodeSafetensors(new Map([['', f32([1], 1)]])), 'non-empty');
    expectRefusal(() => encodeSafetensors({ __metadata__: f32([1], 1) }), '"__metadata__" is reserved');
    expectRefusal(() => encodeSafetensors({ w: f32([-1], 0) }), 'tensor "w" shape must be an array of non-negative integers, got [-1]');
    expectRefusal(() => encodeSafetensors({ w: f32([1.5], 1) }), 'non-negative integers');
    expectRefusal(() => encodeSafetensors({ w: { dtype: 'F8' as 'F32', shape: [1], data: new Float32Array(1) } }), 'tensor "w" has unsupported dtype the string "F8"');
  });
});

describe('safetensors fuzz', () => {
  it('never throws anything but CheckpointError, and what parses is self-consistent (500 seeded mutations)', () => {
    const rand = mulberry32(20240607);
    const int = (n: number) => Math.floor(rand() * n);
    const bases = [
      encodeSafetensors(sampleTensors(), { format: 'pt', note: 'fuzz' }),
      encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) }, b: { dtype: 'U8', shape: [1], data: new Uint8Array([9]) } }),
      encodeSafetensors({}),
    ];
    let parsed = 0;
    let refused = 0;
    const t0 = Date.now();
    for (let iter = 0; iter < 500; iter++) {
      const base = bases[int(bases.length)]!;
      const n = Number(new DataView(base.buffer).getBigUint64(0, true));
      let file: Uint8Array = base.slice();
      const kind = int(6);
      if (kind <= 1) {
        // Byte flips, mostly in the header where the structure lives.
        const flips = 1 + int(4);
        for (let k = 0; k < flips; k++) {
          const at = rand() < 0.8 ? int(8 + n) : int(file.length);
          file[at] = kind === 0 ? int(256) : ' {}[],:"0123456789-.e'.charCodeAt(int(21));
        }
      } else if (kind === 2) {
        file = file.slice(0, int(file.length + 1));
      } else if (kind === 3) {
        const ext = new Uint8Array(file.length + 1 + int(64));
        ext.set(file);
        for (let i = file.length; i < ext.length; i++) ext[i] = int(256);
        file = ext;
      } else if (kind === 4) {
        // A different header length: the parser must not trust it.
        new DataView(file.buffer).setBigUint64(0, BigInt(int(file.length + 16)), true);
      } else {
        // Change one number in the header text to another.
        const text = new TextDecoder().decode(file.subarray(8, 8 + n));
        const nums = [...text.matchAll(/\d+/g)];
        if (nums.length) {
          const m = nums[int(nums.length)]!;
          const repl = String([0, 1, 2, 4, 7, 8, 12, 2 ** 31, 2 ** 53, -1][int(10)]);
          const next = text.slice(0, m.index) + repl + text.slice(m.index! + m[0].length);
          file = buildFile(next, base.subarray(8 + n));
        }
      }
      try {
        const { tensors } = parseSafetensors(file, `fuzz-${iter}`);
        const hn = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
        let total = 0;
        for (const [name, t] of tensors) {
          const numel = t.shape.reduce((a, b) => a * b, 1);
          expect(t.data.byteLength, name).toBe(numel * dtypeSize(t.dtype));
          total += t.data.byteLength;
        }
        expect(total).toBe(file.length - 8 - hn);
        parsed++;
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw new Error(`iteration ${iter}: ${String(e)}`);
        expect((e as Error).message).toContain(`fuzz-${iter}`);
        refused++;
      }
    }
    expect(parsed).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(100);
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 30_000);
});

describe('writeFileAtomic / readFileLimited', () => {
  const root = fs.mkdtempSync(join(os.tmpdir(), 'cpc-atomic-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const tempsIn = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

  it('writes the bytes, creating missing directories, and leaves no temp file', async () => {
    const path = join(root, 'new', 'deeper', 'ckpt.safetensors');
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) } }, { step: '1' });
    await writeFileAtomic(path, bytes);
    expect(new Uint8Array(fs.readFileSync(path))).toEqual(bytes);
    expect(fs.readdirSync(join(root, 'new', 'deeper'))).toEqual(['ckpt.safetensors']);
    expect(parseSafetensors(await readFileLimited(path, 1 << 20), path).metadata).toEqual({ step: '1' });
  });

  it('replaces an existing file whole, from a subarray view, leaving no temp file', async () => {
    const dir = join(root, 'replace');
    fs.mkdirSync(dir);
    const path = join(dir, 'ckpt.safetensors');
    fs.writeFileSync(path, 'old content that is longer than the new one');
    const backing = enc.encode('xxNEWyy');
    await writeFileAtomic(path, backing.subarray(2, 5));
    expect(fs.readFileSync(path, 'utf8')).toBe('NEW');
    expect(fs.readdirSync(dir)).toEqual(['ckpt.safetensors']);
  });

  it('leaves the target untouched and removes its temp file when the rename fails', async () => {
    const dir = join(root, 'rename-fails');
    // The target is a non-empty directory: the temp file is written and synced, then rename refuses.
    const target = join(dir, 'ckpt.safetensors');
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(join(target, 'inside.txt'), 'keep me');
    await expect(writeFileAtomic(target, new Uint8Array(1000).fill(7))).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    expect(fs.statSync(target).isDirectory()).toBe(true);
    expect(fs.readFileSync(join(target, 'inside.txt'), 'utf8')).toBe('keep me');
    expect(fs.readdirSync(dir)).toEqual(['ckpt.safetensors']);
    expect(tempsIn(target)).toEqual([]);
  });

  it('fails cleanly when the temp file cannot be created, touching nothing', async () => {
    const dir = join(root, 'blocked');
    fs.mkdirSync(dir);
    const existing = join(dir, 'ckpt.safetensors');
    fs.writeFileSync(existing, 'previous checkpoint');
    // A parent that is a regular file: neither mkdir nor the temp file can succeed.
    const notADir = join(dir, 'plain-file');
    fs.writeFileSync(notADir, 'i am a file');
    await expect(writeFileAtomic(join(notADir, 'ckpt.safetensors'), new Uint8Array(4))).rejects.toThrow(/ENOTDIR|EEXIST/);
    expect(fs.readFileSync(existing, 'utf8')).toBe('previous checkpoint');
    expect(fs.readFileSync(notADir, 'utf8')).toBe('i am a file');
    expect(fs.readdirSync(dir).sort()).toEqual(['ckpt.safetensors', 'plain-file']);
  });

  it('concurrent writers each land a whole file and never collide on temp names', async () => {
    const dir = join(root, 'concurrent');
    const path = join(dir, 'ckpt.bin');
    const payloads = Array.from({ length: 12 }, (_, i) => new Uint8Array(50_000 + i * 1000).fill(i + 1));
    await Promise.all(payloads.map((p) => writeFileAtomic(path, p)));
    const final = new Uint8Array(fs.readFileSync(path));
    const which = final[0]! - 1;
    expect(payloads[which]).toBeDefined();
    expect(final).toEqual(payloads[which]);
    expect(fs.readdirSync(dir)).toEqual(['ckpt.bin']);
  });

  it('readFileLimited reads up to the limit and refuses larger files by name and size', async () => {
    const path = join(root, 'limited.bin');
    fs.writeFileSync(path, new Uint8Array(100).fill(3));
    expect(await readFileLimited(path, 100)).toEqual(new Uint8Array(100).fill(3));
    const err = await readFileLimited(path, 99).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileTooLargeError);
    expect((err as Error).message).toBe(`${path} is 100 bytes, over the limit of 99 bytes`);
    expect(err).toMatchObject({ path, size: 100, maxBytes: 99 });
    await expect(readFileLimited(root, 1 << 20)).rejects.toThrow(`${root} is a directory, not a regular file`);
    await expect(readFileLimited(join(root, 'missing.bin'), 10)).rejects.toThrow(/ENOENT/);
    const empty = join(root, 'empty.bin');
    fs.writeFileSync(empty, '');
    expect((await readFileLimited(empty, 0)).length).toBe(0);
  });
});
