// The pieces behind `train`'s run-folder handling, in process: the bounded reader refuses what is
// not a regular file without blocking, the temp-file name parser matches what writeFileAtomic
// writes, the lock refuses a live holder and takes over a dead one, and stale temp files of dead
// PIDs (only those) are deleted.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atomicTempOwner, atomicTempPath, NotRegularFileError, readFileLimited } from '../src/node/atomicFile.ts';
import { acquireRunLock, RUN_LOCK_FILE, RunLockedError } from '../src/node/runLock.ts';
import { removeStaleTempFiles } from '../src/node/staleTemp.ts';

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-units-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

describe('readFileLimited file types', () => {
  it('refuses a FIFO at once (no writer), a character device and a directory, naming the kind', async () => {
    const fifo = join(root, 'p.fifo');
    execFileSync('mkfifo', [fifo]);
    for (const [path, kind] of [[fifo, 'a FIFO (named pipe)'], ['/dev/zero', 'a character device'], [root, 'a directory']] as const) {
      const err = await readFileLimited(path, 1 << 20).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotRegularFileError);
      expect(err).toMatchObject({ path, kind, reason: `${kind}, not a regular file` });
    }
  });
});

describe('writeFileAtomic temp names', () => {
  it('atomicTempOwner reads the PID back from the temp name writeFileAtomic uses', () => {
    expect(atomicTempOwner(basename(atomicTempPath(join(root, 'checkpoint.safetensors'))))).toBe(process.pid);
    expect(atomicTempOwner(basename(atomicTempPath('metrics.jsonl')))).toBe(process.pid);
    for (const other of ['checkpoint.safetensors', '.x.12.tmp', '.x.12.0123456789ab.tmp.bak', 'x.12.0123456789ab.tmp']) expect(atomicTempOwner(other)).toBeNull();
  });
});

describe('run lock', () => {
  it('refuses while held, can be taken again after release, and takes over a dead holder', async () => {
    const dir = await mkdtemp(join(root, 'lock-'));
    const lock = await acquireRunLock(dir);
    const err = await acquireRunLock(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunLockedError);
    expect((err as RunLockedError).holderPid).toBe(process.pid);
    lock.releaseSync();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    (await acquireRunLock(dir)).releaseSync();

    await writeFile(join(dir, RUN_LOCK_FILE), `pid ${await deadPid()} start 1\n`);
    const taken = await acquireRunLock(dir);
    expect(await readFile(join(dir, RUN_LOCK_FILE), 'utf8')).toMatch(new RegExp(`^pid ${process.pid} start `));
    taken.releaseSync();
    // A live PID whose start time differs is a reused PID, not the holder: taken over too.
    await writeFile(join(dir, RUN_LOCK_FILE), `pid ${process.pid} start 1\n`);
    (await acquireRunLock(dir)).releaseSync();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('stale temp files', () => {
  it('deletes writeFileAtomic temp files of dead PIDs only', async () => {
    const dir = await mkdtemp(join(root, 'stale-'));
    const dead = await deadPid();
    const names = [
      `.checkpoint.safetensors.${dead}.0123456789ab.tmp`, `.metrics.jsonl.${dead}.abcdefabcdef.tmp`,
      `.checkpoint.safetensors.${process.pid}.0123456789ab.tmp`, 'checkpoint.safetensors', 'notes.tmp',
    ];
    for (const n of names) await writeFile(join(dir, n), 'x');
    expect((await removeStaleTempFiles(dir)).sort()).toEqual(names.slice(0, 2).sort());
    expect((await readdir(dir)).sort()).toEqual(names.slice(2).sort());
  });
});
