// WAV decoding (browser-safe: bytes in, samples out; no Node imports).
//
// The samples are unpacked by `wavefile` (the maintained WAV library), but wavefile trusts the file:
// it walks chunks by their declared sizes and loops over declared counts ('cue ' points, 'smpl'
// loops, LIST entries), so a forged header can make it run for minutes or allocate gigabytes. So we
// never hand it the file. We first walk the chunk headers ourselves with every size checked against
// the bytes actually present, validate the format, and then give wavefile one canonical 44-byte
// header ('RIFF' + 16-byte 'fmt ' + 'data') followed by a bounded slice of whole sample frames, a
// block at a time. wavefile thus only ever sees well-formed, small inputs, and the memory we use is
// the output plus one block.
//
// Accepted: RIFF/WAVE, PCM 8/16/24/32-bit, IEEE float 32/64-bit (also as WAVE_FORMAT_EXTENSIBLE),
// 1..32 channels, 1 kHz..384 kHz. Channels are averaged to mono. Rates other than 16 kHz are
// resampled (src/cpc/data/resample.ts, windowed sinc) and reported in `notice`. A data chunk that
// claims more bytes than the file holds (a truncated file) is clipped to the file, with a notice.
// Integer PCM maps to [-1, 1) by dividing by 2^(bits−1) (8-bit is unsigned: (v − 128) / 128), the
// usual convention (libsndfile, soundfile).
import * as wavefileModule from 'wavefile';
import { CpcError } from '../../runtime/errors.ts';
import { SAMPLE_RATE } from './dataset.ts';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, StreamResampler } from './resample.ts';

/** A WAV file we refuse; the message names the file and the reason. */
export class WavError extends CpcError {
  readonly file: string;
  /** The message without the op and file name. */
  readonly reason: string;
  constructor(op: string, file: string, reason: string) {
    super(op, `${file}: ${reason}`);
    this.file = file;
    this.reason = reason;
  }
}

export interface DecodeWavOptions {
  /** Refuse inputs larger than this many bytes; default 1 GiB. */
  maxBytes?: number;
  /** Refuse audio longer than this (seconds); default 3600. Bounds the decoded allocation: ≤ maxSeconds · 16000 · 4 bytes (230 MB). */
  maxSeconds?: number;
  /** Target rate; only 16 kHz is used by the trainer, other values are for tests. */
  targetRate?: number;
}

export interface DecodedWav {
  /** Mono at `sampleRate`. */
  samples: Float32Array;
  sampleRate: number;
  originalSampleRate: number;
  channels: number;
  bitsPerSample: number;
  encoding: 'pcm' | 'float';
  /** Set when the audio was changed on the way in (resampled, clipped to the file). */
  notice?: string;
}

export const DEFAULT_MAX_WAV_BYTES = 1024 ** 3;
export const DEFAULT_MAX_WAV_SECONDS = 3600;
/** Sample frames handed to wavefile per call. */
const BLOCK_FRAMES = 1 << 16;

type WaveFileCtor = new (bytes?: Uint8Array) => { getSamples(interleaved?: boolean, out?: Function): Float64Array };

// wavefile ships a UMD bundle (Node sees `default.WaveFile`) and an ES module (bundlers see `WaveFile`).
function waveFileClass(): WaveFileCtor {
  const m = wavefileModule as unknown as { WaveFile?: WaveFileCtor; default?: { WaveFile?: WaveFileCtor } };
  const ctor = m.WaveFile ?? m.default?.WaveFile;
  if (!ctor) throw new CpcError('decodeWav', 'the wavefile module has no WaveFile export');
  return ctor;
}

interface WavLayout {
  encoding: 'pcm' | 'float';
  channels: number;
  sampleRate: number;
  bits: number;
  blockAlign: number;
  dataStart: number;
  dataBytes: number;
  notices: string[];
}

function fourcc(b: Uint8Array, o: number): string {
  return String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);
}

function printableId(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 4; i++) if (b[o + i]! < 0x20 || b[o + i]! > 0x7e) return false;
  return true;
}

