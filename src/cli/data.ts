// `--data synthetic|DIR` (+ --split, --train-list, --val-list, --data-memory) for train and eval: the
// data, plus a spec that goes into checkpoint metadata so `--resume` and `eval` rebuild the very same
// data (and therefore the same batch stream, packs included, and the same evaluation split) without
// being told again.
import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import { WindowSampler, type WindowBatch, type WindowSamplerOptions, type WindowSamplerState } from '../cpc/data/batcher.ts';
import { createSyntheticDataset } from '../cpc/data/synthetic.ts';
import type { Dataset } from '../cpc/data/dataset.ts';
import { PackSampler, type PackSamplerState } from '../cpc/data/packSampler.ts';
import { DEFAULT_DATA_MEMORY, openCorpus, type SplitMode } from '../node/corpus.ts';
import { loadWavFolder } from '../node/wavFolder.ts';
import { UsageError } from './usage.ts';

export type DataSpec =
  | { kind: 'synthetic'; seed: number }
  /** Runs from before corpus support: a flat folder of WAVs, all in memory (still resumable). */
  | { kind: 'wav'; dir: string }
  | { kind: 'corpus'; dir: string; split: SplitMode; trainList?: string; valList?: string; memory: number };

export interface DataFlags {
  data?: string;
  split?: string;
  trainList?: string;
  valList?: string;
  dataMemory?: string;
}

/** Checkpoint metadata key holding the DataSpec as JSON. */
export const DATA_META_KEY = 'cpc.data';

/** The synthetic dataset is fixed (seed 0): the model seed varies the init and the batch stream, not the data. */
const SYNTHETIC_SEED = 0;
const MIN_DATA_MEMORY = 64 * 1024;
const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };

/** Default --data-memory: 1 GiB, or a quarter of the machine's memory when that is less. */
export function defaultDataMemory(): number {
  return Math.min(DEFAULT_DATA_MEMORY, Math.floor(totalmem() / 4));
}

/** "2GiB", "512MiB", "1.5G", "100000000" → bytes. */
export function parseBytes(flag: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n < MIN_DATA_MEMORY) {
    throw new UsageError(flag, `expects a size of at least ${MIN_DATA_MEMORY} bytes such as 512MiB or 2GiB, got '${text}'`);
  }
  return n;
}

export function parseDataFlags(f: DataFlags): DataSpec {
  const arg = f.data;
  const corpusOnly = ([['--split', f.split], ['--train-list', f.trainList], ['--val-list', f.valList], ['--data-memory', f.dataMemory]] as const).find(([, v]) => v !== undefined);
  if (arg === undefined || arg === 'synthetic' || /^synthetic:/.test(arg)) {
    if (corpusOnly) throw new UsageError(corpusOnly[0], 'applies to --data DIR only');
    if (arg === undefined || arg === 'synthetic') return { kind: 'synthetic', seed: SYNTHETIC_SEED };
    const m = /^synthetic:(\d+)$/.exec(arg);
    if (!m) throw new UsageError('--data', `expects "synthetic", "synthetic:SEED" or a folder of audio files, got '${arg}'`);
    return { kind: 'synthetic', seed: Number(m[1]) };
  }
  if (arg === '') throw new UsageError('--data', 'expects "synthetic" or a folder of .wav/.flac files');
  const split = f.split ?? 'utterance';
  if (split !== 'utterance' && split !== 'speaker') throw new UsageError('--split', `expects utterance or speaker, got '${split}'`);
  if (f.split !== undefined && (f.trainList !== undefined || f.valList !== undefined)) throw new UsageError('--split', 'cannot be combined with --train-list/--val-list (the lists are the split)');
  return {
    kind: 'corpus', dir: resolve(arg), split,
    ...(f.trainList !== undefined ? { trainList: resolve(f.trainList) } : {}),
    ...(f.valList !== undefined ? { valList: resolve(f.valList) } : {}),
    memory: f.dataMemory !== undefined ? parseBytes('--data-memory', f.dataMemory) : defaultDataMemory(),
  };
}

export function parseDataArg(arg: string | undefined): DataSpec {
  return parseDataFlags({ data: arg });
}

