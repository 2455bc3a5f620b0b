// Reading one audio file of a corpus (Node only): its format and length from the first bytes (the scan),
// or its samples at 16 kHz mono (a pack load). WAV and FLAC; the decoders are the browser-safe
// src/cpc/data/wav.ts and flac.ts. Files are read through readFileLimited (regular files only, size
// checked on the open handle before anything is allocated).
import { open } from 'node:fs/promises';
import { decodeFlac, flacTargetLength, isFlac, probeFlac, FlacError } from '../cpc/data/flac.ts';
import { resampledLength } from '../cpc/data/resample.ts';
import { SAMPLE_RATE } from '../cpc/data/dataset.ts';
import { decodeWav, probeWav, WavError } from '../cpc/data/wav.ts';
import { readFileLimited } from './atomicFile.ts';
import { fsReason } from './fsReason.ts';

export type AudioFormat = 'wav' | 'flac';

export const AUDIO_EXTENSIONS = /\.(wav|flac)$/i;

export interface AudioFileInfo {
  format: AudioFormat;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Length at 16 kHz. */
  samples: number;
}

/** A file that cannot be used; `reason` is the message without the file name. */
export class AudioFileError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
  }
}

const HEAD_BYTES = 1 << 16;
/** Metadata can be long (FLAC cover art, WAV LIST chunks); the second look reads this much. */
const LONG_HEAD_BYTES = 16 << 20;

function reasonOf(e: unknown): string {
  if (e instanceof WavError) return e.reason;
  if (e instanceof AudioFileError) return e.reason;
  return fsReason(e);
}

async function readHead(path: string, bytes: number): Promise<{ head: Uint8Array; size: number }> {
  const h = await open(path, 'r');
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new AudioFileError(path, 'not a regular file');
    const head = new Uint8Array(Math.min(bytes, st.size));
    let filled = 0;
    while (filled < head.length) {
      const { bytesRead } = await h.read(head, filled, head.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { head: head.subarray(0, filled), size: st.size };
  } finally {
    await h.close();
  }
}

function probeBytes(format: AudioFormat, head: Uint8Array, size: number, rel: string): AudioFileInfo {
  if (format === 'flac') {
    const info = probeFlac(head, size, rel);
    return { format, sampleRate: info.sampleRate, channels: info.channels, bitsPerSample: info.bitsPerSample, samples: flacTargetLength(info) };
  }
  const info = probeWav(head, size, rel);
  return { format, sampleRate: info.sampleRate, channels: info.channels, bitsPerSample: info.bitsPerSample, samples: resampledLength(info.frames, info.sampleRate, SAMPLE_RATE) };
}

export function formatOf(rel: string): AudioFormat {
  return /\.flac$/i.test(rel) ? 'flac' : 'wav';
}

/**
 * Format and 16 kHz length from the file's head. A FLAC whose STREAMINFO leaves the length unknown is
 * decoded once to count it (rare: streamed encodes). Throws AudioFileError naming the reason.
 */
export async function probeAudioFile(path: string, rel: string, maxFileBytes: number): Promise<AudioFileInfo> {
  const format = formatOf(rel);
  try {
    let { head, size } = await readHead(path, HEAD_BYTES);
    if (size === 0) throw new AudioFileError(rel, 'empty file');
    if (size > maxFileBytes) throw new AudioFileError(rel, `file is ${size} bytes, more than the limit of ${maxFileBytes}`);
    if (format === 'flac' && !isFlac(head)) throw new AudioFileError(rel, 'not a FLAC file (no fLaC marker)');
    let info: AudioFileInfo;
    try {
      info = probeBytes(format, head, size, rel);
    } catch (e) {
      if (!(e instanceof WavError) || !/beyond the first|longer than the first/.test(e.reason) || head.length >= size) throw e;
      ({ head, size } = await readHead(path, LONG_HEAD_BYTES));
      info = probeBytes(format, head, size, rel);
    }
    if (info.samples === 0 && format === 'flac') {
      const decoded = await decodeAudioFile(path, rel, maxFileBytes, Number.POSITIVE_INFINITY);
      info = { ...info, samples: decoded.samples.length };
    }
    return info;
  } catch (e) {
    if (e instanceof AudioFileError) throw e;
    throw new AudioFileError(rel, reasonOf(e));
  }
}

/**
 * The samples of a 16 kHz mono 16-bit PCM WAV as stored (little-endian int16), or null for any other
 * format. What LibriSpeech-style corpora converted to WAV hold: copying them skips the float round trip
 * (bitwise the same values: v / 32768 · 32768 = v) and is ~100× faster than decoding.
 */
export async function readPcm16Mono(path: string, rel: string, maxFileBytes: number): Promise<Int16Array | null> {
  if (formatOf(rel) !== 'wav') return null;
  try {
    const bytes = await readFileLimited(path, maxFileBytes);
    const info = probeWav(bytes, bytes.length, rel);
    if (info.encoding !== 'pcm' || info.bitsPerSample !== 16 || info.channels !== 1 || info.sampleRate !== SAMPLE_RATE) return null;
    const out = new Int16Array(info.frames);
    const view = new DataView(bytes.buffer, bytes.byteOffset + info.dataStart, info.frames * 2);
    for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true);
    return out;
  } catch (e) {
    if (e instanceof WavError) throw new AudioFileError(rel, e.reason);
    throw new AudioFileError(rel, reasonOf(e));
  }
}

/** The file's audio at 16 kHz mono, float32; a decode notice (truncation, corrupt frames) when there is one. */
export async function decodeAudioFile(path: string, rel: string, maxFileBytes: number, maxSeconds: number): Promise<{ samples: Float32Array; notice?: string }> {
  try {
    const bytes = await readFileLimited(path, maxFileBytes);
    const opts = { maxBytes: maxFileBytes, maxSeconds };
    const d = formatOf(rel) === 'flac' ? await decodeFlac(bytes, rel, opts) : decodeWav(bytes, rel, opts);
    // Resampling is announced once per corpus by the scan summary, not once per file.
    const notice = d.notice?.split('; ').filter((n) => !n.startsWith('resampled from')).join('; ');
    return { samples: d.samples, ...(notice ? { notice } : {}) };
  } catch (e) {
    if (e instanceof AudioFileError) throw e;
    if (e instanceof FlacError || e instanceof WavError) throw new AudioFileError(rel, e.reason);
    throw new AudioFileError(rel, reasonOf(e));
  }
}
