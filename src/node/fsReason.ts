import { FileTooLargeError, NotRegularFileError } from './atomicFile.ts';

/** Short reason for a file-system error ("no such file" rather than Node's full errno text). */
export function fsReason(e: unknown): string {
  if (e instanceof NotRegularFileError || e instanceof FileTooLargeError) return e.reason;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return 'permission denied';
  if (err?.code === 'EISDIR') return 'is a directory';
  if (err?.code === 'ENOTDIR') return 'not a directory';
  if (err?.code === 'ENOSPC') return 'no space left on the device';
  if (err?.code === 'EROFS') return 'read-only file system';
  if (err?.code === 'EEXIST') return 'already exists';
  if (err?.code === 'EDQUOT') return 'disk quota exceeded';
  return err?.message ?? String(e);
}
