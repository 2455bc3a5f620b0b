// Dropped audio files → mono Float32 clips at the file's own rate, decoded by the browser's audio
// decoder on the page (decodeAudioData is not available in workers); resampling to 16 kHz happens in
// the worker with src/cpc/data/resample.ts, the same filter as Node.
import { MAX_SAMPLE_RATE } from '../src/cpc/data/resample.ts';
import type { AudioClip } from './protocol.ts';

/** The sample rate in a RIFF/WAVE 'fmt ' chunk, or null; every size is checked against the bytes present. */
export function sniffWavRate(b: Uint8Array): number | null {
  const tag = (o: number) => String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);
  if (b.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let o = 12, guard = 0; o + 8 <= b.length && guard < 1000; guard++) {
    const size = dv.getUint32(o + 4, true);
    if (tag(o) === 'fmt ') return size >= 16 && o + 16 <= b.length ? dv.getUint32(o + 12, true) : null;
    o += 8 + size + (size & 1);
  }
  return null;
}

export async function decodeAudioFile(file: File, speaker: string): Promise<AudioClip> {
  const bytes = await file.arrayBuffer();
  // Decode at the file's own rate when we can read it (WAV), so the only resampling is ours
  // (src/cpc/data/resample.ts, the same filter as Node); other formats decode at 48 kHz.
  const own = sniffWavRate(new Uint8Array(bytes));
  const rate = own && own >= 3000 && own <= MAX_SAMPLE_RATE ? own : 48000;
  const ac = new OfflineAudioContext(1, 1, rate);
  const audio = await ac.decodeAudioData(bytes);
  const n = audio.length;
  const mono = new Float32Array(n);
  for (let ch = 0; ch < audio.numberOfChannels; ch++) {
    const x = audio.getChannelData(ch);
    for (let i = 0; i < n; i++) mono[i]! += x[i]!;
  }
  if (audio.numberOfChannels > 1) for (let i = 0; i < n; i++) mono[i]! /= audio.numberOfChannels;
  return { name: file.name, speaker, sampleRate: audio.sampleRate, samples: mono };
}
