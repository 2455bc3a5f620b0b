// The demo's data path, shared by the training worker and the Node identity check
// (tests/helpers/demoNodeLosses.ts), so that "same seed, same preset" means the same batches in
// both: the built-in synthetic set, or dropped audio clips wrapped into a Dataset
// (src/cpc/data/dataset.ts), and a seeded WindowSampler over its train split.
import type { CpcTrainConfig } from '../src/cpc/config.ts';
import { DatasetError, SAMPLE_RATE, splitBySpeaker, type Dataset, type Split, type Utterance } from '../src/cpc/data/dataset.ts';
import { resample } from '../src/cpc/data/resample.ts';
import { createSyntheticDataset } from '../src/cpc/data/synthetic.ts';
import { WindowSampler } from '../src/cpc/data/batcher.ts';
import { subSeed } from '../src/cpc/data/rng.ts';
import type { AudioClip, DataSpec } from './protocol.ts';

/** The built-in synthetic corpus is one fixed set (like a downloaded corpus would be); the config seed drives the sampler and init. */
export const SYNTHETIC_DATA_SEED = 0;
/** Share of each speaker's clips held out for the probes' test split. */
export const AUDIO_TEST_FRACTION = 0.1;

export function syntheticDataset(): Dataset {
  return createSyntheticDataset({ seed: SYNTHETIC_DATA_SEED });
}

/** Dropped clips → a Dataset: resampled to 16 kHz, speakers from labels or file names, split by speaker. */
export function audioDataset(clips: readonly AudioClip[], seed: number): { dataset: Dataset; notices: string[] } {
  if (clips.length === 0) throw new DatasetError('audioDataset', 'no audio files were given');
  const notices: string[] = [];
  const speakerNames = [...new Set(clips.map((c) => c.speaker))].sort();
  const speakerId = new Map(speakerNames.map((s, i) => [s, i]));
  const utts: Utterance[] = [...clips]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((c) => {
      let samples = c.samples;
      if (c.sampleRate !== SAMPLE_RATE) {
        samples = resample(c.samples, c.sampleRate, SAMPLE_RATE);
        notices.push(`${c.name}: resampled ${c.sampleRate} Hz → ${SAMPLE_RATE} Hz`);
      }
      return { id: c.name, samples, speaker: speakerId.get(c.speaker)! };
    });
  const split = splitBySpeaker(utts, (u) => u.speaker, AUDIO_TEST_FRACTION, seed);
  const dataset: Dataset = {
    name: `audio(${clips.length} files, ${speakerNames.length} speakers)`,
    sampleRate: SAMPLE_RATE,
    numSpeakers: speakerNames.length,
    speakerNames,
    utterances: (which: Split) => split[which],
  };
  return { dataset, notices };
}

export function buildDataset(spec: DataSpec, seed: number): { dataset: Dataset; notices: string[] } {
  return spec.kind === 'synthetic' ? { dataset: syntheticDataset(), notices: [] } : audioDataset(spec.clips, seed);
}

/** The training batch stream: random [B, L] windows from the train split, seeded from the config. */
export function trainSampler(dataset: Dataset, config: CpcTrainConfig): WindowSampler {
  return new WindowSampler(dataset, 'train', { B: config.batchSize, L: config.window, seed: subSeed(config.seed, 0xda7a), sampling: config.sampling });
}
