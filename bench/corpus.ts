// Corpus benchmark rows for `bench --only data` (bench/data.ts): a generated corpus of 16-bit mono WAVs
// on disk at two sizes (quick: 0.5 h and 2 h; full: 10 h and 20 h) under one --data-memory budget:
//   data.corpus.scan   scan time per hour of audio, first run and from the index cache
//   data.corpus.packs  windows/s produced for the small shape vs the small step rate consumed (measured
//                      in the same run), and the peak RSS over start-up next to the budget
// The corpora go to $CPC_BENCH_CORPUS_DIR (default the OS temp dir) and are deleted afterwards.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measurePreset } from './e2eCore.ts';
import { makeResult, type BenchContext, type BenchResult } from './types.ts';

const FILE_SECONDS = 15;

/** A canonical 16-bit mono 16 kHz WAV of `pcm`. */
function wav16(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(44 + pcm.byteLength);
  const v = new DataView(out.buffer);
  const put = (o: number, s: string) => { for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); v.setUint32(4, 36 + pcm.byteLength, true); put(8, 'WAVE'); put(12, 'fmt ');
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, 16000, true);
  v.setUint32(28, 32000, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true); put(36, 'data'); v.setUint32(40, pcm.byteLength, true);
  out.set(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength), 44);
  return out;
}

/** hours of audio as SPEAKER/CHAPTER/UTT.wav: slices of one minute of signal per speaker (fast to write). */
async function writeCorpus(dir: string, hours: number): Promise<void> {
  const speakers = 40;
  const base = Array.from({ length: speakers }, (_, s) => Int16Array.from({ length: 16000 * 60 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * (100 + 5 * s) * i) / 16000) + 500 * Math.sin(i * 1.7))));
  const files = Math.ceil((hours * 3600) / FILE_SECONDS);
  for (let f = 0; f < files; f++) {
    const s = f % speakers;
    const path = join(dir, String(s), String(Math.floor(f / speakers) % 10));
    if (f < speakers * 10) await mkdir(path, { recursive: true });
    const off = (f * 7919) % (16000 * (60 - FILE_SECONDS));
    await writeFile(join(path, `${s}-${f}.wav`), wav16(base[s]!.subarray(off, off + 16000 * FILE_SECONDS)));
  }
}

export async function corpusRows(b: BenchContext): Promise<BenchResult[]> {
  // Both full sizes exceed two packs of the 1 GiB budget (2 × 3.5 h), so both fill the two slabs: the
  // RSS must then be the same whatever the corpus size.
  const sizes = b.quick ? [0.5, 2] : [10, 20];
  const budget = 1024 ** 3;
  const small = await measurePreset(b, 'small', b.quick ? 3 : 6);
  const stepsPerS = small.steps_per_s as number;
  const root = await mkdtemp(join(process.env.CPC_BENCH_CORPUS_DIR ?? tmpdir(), 'cpc-bench-corpus-'));
  const rows: BenchResult[] = [];
  try {
    for (const hours of sizes) {
      const dir = join(root, `c${hours}`);
      const t0 = performance.now();
      await writeCorpus(dir, hours);
      b.log(`data.corpus: wrote ${hours} h in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'corpusChild.ts'), dir, String(budget), join(root, 'cache'), b.quick ? '10' : '60'], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
      await rm(dir, { recursive: true, force: true });
      const shape = { hours: Number(r.hours!.toFixed(2)), files: r.files!, budget_bytes: budget };
      rows.push(makeResult({
        name: 'data.corpus.scan', shape, ms: r.scan_first_s! * 1000, peak: b.peak,
        scan_s_per_hour: r.scan_first_s! / r.hours!, cached_scan_s_per_hour: r.scan_cached_s! / r.hours!,
      }));
      const consumed = stepsPerS * 8;
      rows.push(makeResult({
        name: 'data.corpus.packs', shape: { ...shape, B: 8, L: 20480, packs: r.packs! }, ms: (1000 * r.seconds!) / r.batches!, peak: b.peak,
        windows_per_s: r.windows_per_s, small_steps_per_s: stepsPerS, consumed_windows_per_s: consumed, produced_over_consumed: r.windows_per_s! / consumed,
        peak_rss_bytes: r.peak_rss, rss_over_startup_bytes: r.peak_rss! - r.baseline_rss!,
      }));
      b.log(`data.corpus ${hours} h (${r.files} files, ${r.packs} packs): scan ${(r.scan_first_s! / r.hours!).toFixed(2)} s/h first, ${(r.scan_cached_s! / r.hours!).toFixed(3)} s/h cached; ` +
        `${r.windows_per_s!.toFixed(0)} windows/s produced vs ${consumed.toFixed(1)} consumed by small (${(r.windows_per_s! / consumed).toFixed(0)}×); ` +
        `peak RSS ${(r.peak_rss! / 2 ** 20).toFixed(0)} MiB (${((r.peak_rss! - r.baseline_rss!) / 2 ** 20).toFixed(0)} MiB over start-up; budget ${(budget / 2 ** 20).toFixed(0)} MiB)`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return rows;
}
