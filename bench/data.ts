// Data-path benchmark (CPU only): how fast batches are produced, so the trainer never waits on data.
// Rows:
//   data.synthetic.gen  synthetic speech generation; `ms` per batch-worth of audio (B·L samples),
//                       `batches_per_s`, `ms_per_audio_s`
//   data.batches        WindowSampler.next() for the small shape (B = 8, L = 20480); `batches_per_s`
//   data.wav.decode     decodeWav of a 44.1 kHz 16-bit stereo file (mix + resample); `ms_per_audio_s`
//   data.probe.train    trainLinearProbe (default options) on N frames × D features, K classes
//   data.corpus.*       a generated corpus on disk at two sizes: scan time, windows/s from packs vs the
//                       small step rate, peak RSS vs --data-memory (bench/corpus.ts)
// The consumed side (steps/s of the trainer at the same B and L) is measured next to the produced
// rate in the same run by `bench --e2e` (`data_batches_per_s`, `data_headroom`).
import * as wavefileModule from 'wavefile';
import { WindowSampler } from '../src/cpc/data/batcher.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { createSyntheticDataset, synthesizeUtterance, syntheticInventory } from '../src/cpc/data/synthetic.ts';
import { decodeWav } from '../src/cpc/data/wav.ts';
import { trainLinearProbe } from '../src/cpc/probe.ts';
import { corpusRows } from './corpus.ts';
import { median } from './timing.ts';
import { makeResult, type BenchContext, type BenchResult, type BenchSuite } from './types.ts';

/** Median wall time (ms) of `fn` over `reps` runs after `warmup` runs, stopping early past `budgetMs`. */
function timeCpu(fn: () => void, reps: number, budgetMs: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    fn();
    times.push(performance.now() - s);
    if (i >= 2 && performance.now() - t0 > budgetMs) break;
  }
  return median(times);
}

function wavBytes(rate: number, seconds: number): Uint8Array {
  type W = { fromScratch(c: number, r: number, b: string, s: number[][]): void; toBuffer(): Uint8Array };
  const m = wavefileModule as unknown as { WaveFile?: new () => W; default?: { WaveFile: new () => W } };
  const w = new (m.WaveFile ?? m.default!.WaveFile)();
  const n = Math.round(rate * seconds);
  const ch = (hz: number) => Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)));
  w.fromScratch(2, rate, '16', [ch(220), ch(330)]);
  return w.toBuffer();
}

export const dataSuite: BenchSuite = {
  name: 'data',
  async run(b: BenchContext): Promise<BenchResult[]> {
    const reps = b.quick ? 3 : 9;
    const budget = b.quick ? 2_000 : 10_000;
    const rows: BenchResult[] = [];
    const B = 8, L = 20480;

    // Synthesis: one batch-worth of audio as B utterances of L samples.
    const inv = syntheticInventory(0, 8, 16);
    let seed = 1;
    const genMs = timeCpu(() => { for (let i = 0; i < B; i++) synthesizeUtterance(inv, i % 8, L, seed++); }, reps, budget);
    const audioS = (B * L) / 16000;
    rows.push(makeResult({
      name: 'data.synthetic.gen', shape: { B, L }, ms: genMs, peak: b.peak,
      batches_per_s: 1000 / genMs, ms_per_audio_s: genMs / audioS,
    }));
    b.log(`data.synthetic.gen: ${genMs.toFixed(1)} ms per ${audioS.toFixed(2)} s of audio`);

    // Sampling windows from an in-memory dataset (the default synthetic set; generation not timed).
    const ds = createSyntheticDataset({ seed: 0, utterancesPerSpeaker: b.quick ? 4 : 24 });
    const sampler = new WindowSampler(ds, 'train', { B, L, seed: 0 });
    const out = sampler.next();
    const per = 20;
    const batchMs = timeCpu(() => { for (let i = 0; i < per; i++) sampler.next(out); }, reps, budget) / per;
    rows.push(makeResult({
      name: 'data.batches', shape: { B, L }, ms: batchMs, peak: b.peak, batches_per_s: 1000 / batchMs,
    }));
    b.log(`data.batches: ${(1000 / batchMs).toFixed(0)} batches/s`);

    // WAV decode: 44.1 kHz 16-bit stereo → 16 kHz mono.
    const wavSeconds = b.quick ? 2 : 10;
    const bytes = wavBytes(44100, wavSeconds);
    const decMs = timeCpu(() => { decodeWav(bytes, 'bench.wav'); }, reps, budget);
    rows.push(makeResult({
      name: 'data.wav.decode', shape: { rate: 44100, channels: 2, bits: 16, seconds: wavSeconds }, ms: decMs, peak: b.peak,
      ms_per_audio_s: decMs / wavSeconds,
    }));
    b.log(`data.wav.decode: ${(decMs / wavSeconds).toFixed(2)} ms per s of 44.1 kHz stereo`);

    // Probe training at the sizes `eval` meets: ~50k frames × H features, 16 phone classes.
    const shapes = b.quick ? [[5000, 64, 16]] : [[50000, 64, 16], [50000, 256, 16]];
    for (const [N, D, K] of shapes as [number, number, number][]) {
      const rng = new Rng(1);
      const x = Float32Array.from({ length: N * D }, () => rng.normal());
      const y = Uint32Array.from({ length: N }, () => rng.int(K));
      // Seconds per run and no JIT-sensitive inner call: one untimed-warm-up-free run is representative.
      const ms = timeCpu(() => { trainLinearProbe(x, y, K); }, 1, budget, 0);
      rows.push(makeResult({ name: 'data.probe.train', shape: { N, D, K }, ms, peak: b.peak }));
      b.log(`data.probe.train N=${N} D=${D} K=${K}: ${(ms / 1000).toFixed(2)} s`);
    }
    rows.push(...(await corpusRows(b)));
    return rows;
  },
};
