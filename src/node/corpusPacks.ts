// Packs of a corpus's train split (Node only): consecutive utterances whose int16 audio fits a pack's
// share of --data-memory, decoded on demand, with the next pack decoded in the background (file by
// file, yielding to the event loop between files, so the training loop keeps submitting steps while
// the GPU runs) while the current one is used. At most two packs are alive: the one in use and the one
// being prepared. See memoryPlan for how the budget is shared.
import { join } from 'node:path';
import type { AudioPack, PackSource } from '../cpc/data/packSampler.ts';
import { toInt16 } from '../cpc/data/packSampler.ts';
import { DatasetError } from '../cpc/data/dataset.ts';
import { AudioFileError, decodeAudioFile, readPcm16Mono } from './audioFile.ts';
import type { CorpusEntry } from './corpusScan.ts';

export interface MemoryPlan {
  /** int16 samples per pack. */
  packSamples: number;
  /** Largest decode footprint of one file (its bytes + its float32 16 kHz samples). */
  decodeBytes: number;
}

/**
 * How a budget of `bytes` is spent: two packs (in use + next) of 3/8 each, and 1/4 for decoding one file
 * (the file's bytes and its float32 samples exist together for a moment). Everything else on the data
 * path (batches, the index) is small next to these.
 */
export function memoryPlan(bytes: number): MemoryPlan {
  return { packSamples: Math.floor((bytes * 3) / 8 / 2), decodeBytes: Math.floor(bytes / 4) };
}

export function decodeFootprint(e: CorpusEntry): number {
  return e.size + 4 * e.samples;
}

export interface PackPlan {
  /** Index range [start, end) into the split's utterance list, per pack. */
  ranges: [number, number][];
  samples: number[];
}

/** Consecutive utterances per pack, each pack ≤ packSamples. Refuses a file that cannot fit at all. */
export function planPacks(utts: readonly CorpusEntry[], plan: MemoryPlan, budgetText: string): PackPlan {
  const ranges: [number, number][] = [];
  const samples: number[] = [];
  let start = 0;
  let acc = 0;
  for (let i = 0; i < utts.length; i++) {
    const u = utts[i]!;
    if (u.samples > plan.packSamples || decodeFootprint(u) > plan.decodeBytes) {
      throw new DatasetError('--data-memory', `${u.path} (${(u.samples / 16000).toFixed(0)} s, ${u.size} bytes) needs ${Math.max(Math.ceil((u.samples * 2 * 16) / 3), decodeFootprint(u) * 4)} bytes of --data-memory, more than ${budgetText}; raise --data-memory or split the file`);
    }
    if (acc + u.samples > plan.packSamples && i > start) {
      ranges.push([start, i]);
      samples.push(acc);
      start = i;
      acc = 0;
    }
    acc += u.samples;
  }
  if (utts.length > start) { ranges.push([start, utts.length]); samples.push(acc); }
  return { ranges, samples };
}

