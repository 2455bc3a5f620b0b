// Crash-safe file replacement and size-bounded reads (Node only).
//
// A checkpoint overwritten in place is destroyed if the process dies or the disk fills mid-write, and a
// run that crashes hours in must still have its previous checkpoint. So: write a temp file in the same
// directory (rename is only atomic within one file system), fsync it (so the rename cannot reach disk
// before the data), rename it over the target, then fsync the directory (so the rename itself
// survives a power loss). A reader sees the old file or the new one, never a mix.
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The temp file writeFileAtomic writes `target`'s new content to: `.<name>.<pid>.<12 hex>.tmp`. */
export function atomicTempPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * The PID that wrote a writeFileAtomic temp file, from its name (null for any other name). A temp
 * file of a PID that is no longer running was left by a kill -9 mid-save and can be deleted.
 */
export function atomicTempOwner(fileName: string): number | null {
  const m = /^\..+\.(\d{1,10})\.[0-9a-f]{12}\.tmp$/.exec(fileName);
  return m ? Number(m[1]) : null;
}

/** Replaces `path` with `bytes` atomically; creates missing parent directories. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = atomicTempPath(path);
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
  /** The message without the path, for callers whose own message names the file. */
  readonly reason: string;
  constructor(path: string, size: number, maxBytes: number) {
    super(`${path} is ${size} bytes, over the limit of ${maxBytes} bytes`);
    this.name = 'FileTooLargeError';
    this.path = path;
    this.size = size;
    this.maxBytes = maxBytes;
    this.reason = `${size} bytes, over the limit of ${maxBytes} bytes`;
  }
}

/** A path refused by readFileLimited because it is a directory, a FIFO, a device or a socket. */
export class NotRegularFileError extends Error {
  readonly path: string;
  /** What the path is ("a directory", "a FIFO (named pipe)", …). */
  readonly kind: string;
  readonly reason: string;
  constructor(path: string, kind: string) {
    super(`${path} is ${kind}, not a regular file`);
    this.name = 'NotRegularFileError';
    this.path = path;
    this.kind = kind;
    this.reason = `${kind}, not a regular file`;
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * One read() call moves at most this many bytes: Node refuses a length of 2³¹ or more (a native
 * assertion that aborts the process, not an exception), so a 2 GiB file must be read in pieces.
 */
const READ_CHUNK_BYTES = 1 << 30;

/**
 * Reads a whole regular file, refusing (before allocating anything) one larger than `maxBytes` and
 * anything that is not a regular file. The single place every size-bounded CLI read goes through.
 * The path is opened non-blocking, so a FIFO is refused at once instead of waiting forever for a
 * writer; the type and size come from the open handle, not the path, so a file swapped in between
 * cannot slip past them.
 */
export async function readFileLimited(path: string, maxBytes: number): Promise<Uint8Array> {
  if (!(maxBytes >= 0)) throw new RangeError(`readFileLimited: maxBytes must be a non-negative number, got ${maxBytes}`);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; the type check
  // below then refuses it. (No effect on regular files.)
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new NotRegularFileError(path, fileKind(st));
    if (st.size > maxBytes) throw new FileTooLargeError(path, st.size, maxBytes);
    const out = new Uint8Array(st.size);
    let filled = 0;
    while (filled < out.length) {
      const { bytesRead } = await handle.read(out, filled, Math.min(out.length - filled, READ_CHUNK_BYTES), filled);
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
