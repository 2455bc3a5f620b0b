// Whether a PID names a running process: decides if a run-folder lock or a checkpoint temp file was
// left by a process that died (kill -9, a crash, a power loss) and may be taken over or deleted.

/** True when `pid` is running (or exists but belongs to another user: EPERM). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
