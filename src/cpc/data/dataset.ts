// The dataset interface shared by the built-in synthetic set and WAV folders (browser-safe: no
// Node imports). A dataset is a list of utterances per split, each one 16 kHz mono float audio
// with a speaker id and, when known, a phone label per 10 ms frame.
import { CpcError } from '../../runtime/errors.ts';
import { Rng, subSeed } from './rng.ts';

export const SAMPLE_RATE = 16000;
/** Samples per labelled frame: 10 ms at 16 kHz (frame f covers samples [160f, 160f + 160)). */
export const LABEL_HOP = 160;

export type Split = 'train' | 'test';

export interface PhoneLabels {
  /** One phone id per 10 ms frame: frame f covers samples [160f, 160f + 160). Length ceil(samples / 160). */
  labels: Uint16Array;
}

export interface Utterance {
  id: string;
  /** 16 kHz mono, roughly in [-1, 1]. */
  samples: Float32Array;
  /** Speaker id in [0, numSpeakers). */
  speaker: number;
  phones?: PhoneLabels;
}

export interface Dataset {
  name: string;
  sampleRate: typeof SAMPLE_RATE;
  numSpeakers: number;
  /** Speaker names by id (for reports). */
  speakerNames: string[];
  /** Number of phone classes when the dataset carries phone labels. */
  numPhones?: number;
  utterances(split: Split): readonly Utterance[];
}

/** Number of label frames of an utterance of `n` samples. */
export function labelFrames(n: number): number {
  return Math.ceil(n / LABEL_HOP);
}

/**
 * Splits items by utterance, stratified by speaker so that every speaker with ≥ 2 utterances is in
 * both splits (the speaker probe trains on one and tests on the other): per speaker, the items are
 * shuffled with a seeded RNG and round(n · testFraction) of them, clamped to [1, n − 1], go to test.
 * Speakers with a single utterance stay in train. testFraction = 0 puts everything in train.
 * `items` must be in a deterministic order (e.g. sorted by name); the result keeps that order.
 */
export function splitBySpeaker<T>(items: readonly T[], speakerOf: (t: T) => number, testFraction: number, seed: number): { train: T[]; test: T[] } {
  if (!(testFraction >= 0 && testFraction < 1)) throw new RangeError(`splitBySpeaker: testFraction must be in [0, 1), got ${testFraction}`);
  const bySpeaker = new Map<number, number[]>();
  items.forEach((t, i) => {
    const s = speakerOf(t);
    let list = bySpeaker.get(s);
    if (!list) bySpeaker.set(s, (list = []));
    list.push(i);
  });
  const isTest = new Uint8Array(items.length);
  for (const [speaker, idx] of [...bySpeaker.entries()].sort((a, b) => a[0] - b[0])) {
    const n = idx.length;
    if (n < 2 || testFraction === 0) continue;
    const nTest = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
    const order = new Rng(subSeed(seed, 0x5917, speaker)).shuffle([...idx]);
    for (let k = 0; k < nTest; k++) isTest[order[k]!] = 1;
  }
  const train: T[] = [];
  const test: T[] = [];
  items.forEach((t, i) => (isTest[i] ? test : train).push(t));
  return { train, test };
}

/** Index of the first non-finite sample, or -1. */
export function firstNonFinite(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // v - v is NaN for ±Inf and NaN, 0 otherwise: one branch per sample.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** A dataset that cannot be built (empty folder, bad labels file, nothing long enough). */
export class DatasetError extends CpcError {}
