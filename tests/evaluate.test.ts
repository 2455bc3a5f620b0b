// Probe evaluation plumbing (src/cpc/evaluate.ts) with a stub encoder instead of a GPU model: the stub
// reads each frame's label straight out of the audio, so a correct pipeline (window selection, padding
// of the last batch, frame ↔ label alignment, mean pooling) must give 100 % on both probes, and any
// misalignment shows up as lost accuracy.
import { describe, expect, it } from 'vitest';
import { PRESETS, type CpcTrainConfig } from '../src/cpc/config.ts';
import { LABEL_HOP, type Dataset, type Split, type Utterance } from '../src/cpc/data/dataset.ts';
import { encoderFrames, encoderGeometry } from '../src/cpc/data/frames.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { countEvalWindows, evaluateProbes, extractFeatures, layerEncoder, type ProbeEncoder } from '../src/cpc/evaluate.ts';

const SPEAKERS = 3;
const PHONES = 4;
const L = 2048;
const B = 4;
const H = 8;

/** Sample value = 16·speaker + phone of its 10 ms label frame: exact in float32, decodable by the stub. */
function toyDataset(): Dataset {
  const rng = new Rng(7);
  const make = (split: Split): Utterance[] => {
    const out: Utterance[] = [];
    for (let s = 0; s < SPEAKERS; s++) {
      for (let u = 0; u < (split === 'train' ? 3 : 2); u++) {
        const n = L * 2 + rng.int(L); // 2–3 windows long, so strides and tails vary
        const frames = Math.ceil(n / LABEL_HOP);
        const labels = new Uint16Array(frames);
        for (let f = 0; f < frames; f++) labels[f] = rng.int(PHONES);
        const samples = new Float32Array(n);
        for (let i = 0; i < n; i++) samples[i] = 16 * s + labels[Math.floor(i / LABEL_HOP)]!;
        out.push({ id: `${split}-s${s}-u${u}`, samples, speaker: s, phones: { labels } });
      }
    }
    return out;
  };
  const splits = { train: make('train'), test: make('test') };
  return {
    name: 'toy', sampleRate: 16000, numSpeakers: SPEAKERS, speakerNames: ['a', 'b', 'c'], numPhones: PHONES,
    utterances: (split) => splits[split],
  };
}

/** c[b, t] = one-hot(phone) ‖ one-hot(speaker), read from the sample at frame t's receptive-field centre. */
function stubEncoder(): ProbeEncoder & { calls: number } {
  const config: CpcTrainConfig = { ...PRESETS.tiny, window: L, batchSize: B, hidden: H };
  const T = encoderFrames(L, config.kernels, config.strides);
  const { hop, receptiveField } = encoderGeometry(config.kernels, config.strides);
  const stub = {
    config, frames: T, calls: 0,
    async encode(signal: Float32Array) {
      expect(signal.length).toBe(B * L);
      stub.calls++;
      const c = new Float32Array(B * T * H);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const v = signal[b * L + t * hop + Math.floor(receptiveField / 2)]!;
          c[(b * T + t) * H + (v % 16)] = 1;
          c[(b * T + t) * H + PHONES + Math.floor(v / 16)] = 1;
        }
      }
      return { c };
    },
  };
  return stub;
}

/** The stub's labels in z (C channels) and a constant c: only the z probe can read them. */
function zStub() {
  const base = stubEncoder();
  const C = base.config.channels;
  const T = base.frames;
  return {
    config: base.config, frames: T,
    async encode(signal: Float32Array) {
      const { c: onehot } = await base.encode(signal);
      const z = new Float32Array(B * T * C);
      for (let f = 0; f < B * T; f++) z.set(onehot.subarray(f * H, (f + 1) * H), f * C);
      return { z, c: new Float32Array(B * T * H) };
    },
  };
}

describe('probe evaluation (stub encoder)', () => {
  it('aligns frames with phone labels and windows with speakers: 100 % on both probes', async () => {
    const ds = toyDataset();
    const enc = stubEncoder();
    const report = await evaluateProbes(enc, ds, {});
    expect(report.phone_acc).toBe(1);
    expect(report.speaker_acc).toBe(1);
    // Default stride L/2 over every utterance; no cap reached on this toy set.
    expect(report.windows.train).toBe(countEvalWindows(ds, 'train', L, L / 2));
    expect(report.windows.test).toBe(countEvalWindows(ds, 'test', L, L / 2));
    expect(report.phone!.train_rows).toBe(report.windows.train * enc.frames);
  });

  it("layerEncoder: 'z' probes the encoder output (C wide), 'c' the context", async () => {
    const ds = toyDataset();
    const model = zStub();
    const z = await evaluateProbes(layerEncoder(model, 'z'), ds, {});
    expect(z.features).toBe('z');
    expect([z.phone_acc, z.speaker_acc]).toEqual([1, 1]);
    const fz = await extractFeatures(layerEncoder(model, 'z'), ds, 'test', {});
    expect(fz.H).toBe(model.config.channels);
    // c carries nothing here: its probes fall to about the majority class.
    const c = await evaluateProbes(layerEncoder(model, 'c'), ds, {});
    expect(c.features).toBe('c');
    expect(c.phone_acc!).toBeLessThan(0.5);
    expect(c.speaker_acc!).toBeLessThan(0.5);
  });

  it('caps windows (evenly over the split, every speaker kept) and pads the last encoder batch', async () => {
    const ds = toyDataset();
    const enc = stubEncoder();
    const available = countEvalWindows(ds, 'train', L, L / 2);
    const cap = 7; // not a multiple of B: the last batch is padded
    const f = await extractFeatures(enc, ds, 'train', { maxWindows: { train: cap } });
    expect(available).toBeGreaterThan(cap);
    expect(f.N).toBe(cap);
    expect(f.available).toBe(available);
    expect(enc.calls).toBe(Math.ceil(cap / B));
    expect(new Set(f.speakers)).toEqual(new Set([0, 1, 2]));
    // Every kept window's features decode to its own speaker and its frames' phones.
    for (let n = 0; n < f.N; n++) {
      for (let t = 0; t < f.T; t++) {
        const row = f.c.subarray((n * f.T + t) * H, (n * f.T + t + 1) * H);
        expect(row[PHONES + f.speakers[n]!]).toBe(1);
        expect(row[f.phones![n * f.T + t]!]).toBe(1);
      }
    }
  });

  it('leaves the phone probe out when the dataset has no phone labels', async () => {
    const base = toyDataset();
    const strip = (split: Split) => base.utterances(split).map(({ phones: _p, ...u }) => u);
    const splits = { train: strip('train'), test: strip('test') };
    const ds: Dataset = { ...base, numPhones: undefined, utterances: (split) => splits[split] };
    const report = await evaluateProbes(stubEncoder(), ds, {});
    expect(report.phone_acc).toBeNull();
    expect(report.phone).toBeNull();
    expect(report.speaker_acc).toBe(1);
  });
});
