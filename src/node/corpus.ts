// A speech corpus on disk as training data (Node only): a LibriSpeech / Libri-light style tree
// (SPEAKER/CHAPTER/UTTERANCE.flac) or a flat folder of files, WAV and FLAC, of any size.
//
// - Speaker: DIR/labels.csv (`file,speaker`, file = the path relative to DIR) when present; otherwise the
//   top-level folder (CPC_audio's convention); a file at the top level takes its name's prefix up to the
//   first '_' or '-' (the flat-folder convention of src/cpc/data/labels.ts).
// - Split: --train-list / --val-list files (one relative path or sequence name per line, CPC_audio
//   style), else a seeded split by utterance (every speaker in both splits) or by speaker (no test
//   speaker seen in training).
// - Memory: the train split is served in int16 packs (src/node/corpusPacks.ts) within --data-memory;
//   the probes get a bounded, seeded subset of each split decoded as float32.
import { join } from 'node:path';
import { DatasetError, splitBySpeaker, SAMPLE_RATE, type Dataset, type Split, type Utterance } from '../cpc/data/dataset.ts';
import { checkLabelsCover, parseSpeakerLabels, speakerFromFilename } from '../cpc/data/labels.ts';
import { Rng, subSeed } from '../cpc/data/rng.ts';
import { AudioFileError, decodeAudioFile } from './audioFile.ts';
import { CorpusPackSource, memoryPlan, planPacks } from './corpusPacks.ts';
import { scanCorpus, type CorpusEntry, type CorpusScan, type ScanOptions } from './corpusScan.ts';
import { readTextFile } from './textFile.ts';

export type SplitMode = 'utterance' | 'speaker';

export interface CorpusOptions extends ScanOptions {
  split?: SplitMode;
  trainList?: string;
  valList?: string;
  /** Fraction held out for test by the seeded splits; default 0.1. */
  testFraction?: number;
  /** Bytes of audio memory (packs + decoding); default DEFAULT_DATA_MEMORY. */
  memoryBytes?: number;
  log?: (msg: string) => void;
}

/** Default --data-memory: 1 GiB (≈ 2 × 2.3 hours of 16 kHz int16 in the two live packs). */
export const DEFAULT_DATA_MEMORY = 1024 ** 3;
const MAX_FILE_BYTES = 1024 ** 3;
const MAX_LIST_BYTES = 64 << 20;

