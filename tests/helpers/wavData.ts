// WAV fixtures for tests: valid files written by wavefile, and hand-assembled chunk lists for the
// malformed cases wavefile would never write.
import * as wavefileModule from 'wavefile';

type WaveFileLike = { fromScratch(ch: number, rate: number, bits: string, samples: number[] | number[][]): void; toBuffer(): Uint8Array };
const m = wavefileModule as unknown as { WaveFile?: new () => WaveFileLike; default?: { WaveFile: new () => WaveFileLike } };
const WaveFile = (m.WaveFile ?? m.default!.WaveFile)!;

/** Full-scale value of an integer bit depth (2^(bits−1)); 8-bit is unsigned with offset 128. */
export function intScale(bits: number): number {
  return 2 ** (bits - 1);
}

/**
 * A valid WAV of `channels` signals given as floats in [-1, 1). Integer depths are quantised here
 * (round to nearest, clamped), and the exact values the decoder must return are given back as `expect`
 * (per channel, in float64), so tests compare against what the file really holds.
 */
export function makeWav(rate: number, bitDepth: '8' | '16' | '24' | '32' | '32f' | '64', channels: Float64Array[]): { bytes: Uint8Array; expect: Float64Array[] } {
  const isFloat = bitDepth === '32f' || bitDepth === '64';
  const bits = isFloat ? 0 : Number(bitDepth);
  const stored: number[][] = [];
  const expect: Float64Array[] = [];
  for (const ch of channels) {
    const s: number[] = new Array(ch.length);
    const e = new Float64Array(ch.length);
    for (let i = 0; i < ch.length; i++) {
      if (isFloat) {
        const v = bitDepth === '32f' ? Math.fround(ch[i]!) : ch[i]!;
        s[i] = v;
        e[i] = v;
      } else {
        const full = intScale(bits);
        const q = Math.max(-full, Math.min(full - 1, Math.round(ch[i]! * full)));
        s[i] = bits === 8 ? q + 128 : q;
        e[i] = q / full;
      }
    }
    stored.push(s);
    expect.push(e);
  }
  const w = new WaveFile();
  w.fromScratch(channels.length, rate, bitDepth, channels.length === 1 ? stored[0]! : stored);
  return { bytes: w.toBuffer(), expect };
}

export interface RawChunk {
  id: string;
  body: Uint8Array;
  /** Declared size when it should differ from the body length (forged). */
  size?: number;
}

/** A RIFF/WAVE file from chunks, written verbatim (pad bytes after odd bodies). */
export function rawWav(chunks: RawChunk[], opts: { magic?: string; form?: string; riffSize?: number } = {}): Uint8Array {
  let total = 12;
  for (const c of chunks) total += 8 + c.body.length + (c.body.length & 1);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const put = (o: number, s: string) => { for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i); };
  put(0, opts.magic ?? 'RIFF');
  v.setUint32(4, opts.riffSize ?? total - 8, true);
  put(8, opts.form ?? 'WAVE');
  let o = 12;
  for (const c of chunks) {
    put(o, c.id);
    v.setUint32(o + 4, c.size ?? c.body.length, true);
    out.set(c.body, o + 8);
    o += 8 + c.body.length + (c.body.length & 1);
  }
  return out;
}

/** A 16-byte 'fmt ' body. */
export function fmtBody(f: { format?: number; channels?: number; rate?: number; bits?: number; blockAlign?: number; extra?: Uint8Array }): Uint8Array {
  const format = f.format ?? 1, channels = f.channels ?? 1, rate = f.rate ?? 16000, bits = f.bits ?? 16;
  const blockAlign = f.blockAlign ?? (channels * bits) / 8;
  const b = new Uint8Array(16 + (f.extra?.length ?? 0));
  const v = new DataView(b.buffer);
  v.setUint16(0, format, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate, true);
  v.setUint32(8, rate * blockAlign, true);
  v.setUint16(12, blockAlign, true);
  v.setUint16(14, bits, true);
  if (f.extra) b.set(f.extra, 16);
  return b;
}

/** 16-bit little-endian PCM bytes of integer samples. */
export function pcm16(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setInt16(2 * i, x, true));
  return b;
}

export function sine(n: number, rate: number, hz: number, amp: number, phase = 0): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = amp * Math.sin((2 * Math.PI * hz * i) / rate + phase);
  return x;
}