export function dataSpecFromMetadata(meta: Record<string, string>, source: string): DataSpec | null {
  const text = meta[DATA_META_KEY];
  if (text === undefined) return null;
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch {
    throw new UsageError(source, `metadata '${DATA_META_KEY}' is not valid JSON`);
  }
  const s = spec as Partial<{ kind: string; seed: number; dir: string; split: string; trainList: unknown; valList: unknown; memory: number }>;
  if (s?.kind === 'synthetic' && Number.isInteger(s.seed) && s.seed! >= 0) return { kind: 'synthetic', seed: s.seed! };
  if (s?.kind === 'wav' && typeof s.dir === 'string' && s.dir !== '') return { kind: 'wav', dir: s.dir };
  const optStr = (v: unknown) => v === undefined || (typeof v === 'string' && v !== '');
  if (s?.kind === 'corpus' && typeof s.dir === 'string' && s.dir !== '' && (s.split === 'utterance' || s.split === 'speaker') &&
    optStr(s.trainList) && optStr(s.valList) && Number.isSafeInteger(s.memory) && s.memory! >= MIN_DATA_MEMORY) {
    return {
      kind: 'corpus', dir: s.dir, split: s.split,
      ...(s.trainList !== undefined ? { trainList: s.trainList as string } : {}),
      ...(s.valList !== undefined ? { valList: s.valList as string } : {}),
      memory: s.memory!,
    };
  }
  throw new UsageError(source, `metadata '${DATA_META_KEY}' is not a dataset spec: ${text.slice(0, 200)}`);
}

export function sameDataSpec(a: DataSpec, b: DataSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function describeDataSpec(s: DataSpec): string {
  if (s.kind === 'synthetic') return s.seed === SYNTHETIC_SEED ? 'synthetic' : `synthetic:${s.seed}`;
  // The split and the memory budget are in the data summary line printed when the corpus opens.
  return s.dir;
}

/** The training batch stream: in-memory (synthetic, legacy WAV runs) or packs of a corpus. */
export interface BatchSampler {
  next(out?: WindowBatch): WindowBatch | Promise<WindowBatch>;
  getState(): WindowSamplerState | PackSamplerState;
  setState(s: WindowSamplerState | PackSamplerState): void;
}

export interface TrainData {
  sampler: BatchSampler;
  /** The data the probes run on (for a corpus: a bounded subset of each split). */
  probeDataset(): Promise<Dataset>;
}

function corpusOptions(spec: Extract<DataSpec, { kind: 'corpus' }>, log: (msg: string) => void) {
  return {
    split: spec.split, memoryBytes: spec.memory, log,
    ...(spec.trainList !== undefined ? { trainList: spec.trainList } : {}),
    ...(spec.valList !== undefined ? { valList: spec.valList } : {}),
  };
}

/** Opens the training data; skipped files and notices go to `log` by name. */
export async function openTrainData(spec: DataSpec, opts: WindowSamplerOptions, log: (msg: string) => void): Promise<TrainData> {
  if (spec.kind === 'corpus') {
    const corpus = await openCorpus(spec.dir, corpusOptions(spec, log));
    const source = corpus.packSource(opts.B, opts.L);
    log(`data: split ${spec.trainList || spec.valList ? 'from lists' : `by ${spec.split}`}, --data-memory ${(spec.memory / 2 ** 20).toFixed(0)} MiB`);
    if (source.packCount > 1) log(`data: ${source.packCount} packs of ≤ ${(spec.memory * 3 / 8 / 2 ** 20).toFixed(0)} MiB (int16), the next decoded while the current one trains`);
    const sampler = new PackSampler(source, opts) as BatchSampler;
    return { sampler, probeDataset: () => corpus.probeDataset() };
  }
  const ds = await loadDataset(spec, log);
  return { sampler: new WindowSampler(ds, 'train', opts) as BatchSampler, probeDataset: async () => ds };
}

/** The dataset the probes (eval) run on. */
export async function loadDataset(spec: DataSpec, log: (msg: string) => void): Promise<Dataset> {
  if (spec.kind === 'synthetic') return createSyntheticDataset({ seed: spec.seed });
  if (spec.kind === 'corpus') return (await openCorpus(spec.dir, corpusOptions(spec, log))).probeDataset();
  const ds = await loadWavFolder(spec.dir, {
    onSkip: (file, why) => log(`warning: skipping ${file}: ${why}`),
    onNotice: (file, notice) => log(`note: ${file}: ${notice}`),
  });
  log(`data: ${ds.files.length} WAV files, ${ds.numSpeakers} speakers (${ds.utterances('train').length} train / ${ds.utterances('test').length} test)`);
  return ds;
}
