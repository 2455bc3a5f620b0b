// Random training windows from a corpus too large for memory: the train split is cut into packs (int16
// audio, a bounded number of bytes each) that a PackSource loads — the next one in the background while
// the current one is used. The sampler draws a fixed number of batches from each pack, in pack order,
// cycling, with the same window rule as WindowSampler (drawWindows in batcher.ts). Browser-safe: the
// file reading is the source's business (src/node/corpusPacks.ts).
//
// Resumable: the state is the rng, the batch count and the pack position (pack, batches drawn from
// it); a sampler restored from it loads that pack and continues the exact stream.
import { ShapeError } from '../../runtime/errors.ts';
import { checkBatchShape, checkBL, drawWindows, newWindowBatch, speakerGroups, type SpeakerGroups, type WindowBatch, type WindowPool, type WindowSamplerOptions, type WindowSamplerState } from './batcher.ts';
import { DatasetError } from './dataset.ts';
import { Rng } from './rng.ts';

/** One pack: utterances as int16 (full scale 32768), concatenated. */
export interface AudioPack {
  audio: Int16Array;
  /** Start of each utterance in `audio`. */
  offsets: Float64Array;
  /** Decoded length of each utterance (0 for a file that failed to decode). */
  lengths: Uint32Array;
  speakers: Uint32Array;
  ids: string[];
  /** Index of each utterance in the split's utterance list. */
  indices: Uint32Array;
}

export interface PackSource {
  readonly packCount: number;
  /** Batches drawn from pack p before moving to the next (≥ 1). */
  batchesIn(p: number): number;
  /** Pack p; a source may start loading the next pack when this is called. */
  load(p: number): Promise<AudioPack>;
}

export interface PackSamplerState extends WindowSamplerState {
  pack: number;
  /** Batches already drawn from `pack`. */
  packBatch: number;
}

const INT16_SCALE = 1 / 32768;

export function packPool(pack: AudioPack): WindowPool {
  return {
    length: (i) => pack.lengths[i]!,
    speaker: (i) => pack.speakers[i]!,
    id: (i) => pack.ids[i]!,
    copy: (i, start, n, dst, at) => {
      const src = pack.audio;
      const o = pack.offsets[i]! + start;
      for (let k = 0; k < n; k++) dst[at + k] = src[o + k]! * INT16_SCALE;
    },
  };
}

/** Converts float samples to int16 the usual way (scale by 32768, round, clamp). */
/** Returns how many samples were outside int16's range and clipped (float audio beyond ±1). */
export function toInt16(src: Float32Array, dst: Int16Array, at: number): number {
  let clipped = 0;
  for (let i = 0; i < src.length; i++) {
    const v = Math.round(src[i]! * 32768);
    if (v > 32767 || v < -32768 || v !== v) clipped++;
    dst[at + i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return clipped;
}

export class PackSampler {
  readonly B: number;
  readonly L: number;
  private readonly rng: Rng;
  private batches = 0;
  private pack = 0;
  private packBatch = 0;
  private current: { index: number; pool: WindowPool; eligible: Uint32Array; groups: SpeakerGroups; indices: Uint32Array } | null = null;

  private readonly sampling: WindowSamplerOptions['sampling'];

  constructor(private readonly source: PackSource, opts: WindowSamplerOptions) {
    checkBL('PackSampler', opts.B, opts.L);
    if (!(source.packCount >= 1)) throw new DatasetError('PackSampler', 'the corpus has no packs');
    this.B = opts.B;
    this.L = opts.L;
    this.rng = new Rng(opts.seed);
    this.sampling = opts.sampling;
  }

  private async ensurePack(): Promise<void> {
    // A pack whose utterances all failed or are shorter than L is passed over (deterministically: the
    // same files fail the same way on every run); a whole cycle of such packs is an error.
    for (let tried = 0; tried <= this.source.packCount; tried++) {
      if (this.packBatch >= this.source.batchesIn(this.pack)) {
        this.pack = (this.pack + 1) % this.source.packCount;
        this.packBatch = 0;
      }
      if (this.current?.index !== this.pack) {
        this.current = null;
        const pack = await this.source.load(this.pack);
        const idx: number[] = [];
        for (let i = 0; i < pack.lengths.length; i++) if (pack.lengths[i]! >= this.L) idx.push(i);
        const pool = packPool(pack);
        const eligible = Uint32Array.from(idx);
        this.current = { index: this.pack, pool, eligible, groups: speakerGroups('PackSampler', this.sampling, pool, eligible), indices: pack.indices };
      }
      if (this.current.eligible.length > 0) return;
      this.packBatch = this.source.batchesIn(this.pack);
    }
    throw new ShapeError('PackSampler', `no train utterance of the corpus is at least L = ${this.L} samples long after decoding`, { L: this.L });
  }

  async next(out?: WindowBatch): Promise<WindowBatch> {
    const batch = out ?? newWindowBatch(this.B, this.L);
    checkBatchShape('PackSampler.next', batch, this.B, this.L);
    await this.ensurePack();
    const cur = this.current!;
    drawWindows(this.rng, cur.pool, cur.eligible, this.L, batch, cur.groups);
    for (let b = 0; b < this.B; b++) batch.utterances[b] = cur.indices[batch.utterances[b]!]!;
    this.packBatch++;
    this.batches++;
    return batch;
  }

  getState(): PackSamplerState {
    return { rng: this.rng.getState(), batches: this.batches, pack: this.pack, packBatch: this.packBatch };
  }

  setState(state: PackSamplerState): void {
    const ok = state && Number.isInteger(state.batches) && state.batches >= 0 && Number.isInteger(state.pack) && state.pack >= 0 &&
      state.pack < this.source.packCount && Number.isInteger(state.packBatch) && state.packBatch >= 0 && state.packBatch <= this.source.batchesIn(state.pack);
    if (!ok) throw new ShapeError('PackSampler.setState', `invalid state ${JSON.stringify(state)} for ${this.source.packCount} packs`);
    this.rng.setState(state.rng);
    this.batches = state.batches;
    this.pack = state.pack;
    this.packBatch = state.packBatch;
    this.current = null;
  }
}
