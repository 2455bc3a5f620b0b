// DIR/metrics.jsonl: one JSON object per logged step. On --resume the lines past the checkpoint's step
// are dropped first (a run killed between two checkpoints logged steps the resumed run will redo), so
// the file always reads as one uninterrupted run.
import { open, type FileHandle } from 'node:fs/promises';
import { readFileLimited, writeFileAtomic } from '../node/atomicFile.ts';
import { CpcError } from '../runtime/errors.ts';
import { InputFileError, fsReason } from './usage.ts';

/** An append to metrics.jsonl failed (disk full, I/O error); the file was cut back to its last whole line. */
export class MetricsWriteError extends CpcError {}

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
  /** Bytes of whole lines in the file: an append that fails midway is cut back to this. */
  private size = 0;
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
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new InputFileError('metrics', `cannot read '${path}': ${fsReason(e)}`);
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
      const handle = await open(path, 'a');
      const log = new MetricsLog(handle, path, firstLoss);
      log.size = (await handle.stat()).size;
      return log;
    } catch (e) {
      throw new InputFileError('metrics', `cannot open '${path}': ${fsReason(e)}`);
    }
  }

  async append(lines: MetricsLine[]): Promise<void> {
    if (!this.handle || lines.length === 0) return;
    // JSON.stringify writes NaN/Infinity as null, so a non-finite step still leaves a parseable line.
    const bytes = new TextEncoder().encode(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    try {
      // One write() may take only part of the bytes (a nearly full disk writes what fits, then ENOSPC).
      let done = 0;
      while (done < bytes.length) done += (await this.handle.write(bytes, done, bytes.length - done)).bytesWritten;
    } catch (e) {
      // Cut the torn tail off so the file still ends on a whole line; if even that fails, a resumed
      // run skips the torn line (MetricsLog.open drops lines that do not parse).
      await this.handle.truncate(this.size).catch(() => undefined);
      throw new MetricsWriteError('metrics', `cannot append to '${this.path}': ${fsReason(e)}`);
    }
    this.size += bytes.length;
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await h?.close();
  }
}
