/** Short reason for a file-system error ("no such file" rather than Node's full errno text). */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return 'permission denied';
  if (err?.code === 'EISDIR') return 'is a directory';
  if (err?.code === 'ENOTDIR') return 'not a directory';
  if (err?.code === 'ENOSPC') return 'no space left on the device';
  return err?.message ?? String(e);
}
