// FLAC fixtures for tests, written here so tests need no `flac` binary: a minimal encoder of the
// FLAC format (https://xiph.org/flac/format.html) — STREAMINFO, then frames of fixed block size whose
// subframes are FIXED order-2 predictions with Rice-coded residuals (what real encoders emit for
// smooth audio, so the decoder's residual path runs), falling back to VERBATIM when a residual would
// overflow the Rice parameter range. CRC-8 header and CRC-16 frame checksums are real, so a correct
// decoder accepts the files and a flipped byte is detectable.

class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  /** Writes the low `bits` bits of `v` (bits ≤ 32), most significant first. */
  put(v: number, bits: number): void {
    for (let i = bits - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | (Math.floor(v / 2 ** i) & 1);
      if (++this.n === 8) { this.bytes.push(this.acc & 0xff); this.acc = 0; this.n = 0; }
    }
  }
  align(): void { while (this.n !== 0) this.put(0, 1); }
  get length(): number { return this.bytes.length; }
  slice(from: number): number[] { return this.bytes.slice(from); }
  toBytes(): Uint8Array { this.align(); return Uint8Array.from(this.bytes); }
}

function crc8(bytes: number[]): number {
  let c = 0;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

function crc16(bytes: number[]): number {
  let c = 0;
  for (const b of bytes) {
    c ^= b << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/** FLAC's UTF-8-like coding of the frame number (frames < 2^31 here). */
function utf8Number(w: BitWriter, v: number): void {
  if (v < 0x80) { w.put(v, 8); return; }
  const bytes: number[] = [];
  let n = v;
  while (n >= 0x40 >> bytes.length || bytes.length === 0) { bytes.push(0x80 | (n & 0x3f)); n >>>= 6; }
  const lead = (0xff00 >> (bytes.length + 1)) & 0xff;
  w.put(lead | n, 8);
  for (let i = bytes.length - 1; i >= 0; i--) w.put(bytes[i]!, 8);
}

function zigzag(r: number): number {
  return r >= 0 ? 2 * r : -2 * r - 1;
}

function writeSubframe(w: BitWriter, x: Int32Array, bps: number): void {
  // FIXED order 2: residual r[i] = x[i] − 2x[i−1] + x[i−2], one Rice partition.
  const n = x.length;
  const res = new Array<number>(Math.max(0, n - 2));
  let sum = 0;
  for (let i = 2; i < n; i++) { const r = x[i]! - 2 * x[i - 1]! + x[i - 2]!; res[i - 2] = r; sum += zigzag(r); }
  const mean = res.length ? sum / res.length : 0;
  let k = 0;
  while (k < 14 && 2 ** (k + 1) <= mean) k++;
  const longest = res.reduce((m, r) => Math.max(m, Math.floor(zigzag(r) / 2 ** k)), 0);
  if (n < 3 || longest > 4096) {
    w.put(0, 1); w.put(0b000001, 6); w.put(0, 1); // VERBATIM
    for (let i = 0; i < n; i++) w.put(x[i]! < 0 ? x[i]! + 2 ** bps : x[i]!, bps);
    return;
  }
  w.put(0, 1); w.put(0b001000 | 2, 6); w.put(0, 1); // FIXED, order 2
  for (let i = 0; i < 2; i++) w.put(x[i]! < 0 ? x[i]! + 2 ** bps : x[i]!, bps);
  w.put(0, 2); // residual coding method: 4-bit Rice parameters
  w.put(0, 4); // partition order 0
  w.put(k, 4);
  for (const r of res) {
    const u = zigzag(r);
    const q = Math.floor(u / 2 ** k);
    for (let i = 0; i < q; i++) w.put(0, 1);
    w.put(1, 1);
    if (k) w.put(u % 2 ** k, k);
  }
}

const STANDARD_RATES: Record<number, number> = {
  88200: 0b0001, 176400: 0b0010, 192000: 0b0011, 8000: 0b0100, 16000: 0b0101, 22050: 0b0110,
  24000: 0b0111, 32000: 0b1000, 44100: 0b1001, 48000: 0b1010, 96000: 0b1011,
};

export interface FlacOptions {
  rate: number;
  bits: 16 | 24;
  blockSize?: number;
  /** Write 0 (unknown) as the total sample count in STREAMINFO. */
  unknownLength?: boolean;
}

/**
 * A FLAC file of `channels` float signals in [-1, 1), quantised to `bits` (round to nearest, clamped);
 * `expect` holds the exact values a decoder must return (per channel, as v / 2^(bits−1)).
 */
export function makeFlac(channels: Float64Array[], opts: FlacOptions): { bytes: Uint8Array; expect: Float64Array[] } {
  const { rate, bits } = opts;
  if (!STANDARD_RATES[rate] && !(rate > 0 && rate < 65536)) throw new RangeError(`makeFlac: rate ${rate} cannot be coded`);
  const blockSize = opts.blockSize ?? 4096;
  const C = channels.length;
  const n = channels[0]!.length;
  const full = 2 ** (bits - 1);
  const q = channels.map((ch) => Int32Array.from(ch, (v) => Math.max(-full, Math.min(full - 1, Math.round(v * full)))));
  const expect = q.map((ch) => Float64Array.from(ch, (v) => v / full));

  const w = new BitWriter();
  for (const c of 'fLaC') w.put(c.charCodeAt(0), 8);
  w.put(1, 1); w.put(0, 7); w.put(34, 24); // last block, STREAMINFO, 34 bytes
  w.put(blockSize, 16); w.put(blockSize, 16); w.put(0, 24); w.put(0, 24);
  w.put(rate, 20); w.put(C - 1, 3); w.put(bits - 1, 5);
  w.put(opts.unknownLength ? 0 : n, 36);
  for (let i = 0; i < 16; i++) w.put(0, 8); // MD5 unknown

  let frame = 0;
  for (let s0 = 0; s0 < n; s0 += blockSize, frame++) {
    const len = Math.min(blockSize, n - s0);
    const start = w.length;
    w.put(0b11111111111110, 14); w.put(0, 1); w.put(0, 1); // sync, reserved, fixed block size
    w.put(0b0111, 4); // block size: 16-bit (len − 1) at the end of the header
    // Sample rate coded in the header (codec-parser, under @wasm-audio-decoders/flac, does not
    // resolve the "from STREAMINFO" code): a standard code, or 16-bit Hz after the header.
    const rateCode = STANDARD_RATES[rate];
    w.put(rateCode ?? 0b1101, 4);
    w.put(C - 1, 4); // independent channels
    w.put(bits === 16 ? 0b100 : 0b110, 3); w.put(0, 1);
    utf8Number(w, frame);
    w.put(len - 1, 16);
    if (rateCode === undefined) w.put(rate, 16);
    w.put(crc8(w.slice(start)), 8);
    for (let c = 0; c < C; c++) writeSubframe(w, q[c]!.subarray(s0, s0 + len), bits);
    w.align();
    w.put(crc16(w.slice(start)), 16);
  }
  return { bytes: w.toBytes(), expect };
}
