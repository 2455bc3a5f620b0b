// Small text inputs of the data path (labels.csv, --train-list / --val-list) read through
// readFileLimited: a directory, a FIFO, an unreadable or oversized file is one DatasetError line naming
// the file, never a stack trace or a read that waits forever.
import { DatasetError } from '../cpc/data/dataset.ts';
import { FileTooLargeError, readFileLimited } from './atomicFile.ts';
import { fsReason } from './fsReason.ts';

export async function readTextFile(path: string, maxBytes: number, op: string, opts: { optional?: boolean } = {}): Promise<string | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileLimited(path, maxBytes);
  } catch (e) {
    if (opts.optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (e instanceof FileTooLargeError) throw new DatasetError(op, `'${path}' is ${e.size} bytes, more than ${maxBytes}`);
    throw new DatasetError(op, `cannot read '${path}': ${fsReason(e).replace(`${path} is `, '')}`);
  }
  return new TextDecoder('utf-8').decode(bytes);
}
