// Node's CheckpointStore for the trainer's save(path) / load(path): atomic replacement on write (a
// crash mid-save leaves the previous checkpoint intact) and a size-bounded read (a forged or wrong
// file cannot make us allocate without limit). File-system failures become CheckpointErrors naming the
// path, so the CLI prints one clean line instead of a Node stack trace.
import { CheckpointError } from '../cpc/safetensors.ts';
import type { CheckpointStore } from '../cpc/trainer.ts';
import { readFileLimited, writeFileAtomic } from './atomicFile.ts';
import { fsReason } from './fsReason.ts';

/** Largest checkpoint we read: the paper config with Adam moments is ~90 MB; leave ample room. */
export const MAX_CHECKPOINT_BYTES = 2 * 1024 ** 3;


export const nodeCheckpointStore: CheckpointStore = {
  async write(path, bytes) {
    try {
      await writeFileAtomic(path, bytes);
    } catch (e) {
      throw new CheckpointError('saveCheckpoint', `cannot write '${path}': ${fsReason(e)}`);
    }
  },
  async read(path) {
    try {
      return await readFileLimited(path, MAX_CHECKPOINT_BYTES);
    } catch (e) {
      throw new CheckpointError('loadCheckpoint', `cannot read '${path}': ${fsReason(e)}`);
    }
  },
};