export interface CorpusPackSourceOptions {
  dir: string;
  utterances: readonly CorpusEntry[];
  speakerOf: (e: CorpusEntry) => number;
  plan: PackPlan;
  /** Batch size × window: a pack serves ceil(samples / (B·L)) batches, about one pass over its audio. */
  samplesPerBatch: number;
  maxFileBytes: number;
  onSkip?: (file: string, reason: string) => void;
  onNotice?: (file: string, notice: string) => void;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export class CorpusPackSource implements PackSource {
  readonly packCount: number;
  private readonly loading = new Map<number, { slab: number; pack: Promise<AudioPack> }>();
  /**
   * Two int16 buffers of the largest pack, reused: a dropped pack's buffer is refilled by the next
   * prefetch instead of waiting for the garbage collector (measured: with a fresh buffer per pack,
   * V8 kept five dropped 24 MB packs alive, 2× over a 64 MiB budget).
   */
  private readonly slabs: (Int16Array | null)[] = [null, null];
  private readonly reported = new Set<string>();
  /** Packs decoded so far (for tests and the bench: proves packs cycle). */
  loads = 0;

  constructor(private readonly o: CorpusPackSourceOptions) {
    this.packCount = o.plan.ranges.length;
  }

  batchesIn(p: number): number {
    return Math.max(1, Math.ceil(this.o.plan.samples[p]! / this.o.samplesPerBatch));
  }

  /**
   * Pack p. Calling it releases every other pack but p's successor: the caller must be done with the
   * pack it had (PackSampler drops its pack before asking for the next).
   */
  load(p: number): Promise<AudioPack> {
    for (const k of [...this.loading.keys()]) if (k !== p) this.loading.delete(k);
    let entry = this.loading.get(p);
    if (!entry) entry = this.start(p);
    if (this.packCount > 1) {
      const next = (p + 1) % this.packCount;
      // Prefetch once this pack is ready, so the two decodes do not hold two files' scratch at once.
      void entry.pack.then(() => { if (this.loading.has(p) && !this.loading.has(next)) this.start(next); }, () => undefined);
    }
    return entry.pack;
  }

  private start(p: number): { slab: number; pack: Promise<AudioPack> } {
    const used = new Set([...this.loading.values()].map((e) => e.slab));
    const slab = used.has(0) ? 1 : 0;
    const biggest = Math.max(...this.o.plan.samples);
    const audio = (this.slabs[slab] ??= new Int16Array(biggest)).subarray(0, this.o.plan.samples[p]!);
    const entry = { slab, pack: this.decode(p, audio) };
    this.loading.set(p, entry);
    return entry;
  }

  private async decode(p: number, audio: Int16Array): Promise<AudioPack> {
    const [start, end] = this.o.plan.ranges[p]!;
    const n = end - start;
    const offsets = new Float64Array(n);
    const lengths = new Uint32Array(n);
    const speakers = new Uint32Array(n);
    const ids: string[] = new Array(n);
    const indices = new Uint32Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const e = this.o.utterances[start + i]!;
      offsets[i] = at;
      speakers[i] = this.o.speakerOf(e);
      ids[i] = e.path;
      indices[i] = start + i;
      await yieldToLoop();
      try {
        const pcm = e.format === 'wav' && e.bitsPerSample === 16 && e.channels === 1 && e.sampleRate === 16000
          ? await readPcm16Mono(join(this.o.dir, e.path), e.path, this.o.maxFileBytes) : null;
        if (pcm) {
          const len = Math.min(pcm.length, e.samples);
          audio.set(pcm.subarray(0, len), at);
          lengths[i] = len;
          at += e.samples;
          continue;
        }
        const d = await decodeAudioFile(join(this.o.dir, e.path), e.path, this.o.maxFileBytes, Number.POSITIVE_INFINITY);
        // The scan's length is what the pack was sized for; a file that decodes longer (it changed
        // since the scan) is cut to it, shorter (truncated, corrupt frames) keeps what was decoded.
        const len = Math.min(d.samples.length, e.samples);
        const clipped = toInt16(d.samples.subarray(0, len), audio, at);
        lengths[i] = len;
        // Packs hold int16, so float audio beyond ±1 (or NaN) cannot pass unchanged: say so, once.
        const notes = [d.notice, clipped > 0 ? `${clipped} of ${len} samples outside [-1, 1] clipped to int16 full scale (packs hold int16)` : undefined].filter((n) => n !== undefined);
        if (notes.length > 0) this.reportOnce(e.path, () => this.o.onNotice?.(e.path, notes.join('; ')));
      } catch (err) {
        if (!(err instanceof AudioFileError)) throw err;
        this.reportOnce(e.path, () => this.o.onSkip?.(e.path, err.reason));
      }
      at += e.samples;
    }
    this.loads++;
    return { audio, offsets, lengths, speakers, ids, indices };
  }

  private reportOnce(file: string, report: () => void): void {
    if (this.reported.has(file)) return;
    this.reported.add(file);
    report();
  }
}
