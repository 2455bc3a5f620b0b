// The kernel tuner's cache in Node: one JSON file, `tune.json` in $CPC_WEBGPU_CACHE_DIR (default
// ~/.cache/cpc-webgpu, shared with the corpus index), key → TuneEntry (src/runtime/tuner.ts). Written
// atomically (writeFileAtomic), re-read and merged before each write so two processes tuning
// different shapes keep each other's entries. A corrupt or unreadable file is ignored with one
// notice: the trainer then uses defaults, and the next `tune` replaces the file.
import { join } from 'node:path';
import { isTuneEntry, type TuneCache, type TuneEntry } from '../runtime/tuner.ts';
import { readFileLimited, writeFileAtomic } from './atomicFile.ts';
import { defaultCacheDir } from './corpusScan.ts';

export const TUNE_CACHE_FILE = 'tune.json';
const FILE_VERSION = 1;
/** Far above any real cache (a few hundred bytes per op and shape). */
const MAX_CACHE_BYTES = 16 << 20;

interface CacheFile {
  version: number;
  entries: Record<string, TuneEntry>;
}

export interface NodeTuneCacheOptions {
  /** Folder of the cache file (default $CPC_WEBGPU_CACHE_DIR or ~/.cache/cpc-webgpu). */
  dir?: string;
  /** Where the one notice about an unreadable file or a failed write goes (default stderr). */
  notice?: (msg: string) => void;
}

export class NodeTuneCache implements TuneCache {
  readonly path: string;
  private readonly notice: (msg: string) => void;
  private entries: Map<string, TuneEntry> | null = null;
  private noticed = false;

  constructor(opts: NodeTuneCacheOptions = {}) {
    this.path = join(opts.dir ?? defaultCacheDir(), TUNE_CACHE_FILE);
    this.notice = opts.notice ?? ((m) => process.stderr.write(`${m}\n`));
  }

  private once(msg: string): void {
    if (this.noticed) return;
    this.noticed = true;
    this.notice(msg);
  }

  /** The file's entries; missing → empty; corrupt → empty with one notice. */
  private async readFile(): Promise<Map<string, TuneEntry>> {
    let text: string;
    try {
      text = new TextDecoder().decode(await readFileLimited(this.path, MAX_CACHE_BYTES));
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') this.once(`kernel tuning cache ${this.path}: unreadable (${(e as Error).message}); using default kernels`);
      return new Map();
    }
    try {
      const f = JSON.parse(text) as CacheFile;
      if (typeof f !== 'object' || f === null || f.version !== FILE_VERSION || typeof f.entries !== 'object' || f.entries === null) {
        throw new Error(`not a version-${FILE_VERSION} tuning cache`);
      }
      return new Map(Object.entries(f.entries).filter(([, v]) => isTuneEntry(v)));
    } catch (e) {
      this.once(`kernel tuning cache ${this.path}: ignored, it is corrupt (${(e as Error).message}); using default kernels until the next tune rewrites it`);
      return new Map();
    }
  }

  async get(key: string): Promise<TuneEntry | undefined> {
    this.entries ??= await this.readFile();
    return this.entries.get(key);
  }

  async set(key: string, entry: TuneEntry): Promise<void> {
    const merged = await this.readFile();
    for (const [k, v] of this.entries ?? []) if (!merged.has(k)) merged.set(k, v);
    merged.set(key, entry);
    this.entries = merged;
    const file: CacheFile = { version: FILE_VERSION, entries: Object.fromEntries(merged) };
    try {
      await writeFileAtomic(this.path, new TextEncoder().encode(`${JSON.stringify(file, null, 1)}\n`));
    } catch (e) {
      // A cache that cannot be written (read-only home, full disk) costs the next run a re-tune, nothing more.
      this.once(`kernel tuning cache ${this.path}: not saved (${(e as Error).message})`);
    }
  }
}
