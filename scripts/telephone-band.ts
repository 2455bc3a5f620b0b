// Rewrites every WAV above 8 kHz in a folder as 8 kHz 16-bit mono, in place, with the runtime's own
// windowed-sinc resampler (src/cpc/data/resample.ts, through decodeWav): the loader later brings all
// files back to 16 kHz, so every voice has the same 0–4 kHz telephone band. Used by
// scripts/fetch-debian-speech.sh --telephone so that the dev set's speaker probe cannot separate the
// wideband voices from the 8 kHz Asterisk ones by bandwidth alone (a channel cue, not a speaker cue).
// Usage: npx tsx scripts/telephone-band.ts DIR
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as wavefileModule from 'wavefile';
import { decodeWav, probeWav } from '../src/cpc/data/wav.ts';

type WaveFileLike = { fromScratch(ch: number, rate: number, bits: string, samples: Int16Array): void; toBuffer(): Uint8Array };
const m = wavefileModule as unknown as { WaveFile?: new () => WaveFileLike; default?: { WaveFile: new () => WaveFileLike } };
const WaveFile = (m.WaveFile ?? m.default!.WaveFile)!;
const RATE = 8000;

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npx tsx scripts/telephone-band.ts DIR');
  process.exit(2);
}
let changed = 0;
for (const name of (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.wav')).sort()) {
  const path = join(dir, name);
  const bytes = new Uint8Array(await readFile(path));
  if (probeWav(bytes.subarray(0, Math.min(bytes.length, 1 << 16)), bytes.length, name).sampleRate <= RATE) continue;
  const d = decodeWav(bytes, name, { targetRate: RATE });
  // Round to nearest and clamp: the resampler's overshoot near full scale must not wrap around.
  const pcm = Int16Array.from(d.samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
  const w = new WaveFile();
  w.fromScratch(1, RATE, '16', pcm);
  await writeFile(path, w.toBuffer());
  changed++;
}
console.log(`telephone-band: ${changed} files rewritten at ${RATE} Hz in ${dir}`);
