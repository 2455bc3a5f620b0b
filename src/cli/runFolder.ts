// The run folder (`train --out DIR`) made ready before a device is acquired: created, checked to be a
// writable folder, locked against a second concurrent `train`, and cleared of the temp files a killed
// save left behind. Each failure is one line naming --out and the folder.
import { mkdir, stat } from 'node:fs/promises';
import { acquireRunLock, type RunLock } from '../node/runLock.ts';
import { removeStaleTempFiles } from '../node/staleTemp.ts';
import { CpcError } from '../runtime/errors.ts';
import { fsReason, InputFileError } from './usage.ts';

export async function prepareRunFolder(outDir: string, note: (msg: string) => void): Promise<RunLock> {
  try {
    await mkdir(outDir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way (not a folder)' : fsReason(e);
    throw new InputFileError('--out', `cannot create the run folder '${outDir}': ${why}`);
  }
  // mkdir -p succeeds on an existing folder only; this catches a symlink to a file and the like.
  if (!(await stat(outDir)).isDirectory()) throw new InputFileError('--out', `'${outDir}' is not a folder`);
  let lock: RunLock;
  try {
    lock = await acquireRunLock(outDir);
  } catch (e) {
    if (e instanceof CpcError) throw e;
    throw new InputFileError('--out', `cannot write in the run folder '${outDir}': ${fsReason(e)}`);
  }
  const removed = await removeStaleTempFiles(outDir);
  if (removed.length > 0) note(`removed ${removed.length} temp file(s) left in ${outDir} by an interrupted save: ${removed.join(', ')}`);
  return lock;
}
