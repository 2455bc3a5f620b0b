// Crash-safe file replacement and size-bounded reads (Node only).
//
// A checkpoint overwritten in place is destroyed if the process dies or the disk fills mid-write, and a
// run that crashes hours in must still have its previous checkpoint. So: write a temp file in the same
// directory (rename is only atomic within one file system), fsync it (so the rename cannot reach disk
// before the data), rename it over the target, then fsync the directory (so the rename itself
// survives a power loss). A reader sees the old file or the new one, never a mix.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Replaces `path` with `bytes` atomically; creates missing parent directories. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    // 'wx': never follow or clobber something already at the temp name.
    handle = await open(tmp, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some platforms cannot open or fsync a directory (Windows: EISDIR/EPERM; some file systems:
    // EINVAL/ENOTSUP). The rename is done by then; durability of the directory entry is best effort there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** A file refused by readFileLimited because of its size. */
export class FileTooLargeError extends Error {
  readonly path: string;
  readonly size: number;
  readonly maxBytes: number;
  constructor(path: string, size: number, maxBytes: number) {
    super(`${path} is ${size} bytes, over the limit of ${maxBytes} bytes`);
    this.name = 'FileTooLargeError';
    this.path = path;
    this.size = size;
    this.maxBytes = maxBytes;
  }
}

/**
 * Reads a whole regular file, refusing (before allocating anything) one larger than `maxBytes`.
 * The size comes from the open handle, not the path, so a file swapped in between cannot slip past it.
 */
export async function readFileLimited(path: string, maxBytes: number): Promise<Uint8Array> {
  if (!(maxBytes >= 0)) throw new RangeError(`readFileLimited: maxBytes must be a non-negative number, got ${maxBytes}`);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; the type check
  // below then refuses it. (No effect on regular files.)
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    if (st.size > maxBytes) throw new FileTooLargeError(path, st.size, maxBytes);
    const out = new Uint8Array(st.size);
    let filled = 0;
    while (filled < out.length) {
      const { bytesRead } = await handle.read(out, filled, out.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    // A file that changed length while we read is being written non-atomically: its content is not a
    // consistent snapshot of anything, so refuse it rather than hand back a torn read.
    const probe = new Uint8Array(1);
    const { bytesRead: extra } = await handle.read(probe, 0, 1, filled);
    if (filled !== st.size || extra !== 0) {
      throw new Error(`${path} changed size while being read (${st.size} bytes at open, ${filled}${extra ? '+' : ''} read)`);
    }
    return out;
  } finally {
    await handle.close();
  }
}
