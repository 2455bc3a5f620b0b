// The scan of a corpus folder (Node only): every .wav/.flac file under it, recursively, with its format,
// rate and 16 kHz length read from the file's head — never the whole file. The result is cached per
// corpus folder (CPC_WEBGPU_CACHE_DIR, default ~/.cache/cpc-webgpu) keyed by each file's size and mtime,
// so the next run re-reads only new or changed files and starts in seconds; files gone are dropped.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from '../cpc/data/dataset.ts';
import { AUDIO_EXTENSIONS, AudioFileError, probeAudioFile, type AudioFileInfo } from './audioFile.ts';
import { readFileLimited, writeFileAtomic } from './atomicFile.ts';

export interface CorpusEntry extends AudioFileInfo {
  /** Path relative to the corpus folder, '/'-separated. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface CorpusScan {
  dir: string;
  /** Usable files, sorted by path (code-unit order: independent of the file system and locale). */
  entries: CorpusEntry[];
  skipped: SkippedFile[];
  /** Files probed this time (the rest came from the cache). */
  probed: number;
  cachePath: string | null;
}

export interface ScanOptions {
  /** Where the index is cached; null disables the cache. Default: $CPC_WEBGPU_CACHE_DIR or ~/.cache/cpc-webgpu. */
  cacheDir?: string | null;
  maxFileBytes?: number;
  /** Called about once a second while probing. */
  onProgress?: (p: { done: number; total: number; hours: number; elapsedMs: number }) => void;
}

const INDEX_VERSION = 1;
const MAX_INDEX_BYTES = 512 << 20;
const DEFAULT_MAX_FILE_BYTES = 1024 ** 3;

interface CachedIndex {
  version: number;
  dir: string;
  entries: CorpusEntry[];
  skipped: (SkippedFile & { size: number; mtimeMs: number })[];
}

export function defaultCacheDir(): string {
  return process.env.CPC_WEBGPU_CACHE_DIR || join(homedir(), '.cache', 'cpc-webgpu');
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every audio file under `dir` as '/'-separated relative paths, sorted. Directories are walked in name order. */
async function listAudio(dir: string): Promise<{ rel: string; size: number; mtimeMs: number }[]> {
  const out: { rel: string; size: number; mtimeMs: number }[] = [];
  const walk = async (abs: string, rel: string, depth: number): Promise<void> => {
    if (depth > 32) throw new DatasetError('scan', `'${join(dir, rel)}' is more than 32 folders deep (a symlink loop?)`);
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (e) {
      if (rel === '') throw new DatasetError('scan', `cannot read the data folder '${dir}': ${(e as Error).message}`);
      throw new DatasetError('scan', `cannot read the folder '${abs}': ${(e as Error).message}`);
    }
    for (const e of entries.sort((a, b) => byCodeUnit(a.name, b.name))) {
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      const childAbs = join(abs, e.name);
      if (e.isDirectory()) { await walk(childAbs, childRel, depth + 1); continue; }
      if (!AUDIO_EXTENSIONS.test(e.name)) continue;
      if (!e.isFile() && !e.isSymbolicLink()) continue;
      const st = await stat(childAbs).catch(() => null);
      if (!st) { out.push({ rel: childRel, size: -1, mtimeMs: 0 }); continue; } // dangling link: probed → reported
      if (st.isDirectory()) continue; // a folder named *.wav (or a link to one) is not a file
      out.push({ rel: childRel, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  await walk(dir, '', 0);
  return out.sort((a, b) => byCodeUnit(a.rel, b.rel));
}

async function readCache(path: string, dir: string): Promise<CachedIndex | null> {
  try {
    const idx = JSON.parse(new TextDecoder().decode(await readFileLimited(path, MAX_INDEX_BYTES))) as CachedIndex;
    if (idx?.version !== INDEX_VERSION || idx.dir !== dir || !Array.isArray(idx.entries) || !Array.isArray(idx.skipped)) return null;
    return idx;
  } catch {
    return null; // no cache yet, or an unreadable one: scan afresh
  }
}

export async function scanCorpus(dir: string, opts: ScanOptions = {}): Promise<CorpusScan> {
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const files = await listAudio(dir);
  if (files.length === 0) throw new DatasetError('scan', `no .wav or .flac files under '${dir}'`);

  const cachePath = cacheDir === null ? null : join(cacheDir, `corpus-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.json`);
  const cached = cachePath ? await readCache(cachePath, dir) : null;
  const known = new Map<string, CorpusEntry | (SkippedFile & { size: number; mtimeMs: number })>();
  for (const e of cached?.entries ?? []) known.set(e.path, e);
  for (const s of cached?.skipped ?? []) known.set(s.file, s);

  const entries: CorpusEntry[] = [];
  const skipped: (SkippedFile & { size: number; mtimeMs: number })[] = [];
  const t0 = performance.now();
  let lastReport = t0;
  let probed = 0;
  let samples = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const hit = known.get(f.rel);
    if (hit && hit.size === f.size && hit.mtimeMs === f.mtimeMs && f.size >= 0) {
      if ('path' in hit) { entries.push(hit); samples += hit.samples; } else skipped.push(hit);
    } else {
      probed++;
      try {
        const info = await probeAudioFile(join(dir, f.rel), f.rel, maxFileBytes);
        entries.push({ path: f.rel, size: f.size, mtimeMs: f.mtimeMs, ...info });
        samples += info.samples;
      } catch (e) {
        if (!(e instanceof AudioFileError)) throw e;
        skipped.push({ file: f.rel, reason: e.reason, size: f.size, mtimeMs: f.mtimeMs });
      }
    }
    const now = performance.now();
    if (opts.onProgress && now - lastReport > 1000) {
      lastReport = now;
      opts.onProgress({ done: i + 1, total: files.length, hours: samples / 16000 / 3600, elapsedMs: now - t0 });
    }
  }
  if (cachePath && (probed > 0 || !cached || cached.entries.length + cached.skipped.length !== files.length)) {
    const index: CachedIndex = { version: INDEX_VERSION, dir, entries, skipped };
    // A cache that cannot be written (read-only home, full disk) costs the next run a rescan, nothing more.
    await writeFileAtomic(cachePath, new TextEncoder().encode(JSON.stringify(index))).catch(() => undefined);
  }
  return { dir, entries, skipped: skipped.map(({ file, reason }) => ({ file, reason })), probed, cachePath };
}
