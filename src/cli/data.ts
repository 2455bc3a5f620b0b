// `--data synthetic|DIR` for train and eval: the dataset, plus a spec that goes into checkpoint
// metadata so `--resume` and `eval` rebuild the very same dataset (and therefore the same batch stream
// and the same evaluation split) without being told again.
import { resolve } from 'node:path';
import { createSyntheticDataset } from '../cpc/data/synthetic.ts';
import type { Dataset } from '../cpc/data/dataset.ts';
import { loadWavFolder } from '../node/wavFolder.ts';
import { UsageError } from './usage.ts';

export type DataSpec = { kind: 'synthetic'; seed: number } | { kind: 'wav'; dir: string };

/** Checkpoint metadata key holding the DataSpec as JSON. */
export const DATA_META_KEY = 'cpc.data';

/** The synthetic dataset is fixed (seed 0): the model seed varies the init and the batch stream, not the data. */
const SYNTHETIC_SEED = 0;

export function parseDataArg(arg: string | undefined): DataSpec {
  if (arg === undefined || arg === 'synthetic') return { kind: 'synthetic', seed: SYNTHETIC_SEED };
  const m = /^synthetic:(\d+)$/.exec(arg);
  if (m) return { kind: 'synthetic', seed: Number(m[1]) };
  if (arg === '') throw new UsageError('--data', 'expects "synthetic" or a folder of .wav files');
  return { kind: 'wav', dir: resolve(arg) };
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
  const s = spec as Partial<{ kind: string; seed: number; dir: string }>;
  if (s?.kind === 'synthetic' && Number.isInteger(s.seed) && s.seed! >= 0) return { kind: 'synthetic', seed: s.seed! };
  if (s?.kind === 'wav' && typeof s.dir === 'string' && s.dir !== '') return { kind: 'wav', dir: s.dir };
  throw new UsageError(source, `metadata '${DATA_META_KEY}' is not a dataset spec: ${text.slice(0, 200)}`);
}

export function sameDataSpec(a: DataSpec, b: DataSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function describeDataSpec(s: DataSpec): string {
  return s.kind === 'synthetic' ? (s.seed === SYNTHETIC_SEED ? 'synthetic' : `synthetic:${s.seed}`) : s.dir;
}

/** Builds the dataset; skipped WAV files and resampling notices go to `log` by name. */
export async function loadDataset(spec: DataSpec, log: (msg: string) => void): Promise<Dataset> {
  if (spec.kind === 'synthetic') return createSyntheticDataset({ seed: spec.seed });
  const ds = await loadWavFolder(spec.dir, {
    onSkip: (file, why) => log(`warning: skipping ${file}: ${why}`),
    onNotice: (file, notice) => log(`note: ${file}: ${notice}`),
  });
  log(`data: ${ds.files.length} WAV files, ${ds.numSpeakers} speakers (${ds.utterances('train').length} train / ${ds.utterances('test').length} test)`);
  return ds;
}
