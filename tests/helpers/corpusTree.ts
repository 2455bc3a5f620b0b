// Generated LibriSpeech-style corpora for tests: SPEAKER/CHAPTER/SPEAKER-CHAPTER-NNNN.{flac,wav}, each
// speaker with its own pitch and a seeded noise floor, in the format variants a real corpus mixes.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Rng } from '../../src/cpc/data/rng.ts';
import { makeFlac } from './flacData.ts';
import { makeWav } from './wavData.ts';

export type Variant = 'flac16' | 'flac24' | 'flac16stereo' | 'flac8k' | 'wav16' | 'wav24' | 'wav16stereo' | 'wav44k';

const RATE: Record<Variant, number> = { flac16: 16000, flac24: 16000, flac16stereo: 16000, flac8k: 8000, wav16: 16000, wav24: 16000, wav16stereo: 16000, wav44k: 44100 };

/** A voiced-ish signal: a speaker-specific harmonic stack with a slow vibrato, plus seeded noise. */
export function speakerSignal(n: number, rate: number, speaker: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const f0 = 110 + 37 * speaker;
  const x = new Float64Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    phase += (2 * Math.PI * f0 * (1 + 0.03 * Math.sin((2 * Math.PI * 3 * i) / rate))) / rate;
    x[i] = 0.25 * Math.sin(phase) + 0.12 * Math.sin(2 * phase + speaker) + 0.06 * Math.sin(3 * phase) + 0.02 * (rng.next() - 0.5);
  }
  return x;
}

export function encodeVariant(v: Variant, x: Float64Array): Uint8Array {
  const rate = RATE[v];
  const stereo = v.endsWith('stereo');
  const chans = stereo ? [x, x.map((s) => 0.8 * s)] : [x];
  if (v.startsWith('flac')) return makeFlac(chans, { rate, bits: v === 'flac24' ? 24 : 16 }).bytes;
  return makeWav(rate, v === 'wav24' ? '24' : '16', chans).bytes;
}

export interface TreeFile { path: string; speaker: string; variant: Variant; seconds: number }

/**
 * Writes `speakers` × `chapters` × `perChapter` files under `root`; variants cycle through `variants`.
 * Returns what was written, sorted by path.
 */
export async function writeCorpusTree(root: string, o: { speakers: number; chapters: number; perChapter: number; seconds: number; variants: Variant[] }): Promise<TreeFile[]> {
  const out: TreeFile[] = [];
  let k = 0;
  for (let s = 0; s < o.speakers; s++) {
    const spk = String(100 + s * 11);
    for (let c = 0; c < o.chapters; c++) {
      const ch = String(2000 + c * 7);
      for (let u = 0; u < o.perChapter; u++, k++) {
        const variant = o.variants[k % o.variants.length]!;
        const ext = variant.startsWith('flac') ? 'flac' : 'wav';
        const path = `${spk}/${ch}/${spk}-${ch}-${String(u).padStart(4, '0')}.${ext}`;
        const rate = RATE[variant];
        const seconds = o.seconds * (1 + 0.1 * (u % 3));
        const bytes = encodeVariant(variant, speakerSignal(Math.round(seconds * rate), rate, s, k + 1));
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), bytes);
        out.push({ path, speaker: spk, variant, seconds });
      }
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