function quoteId(b: Uint8Array, o: number): string {
  return printableId(b, o) ? `'${fourcc(b, o)}'` : `0x${[...b.subarray(o, o + 4)].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Walks the chunk headers with every size checked against the file; nothing is trusted. `bytes` may be
 * a prefix of a file of `len` bytes (a scan reads only the head): a header that lies beyond the prefix
 * is refused rather than guessed.
 */
function parseLayout(bytes: Uint8Array, name: string, len = bytes.length): WavLayout {
  const op = 'decodeWav';
  const fail = (msg: string): never => { throw new WavError(op, name, msg); };
  if (len === 0) fail('empty file');
  if (len < 12) fail(`too short to be a WAV file (${len} bytes)`);
  const magic = fourcc(bytes, 0);
  if (magic === 'RIFX') fail('big-endian RIFX files are not supported');
  if (magic === 'RF64') fail('RF64 files are not supported');
  if (magic !== 'RIFF') fail('not a WAV file (no RIFF header)');
  if (fourcc(bytes, 8) !== 'WAVE') fail(`RIFF file of type ${quoteId(bytes, 8)}, not WAVE`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const notices: string[] = [];

  let fmt: { offset: number; size: number } | null = null;
  let data: { start: number; bytes: number } | null = null;
  // Each step advances ≥ 8 bytes, so the walk ends within len / 8 steps whatever the sizes say.
  let o = 12;
  while (o + 8 <= len && !(fmt && data)) {
    if (o + 8 > bytes.length) fail(`chunk headers continue beyond the first ${bytes.length} bytes (chunk at byte ${o})`);
    const id = fourcc(bytes, o);
    const size = view.getUint32(o + 4, true);
    const body = o + 8;
    const remaining = len - body;
    if (!printableId(bytes, o)) fail(`invalid chunk id ${quoteId(bytes, o)} at byte ${o} (corrupt file)`);
    if (id === 'fmt ') {
      if (fmt) fail(`second 'fmt ' chunk at byte ${o}`);
      if (size < 16) fail(`'fmt ' chunk is ${size} bytes, at least 16 are required`);
      if (size > remaining) fail(`'fmt ' chunk claims ${size} bytes but only ${remaining} remain in the file`);
      if (body + Math.min(size, 40) > bytes.length) fail(`'fmt ' chunk lies beyond the first ${bytes.length} bytes`);
      fmt = { offset: body, size };
    } else if (id === 'data') {
      if (data) fail(`second 'data' chunk at byte ${o}`);
      let n = size;
      if (size > remaining) {
        notices.push(`data chunk claims ${size} bytes but the file holds ${remaining}; decoded the ${remaining} present (truncated file?)`);
        n = remaining;
      }
      data = { start: body, bytes: n };
    } else if (size > remaining) {
      fail(`chunk '${id}' at byte ${o} claims ${size} bytes but only ${remaining} remain in the file`);
    }
    // Chunks are padded to an even length; `size` ≤ 2^32 − 1, so this stays a safe integer.
    o = body + size + (size & 1);
  }
  if (!fmt) fail(`no 'fmt ' chunk`);
  if (!data) fail(`no 'data' chunk`);
  const f = fmt!;
  const d = data!;

  let format = view.getUint16(f.offset, true);
  const channels = view.getUint16(f.offset + 2, true);
  const sampleRate = view.getUint32(f.offset + 4, true);
  const blockAlign = view.getUint16(f.offset + 12, true);
  const bits = view.getUint16(f.offset + 14, true);
  if (format === 0xfffe) {
    // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the SubFormat GUID.
    if (f.size < 40) fail(`WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is ${f.size} bytes, 40 are required`);
    format = view.getUint16(f.offset + 24, true);
  }
  let encoding: 'pcm' | 'float';
  if (format === 1) {
    if (![8, 16, 24, 32].includes(bits)) fail(`PCM with ${bits} bits per sample is not supported (8, 16, 24 or 32)`);
    encoding = 'pcm';
  } else if (format === 3) {
    if (bits !== 32 && bits !== 64) fail(`IEEE float with ${bits} bits per sample is not supported (32 or 64)`);
    encoding = 'float';
  } else {
    fail(`audio format ${format} is not supported (only PCM = 1 and IEEE float = 3; compressed WAVs such as ADPCM, A-law or mu-law must be converted first)`);
  }
  if (channels < 1 || channels > 32) fail(`${channels} channels; 1 to 32 are supported`);
  if (blockAlign !== (channels * bits) / 8) fail(`block align ${blockAlign} does not match ${channels} channels × ${bits} bits`);
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) fail(`sample rate ${sampleRate} Hz is outside [${MIN_SAMPLE_RATE}, ${MAX_SAMPLE_RATE}]`);
  if (d.bytes % blockAlign !== 0) {
    notices.push(`data ends with a partial sample frame (${d.bytes % blockAlign} bytes), ignored`);
  }
  return { encoding: encoding!, channels, sampleRate, bits, blockAlign, dataStart: d.start, dataBytes: d.bytes - (d.bytes % blockAlign), notices };
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Whole sample frames in the data chunk (clipped to the file). */
  frames: number;
  encoding: 'pcm' | 'float';
  /** Byte offset of the first sample frame. */
  dataStart: number;
}

/**
 * The format and length of a WAV file from its first bytes (`head`, a prefix of a file of `fileSize`
 * bytes), with the same checks as decodeWav: a file this accepts decodes unless its samples are bad.
 */
export function probeWav(head: Uint8Array, fileSize: number, name: string): WavInfo {
  const layout = parseLayout(head, name, fileSize);
  const frames = layout.dataBytes / layout.blockAlign;
  if (frames === 0) throw new WavError('decodeWav', name, `no audio samples (data chunk holds ${layout.dataBytes} bytes)`);
  return { sampleRate: layout.sampleRate, channels: layout.channels, bitsPerSample: layout.bits, frames, encoding: layout.encoding, dataStart: layout.dataStart };
}

/** A canonical little-endian RIFF/WAVE header for `dataBytes` bytes of `layout`'s format. */
function canonicalHeader(layout: WavLayout, dataBytes: number): Uint8Array {
  const h = new Uint8Array(44);
  const v = new DataView(h.buffer);
  const put = (o: number, s: string) => { for (let i = 0; i < 4; i++) h[o + i] = s.charCodeAt(i); };
  put(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, layout.encoding === 'float' ? 3 : 1, true);
  v.setUint16(22, layout.channels, true);
  v.setUint32(24, layout.sampleRate, true);
  v.setUint32(28, layout.sampleRate * layout.blockAlign, true);
  v.setUint16(32, layout.blockAlign, true);
  v.setUint16(34, layout.bits, true);
  put(36, 'data');
  v.setUint32(40, dataBytes, true);
  return h;
}

/** Decodes a WAV file's bytes to 16 kHz mono float32 (see the header comment). `name` is used in messages. */
export function decodeWav(bytes: Uint8Array, name: string, opts: DecodeWavOptions = {}): DecodedWav {
  const op = 'decodeWav';
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_WAV_BYTES;
  const maxSeconds = opts.maxSeconds ?? DEFAULT_MAX_WAV_SECONDS;
  const targetRate = opts.targetRate ?? SAMPLE_RATE;
  if (bytes.length > maxBytes) throw new WavError(op, name, `file is ${bytes.length} bytes, more than the limit of ${maxBytes}`);
  const layout = parseLayout(bytes, name);
  const frames = layout.dataBytes / layout.blockAlign;
  if (frames === 0) throw new WavError(op, name, `no audio samples (data chunk holds ${layout.dataBytes} bytes)`);
  const seconds = frames / layout.sampleRate;
  if (seconds > maxSeconds) throw new WavError(op, name, `${seconds.toFixed(1)} s of audio is longer than the limit of ${maxSeconds} s (split the file or raise maxSeconds)`);

  const WaveFile = waveFileClass();
  const C = layout.channels;
  // Mono blocks go straight to the output (16 kHz files) or through the streaming resampler, so the
  // memory is the 16 kHz output (≤ maxSeconds · 16000 · 4 bytes) plus one block, never the whole
  // source-rate signal.
  const resampler = layout.sampleRate === targetRate ? null : new StreamResampler(layout.sampleRate, targetRate, frames);
  const direct = resampler ? null : new Float32Array(frames);
  const block = new Float32Array(Math.min(BLOCK_FRAMES, frames));
  const scale = layout.encoding === 'float' ? 1 : 1 / 2 ** (layout.bits - 1);
  const offset = layout.encoding === 'pcm' && layout.bits === 8 ? 128 : 0;
  const invC = 1 / C;
  for (let f0 = 0; f0 < frames; f0 += BLOCK_FRAMES) {
    const nf = Math.min(BLOCK_FRAMES, frames - f0);
    const nb = nf * layout.blockAlign;
    const wav = new Uint8Array(44 + nb);
    wav.set(canonicalHeader(layout, nb), 0);
    const src = layout.dataStart + f0 * layout.blockAlign;
    wav.set(bytes.subarray(src, src + nb), 44);
    let inter: Float64Array;
    try {
      inter = new WaveFile(wav).getSamples(true, Float64Array);
    } catch (e) {
      throw new WavError(op, name, `wavefile could not decode the samples: ${(e as Error).message}`);
    }
    if (inter.length !== nf * C) throw new WavError(op, name, `wavefile returned ${inter.length} samples for ${nf} frames × ${C} channels`);
    const mono = direct ? direct.subarray(f0, f0 + nf) : block.subarray(0, nf);
    for (let i = 0; i < nf; i++) {
      let acc = 0;
      for (let c = 0; c < C; c++) acc += inter[i * C + c]!;
      const v = (acc * invC - offset) * scale;
      if (v - v !== 0) throw new WavError(op, name, `non-finite sample (${v}) at frame ${f0 + i}`);
      mono[i] = v;
    }
    resampler?.push(mono);
  }

  const notices = [...layout.notices];
  let samples: Float32Array;
  if (resampler) {
    samples = resampler.finish();
    notices.push(`resampled from ${layout.sampleRate} Hz to ${targetRate} Hz (windowed-sinc)`);
  } else {
    samples = direct!;
  }
  return {
    samples, sampleRate: targetRate, originalSampleRate: layout.sampleRate, channels: C, bitsPerSample: layout.bits,
    encoding: layout.encoding, ...(notices.length ? { notice: notices.join('; ') } : {}),
  };
}
