// DIR/metrics.jsonl: one JSON object per logged step. On --resume the lines past the checkpoint's step
// are dropped first (a run killed between two checkpoints logged steps the resumed run will redo), so
// the file always reads as one uninterrupted run.
import { open, type FileHandle } from 'node:fs/promises';
import { readFileLimited, writeFileAtomic } from '../node/atomicFile.ts';
import { UsageError, fsReason } from './usage.ts';

export interface MetricsLine {
  step: number;
  loss: number;
  /** CPC accuracy per prediction step k = 1..K. */
  acc: number[];
  loss_per_k: number[];
  lr: number;
  grad_norm: number;
  steps_per_s: number | null;
}

const MAX_METRICS_BYTES = 1024 ** 3;

export class MetricsLog {
  private constructor(private handle: FileHandle | null, readonly path: string, readonly firstLoss: number | null) {}

  /**
   * Opens `path` for appending. `keepUpToStep` null: start a new file; a number: keep only the
   * existing lines with step ≤ it (resume), and report the first kept loss.
   */
  static async open(path: string, keepUpToStep: number | null): Promise<MetricsLog> {
    let firstLoss: number | null = null;
    if (keepUpToStep === null) {
      await writeFileAtomic(path, new Uint8Array(0));
    } else {
      let text = '';
      try {
        text = new TextDecoder().decode(await readFileLimited(path, MAX_METRICS_BYTES));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError('metrics', `cannot read '${path}': ${fsReason(e)}`);
      }
      const kept: string[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        let rec: { step?: unknown; loss?: unknown };
        try {
          rec = JSON.parse(line) as { step?: unknown; loss?: unknown };
        } catch {
          continue; // a line torn by a kill mid-write: the resumed run rewrites that step
        }
        if (typeof rec.step !== 'number' || rec.step > keepUpToStep) continue;
        if (firstLoss === null && typeof rec.loss === 'number') firstLoss = rec.loss;
        kept.push(line);
      }
      await writeFileAtomic(path, new TextEncoder().encode(kept.map((l) => `${l}\n`).join('')));
    }
    try {
      return new MetricsLog(await open(path, 'a'), path, firstLoss);
    } catch (e) {
      throw new UsageError('metrics', `cannot open '${path}': ${fsReason(e)}`);
    }
  }

  async append(lines: MetricsLine[]): Promise<void> {
    if (!this.handle || lines.length === 0) return;
    // JSON.stringify writes NaN/Infinity as null, so a non-finite step still leaves a parseable line.
    await this.handle.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await h?.close();
  }
}
