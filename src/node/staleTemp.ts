// Temp files of dead writers: writeFileAtomic writes `.<name>.<pid>.<hex>.tmp` next to its target
// and renames it; a kill -9 or a second Ctrl-C mid-save leaves a full-size temp file behind. The next
// run in that folder deletes those whose writer is no longer running (a live writer's temp file, e.g.
// a concurrent `grads --out` into the same folder, is left alone).
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicTempOwner } from './atomicFile.ts';
import { isProcessAlive } from './processAlive.ts';

/** Deletes the writeFileAtomic temp files of dead PIDs in `dir`; returns the names deleted. */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // no folder, no leftovers; a folder we cannot list fails later with a clearer message
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = atomicTempOwner(name);
    if (pid === null || isProcessAlive(pid)) continue;
    try {
      await rm(join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // Best effort: a leftover we cannot delete costs disk space, not correctness.
    }
  }
  return removed;
}
