// `--data DIR`: a folder of WAV files as a Dataset (Node only: file I/O; decoding is the browser-safe
// src/cpc/data/wav.ts).
//
// - Reads DIR/*.wav (top level only, case-insensitive extension), in code-unit order of the names, so
//   the dataset does not depend on the file system's listing order or the locale.
// - Speakers: DIR/labels.csv (`file,speaker`, see src/cpc/data/labels.ts) when present; files it does
//   not list take the name prefix up to the first '_' or '-'. Speaker names are numbered in sorted order.
// - Malformed files (and files over the size limit, checked with stat BEFORE reading) are skipped and
//   reported by name and reason through `onSkip` and `skipped`; nothing malformed reaches the trainer.
// - Split by utterance per speaker (splitBySpeaker): every speaker with ≥ 2 files is in both splits.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError, splitBySpeaker, SAMPLE_RATE, type Dataset, type Split, type Utterance } from '../cpc/data/dataset.ts';
import { checkLabelsCover, parseSpeakerLabels, speakerFromFilename } from '../cpc/data/labels.ts';
import { readTextFile } from './textFile.ts';
import { decodeWav, DEFAULT_MAX_WAV_BYTES, DEFAULT_MAX_WAV_SECONDS, WavError } from '../cpc/data/wav.ts';

export interface WavFolderOptions {
  /** Fraction of each speaker's files held out for test; default 0.1. */
  testFraction?: number;
  /** Seed of the split; default 0. */
  seed?: number;
  /** Per-file size limit in bytes (checked before reading); default 1 GiB. */
  maxFileBytes?: number;
  /** Per-file duration limit in seconds; default 3600. */
  maxSeconds?: number;
  onSkip?: (file: string, reason: string) => void;
  /** A file decoded with a change worth knowing (resampled, clipped). */
  onNotice?: (file: string, notice: string) => void;
}

export interface WavFolderDataset extends Dataset {
  dir: string;
  /** Files that made it into the dataset, in order. */
  files: string[];
  skipped: { file: string; reason: string }[];
  notices: { file: string; notice: string }[];
}

const MAX_LABELS_BYTES = 16 * 1024 * 1024;

export async function loadWavFolder(dir: string, opts: WavFolderOptions = {}): Promise<WavFolderDataset> {
  const op = 'loadWavFolder';
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_WAV_BYTES;
  const maxSeconds = opts.maxSeconds ?? DEFAULT_MAX_WAV_SECONDS;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new DatasetError(op, `cannot read the data folder '${dir}': ${(e as Error).message}`);
  }
  const names = entries.filter((e) => /\.wav$/i.test(e.name) && (e.isFile() || e.isSymbolicLink())).map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) throw new DatasetError(op, `no .wav files in '${dir}'`);

  const labelsPath = join(dir, 'labels.csv');
  const labelsText = await readTextFile(labelsPath, MAX_LABELS_BYTES, 'labels.csv', { optional: true });
  const labels = labelsText === null ? new Map<string, string>() : parseSpeakerLabels(labelsText, labelsPath);
  checkLabelsCover(labels, names, labelsPath);

  const skipped: { file: string; reason: string }[] = [];
  const notices: { file: string; notice: string }[] = [];
  const skip = (file: string, reason: string) => { skipped.push({ file, reason }); opts.onSkip?.(file, reason); };
  const loaded: { file: string; speakerName: string; samples: Float32Array }[] = [];
  for (const file of names) {
    const path = join(dir, file);
    let bytes: Uint8Array;
    try {
      const st = await stat(path);
      if (!st.isFile()) { skip(file, 'not a regular file'); continue; }
      if (st.size > maxFileBytes) { skip(file, `file is ${st.size} bytes, more than the limit of ${maxFileBytes}`); continue; }
      const buf = await readFile(path);
      bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      skip(file, `cannot read: ${(e as Error).message}`);
      continue;
    }
    try {
      const wav = decodeWav(bytes, file, { maxBytes: maxFileBytes, maxSeconds });
      if (wav.notice) { notices.push({ file, notice: wav.notice }); opts.onNotice?.(file, wav.notice); }
      loaded.push({ file, speakerName: labels.get(file) ?? speakerFromFilename(file), samples: wav.samples });
    } catch (e) {
      if (!(e instanceof WavError)) throw e;
      skip(file, e.reason);
    }
  }
  if (loaded.length === 0) {
    const first = skipped.slice(0, 3).map((s) => `${s.file}: ${s.reason}`).join('; ');
    throw new DatasetError(op, `none of the ${names.length} .wav files in '${dir}' could be used (${first}${skipped.length > 3 ? '; …' : ''})`);
  }

  const speakerNames = [...new Set(loaded.map((l) => l.speakerName))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const speakerId = new Map(speakerNames.map((s, i) => [s, i]));
  const utterances: Utterance[] = loaded.map((l) => ({ id: l.file, samples: l.samples, speaker: speakerId.get(l.speakerName)! }));
  const split = splitBySpeaker(utterances, (u) => u.speaker, opts.testFraction ?? 0.1, opts.seed ?? 0);
  return {
    name: `wav:${dir}`,
    sampleRate: SAMPLE_RATE,
    numSpeakers: speakerNames.length,
    speakerNames,
    utterances: (which: Split) => split[which],
    dir,
    files: loaded.map((l) => l.file),
    skipped,
    notices,
  };
}