export interface Corpus {
  dir: string;
  scan: CorpusScan;
  speakerNames: string[];
  speakerOf: (e: CorpusEntry) => number;
  train: CorpusEntry[];
  test: CorpusEntry[];
  memoryBytes: number;
  /** The train split as packs for a sampler drawing batches of B windows of L samples. */
  packSource(B: number, L: number): CorpusPackSource;
  /** A bounded, seeded subset of both splits decoded in memory, for the probes. */
  probeDataset(): Promise<Dataset>;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function topSpeaker(path: string): string {
  const slash = path.indexOf('/');
  return slash > 0 ? path.slice(0, slash) : speakerFromFilename(path);
}

/** Resolves a list's names (relative paths with or without extension, or bare sequence names) to entries. */
async function readList(file: string, flag: string, byName: Map<string, CorpusEntry[]>, skippedNames: Set<string>, log: (m: string) => void): Promise<Set<CorpusEntry>> {
  const text = (await readTextFile(file, MAX_LIST_BYTES, flag))!;
  const out = new Set<CorpusEntry>();
  const missing: string[] = [];
  let dropped = 0;
  for (const raw of text.split(/\r?\n/)) {
    const name = raw.trim();
    if (name === '' || name.startsWith('#')) continue;
    const hits = byName.get(name.replace(/\\/g, '/'));
    if (!hits) { if (skippedNames.has(name)) dropped++; else missing.push(name); continue; }
    if (hits.length > 1) throw new DatasetError(flag, `${file}: '${name}' matches ${hits.length} files (${hits.slice(0, 2).map((h) => h.path).join(', ')}); give the relative path`);
    out.add(hits[0]!);
  }
  if (missing.length) {
    throw new DatasetError(flag, `${file}: ${missing.length} name${missing.length > 1 ? 's' : ''} match no .wav/.flac file in the corpus (${missing.slice(0, 3).map((m) => `'${m}'`).join(', ')}${missing.length > 3 ? ', …' : ''})`);
  }
  if (dropped) log(`warning: ${file}: ${dropped} listed files were skipped as unusable (see above)`);
  if (out.size === 0) throw new DatasetError(flag, `${file} lists no files`);
  return out;
}

function nameKeys(path: string): string[] {
  const noExt = path.replace(/\.(wav|flac)$/i, '');
  const base = noExt.slice(noExt.lastIndexOf('/') + 1);
  return [...new Set([path, noExt, base])];
}

export async function openCorpus(dir: string, opts: CorpusOptions = {}): Promise<Corpus> {
  const log = opts.log ?? (() => {});
  const memoryBytes = opts.memoryBytes ?? DEFAULT_DATA_MEMORY;
  const t0 = performance.now();
  const scan = await scanCorpus(dir, {
    ...opts, maxFileBytes: MAX_FILE_BYTES,
    onProgress: opts.onProgress ?? ((p) => {
      const eta = p.done > 0 ? ((p.total - p.done) * p.elapsedMs) / p.done / 1000 : 0;
      log(`scan: ${p.done}/${p.total} files, ${p.hours.toFixed(1)} h, ETA ${eta.toFixed(0)} s`);
    }),
  });
  for (const s of scan.skipped) log(`warning: skipping ${s.file}: ${s.reason}`);
  if (scan.entries.length === 0) {
    const first = scan.skipped.slice(0, 3).map((s) => `${s.file}: ${s.reason}`).join('; ');
    throw new DatasetError('--data', `none of the ${scan.skipped.length} audio files under '${dir}' could be used (${first}${scan.skipped.length > 3 ? '; …' : ''})`);
  }

  // Speakers.
  const labelsPath = join(dir, 'labels.csv');
  const labelsText = await readTextFile(labelsPath, 16 << 20, 'labels.csv', { optional: true });
  const labels = labelsText === null ? new Map<string, string>() : parseSpeakerLabels(labelsText, labelsPath);
  if (labels.size) checkLabelsCover(labels, [...scan.entries.map((e) => e.path), ...scan.skipped.map((s) => s.file)], labelsPath);
  const speakerName = (e: CorpusEntry) => labels.get(e.path) ?? topSpeaker(e.path);
  const speakerNames = [...new Set(scan.entries.map(speakerName))].sort(byCodeUnit);
  const speakerId = new Map(speakerNames.map((s, i) => [s, i]));
  const ids = new Map(scan.entries.map((e) => [e, speakerId.get(speakerName(e))!]));
  const speakerOf = (e: CorpusEntry) => ids.get(e)!;

  // Splits.
  const testFraction = opts.testFraction ?? 0.1;
  let train: CorpusEntry[];
  let test: CorpusEntry[];
  if (opts.trainList !== undefined || opts.valList !== undefined) {
    const byName = new Map<string, CorpusEntry[]>();
    for (const e of scan.entries) for (const k of nameKeys(e.path)) (byName.get(k) ?? byName.set(k, []).get(k)!).push(e);
    const skippedNames = new Set(scan.skipped.flatMap((s) => nameKeys(s.file)));
    const tr = opts.trainList !== undefined ? await readList(opts.trainList, '--train-list', byName, skippedNames, log) : null;
    const va = opts.valList !== undefined ? await readList(opts.valList, '--val-list', byName, skippedNames, log) : null;
    train = scan.entries.filter((e) => (tr ? tr.has(e) : !va!.has(e)));
    test = scan.entries.filter((e) => (va ? va.has(e) : !tr!.has(e)));
    const both = train.filter((e) => test.includes(e)).length;
    if (both) log(`warning: ${both} files are in both --train-list and --val-list`);
  } else if ((opts.split ?? 'utterance') === 'speaker') {
    if (speakerNames.length < 2) throw new DatasetError('--split', `speaker needs at least 2 speakers; '${dir}' has ${speakerNames.length}`);
    const n = speakerNames.length;
    const nTest = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
    const order = new Rng(subSeed(0, 0x5918)).shuffle([...Array(n).keys()]);
    const testSpk = new Set(order.slice(0, nTest));
    train = scan.entries.filter((e) => !testSpk.has(speakerOf(e)));
    test = scan.entries.filter((e) => testSpk.has(speakerOf(e)));
  } else {
    ({ train, test } = splitBySpeaker(scan.entries, speakerOf, testFraction, 0));
  }
  if (train.length === 0) throw new DatasetError('--data', `the train split of '${dir}' is empty`);

  // Summary: one line per corpus, resampling included (not one per file).
  const hours = (es: CorpusEntry[]) => (es.reduce((a, e) => a + e.samples, 0) / SAMPLE_RATE / 3600).toFixed(2);
  const spk = (es: CorpusEntry[]) => new Set(es.map(speakerOf)).size;
  log(`data: ${scan.entries.length} files (${scan.probed} read, ${scan.entries.length + scan.skipped.length - scan.probed} from the index cache) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
    `train ${hours(train)} h / ${spk(train)} speakers / ${train.length} files, test ${hours(test)} h / ${spk(test)} speakers / ${test.length} files; ` +
    `${speakerNames.length} speakers; ${scan.skipped.length} skipped`);
  const rates = new Map<number, number>();
  for (const e of scan.entries) if (e.sampleRate !== SAMPLE_RATE) rates.set(e.sampleRate, (rates.get(e.sampleRate) ?? 0) + 1);
  if (rates.size) log(`note: ${[...rates.values()].reduce((a, b) => a + b, 0)} files resampled to 16 kHz (windowed-sinc) from ${[...rates.entries()].sort((a, b) => a[0] - b[0]).map(([r, c]) => `${r} Hz (${c})`).join(', ')}`);

  const budgetText = `--data-memory ${memoryBytes} bytes`;
  const plan = memoryPlan(memoryBytes);
  return {
    dir, scan, speakerNames, speakerOf, train, test, memoryBytes,
    packSource: (B, L) => {
      const eligible = train.filter((e) => e.samples >= L);
      if (eligible.length === 0) {
        throw new DatasetError('--data', `no train file of '${dir}' is at least L = ${L} samples (${(L / SAMPLE_RATE).toFixed(2)} s) long (${train.length} files)`);
      }
      const packs = planPacks(eligible, plan, budgetText);
      return new CorpusPackSource({
        dir, utterances: eligible, speakerOf, plan: packs, samplesPerBatch: B * L, maxFileBytes: MAX_FILE_BYTES,
        onSkip: (f, why) => log(`warning: skipping ${f}: ${why}`), onNotice: (f, n) => log(`note: ${f}: ${n}`),
      });
    },
    probeDataset: async () => {
      // Each split gets 1/8 of the budget as float32, in a seeded order of its files.
      const cap = Math.floor(memoryBytes / 8 / 4);
      const pick = async (es: CorpusEntry[], tag: number): Promise<Utterance[]> => {
        const order = new Rng(subSeed(0, 0x9b0e, tag)).shuffle([...es.keys()]);
        const chosen: number[] = [];
        let acc = 0;
        for (const i of order) { if (acc + es[i]!.samples > cap) continue; chosen.push(i); acc += es[i]!.samples; }
        const out: Utterance[] = [];
        for (const i of chosen.sort((a, b) => a - b)) {
          const e = es[i]!;
          try {
            const d = await decodeAudioFile(join(dir, e.path), e.path, MAX_FILE_BYTES, Number.POSITIVE_INFINITY);
            out.push({ id: e.path, samples: d.samples, speaker: speakerOf(e) });
          } catch (err) {
            if (!(err instanceof AudioFileError)) throw err;
          }
        }
        return out;
      };
      const sets = { train: await pick(train, 1), test: await pick(test, 2) };
      return { name: `corpus:${dir}`, sampleRate: SAMPLE_RATE, numSpeakers: speakerNames.length, speakerNames, utterances: (s: Split) => sets[s] };
    },
  };
}
