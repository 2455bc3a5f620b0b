// `cpc-webgpu train --data DIR` on corpora, as real processes: a generated LibriSpeech-style tree with
// FLAC and WAV in every variant trains `tiny` end to end with probes; an interrupted run with a tiny
// --data-memory (packs cycling) resumes to bitwise the losses of an uninterrupted one; and the memory
// of the data path stays under --data-memory whatever the corpus size (issue 11 item 8).
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, lastJson } from './helpers/cli.ts';
import { speakerSignal, writeCorpusTree } from './helpers/corpusTree.ts';
import { makeWav } from './helpers/wavData.ts';

let root: string;
let env: Record<string, string>;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cpc-clicorpus-'));
  env = { CPC_WEBGPU_CACHE_DIR: join(root, 'cache') };
});
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

async function losses(dir: string): Promise<Map<number, number>> {
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
  return new Map(text.trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number }).map((r) => [r.step, r.loss]));
}

describe('train --data on a corpus tree', () => {
  it('trains tiny end to end on FLAC + WAV (16/24-bit, stereo, 8/44.1 kHz) and runs the probes', async () => {
    const tree = join(root, 'LibriSpeech', 'train-clean-tiny');
    await writeCorpusTree(tree, { speakers: 3, chapters: 2, perChapter: 4, seconds: 1.0, variants: ['flac16', 'wav16', 'flac24', 'wav24', 'flac16stereo', 'wav16stereo', 'flac8k', 'wav44k'] });
    const out = join(root, 'run-tree');
    const r = await cli(['train', '--preset', 'tiny', '--data', tree, '--steps', '6', '--out', out, '--probe', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/data: 24 files \(24 read, 0 from the index cache\)/);
    expect(r.stderr).toMatch(/note: 6 files resampled to 16 kHz/);
    const summary = lastJson(r.stdout);
    expect(summary.steps).toBe(6);
    expect(Number.isFinite(summary.final_loss as number)).toBe(true);
    expect((summary.probe as Record<string, unknown>) ?? null).not.toBeNull();
    // A second run reads the index from the cache.
    const again = await cli(['train', '--preset', 'tiny', '--data', tree, '--steps', '1', '--out', join(root, 'run-tree2')], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/data: 24 files \(0 read, 24 from the index cache\)/);
  }, 300_000);

  it('--resume with packs cycling continues the exact batch stream (bitwise losses)', async () => {
    const tree = join(root, 'packs');
    await writeCorpusTree(tree, { speakers: 4, chapters: 2, perChapter: 3, seconds: 0.8, variants: ['flac16', 'wav16', 'flac24'] });
    // No warm-up and a high rate so the losses move (as in cliTrain.test.ts).
    const config = join(root, 'cfg.json');
    await writeFile(config, JSON.stringify({ preset: 'tiny', optimizer: { lr: 1e-2, warmupSteps: 0 } }));
    // 512 KiB → packs of ≤ 96 Ki samples (6 s), 2 batches each: 12 steps cross ~6 pack boundaries.
    const args = ['--data', tree, '--data-memory', '512KiB', '--config', config];
    const full = join(root, 'full');
    const a = await cli(['train', ...args, '--steps', '12', '--out', full], { env });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/data: [3-9] packs/);
    const cut = join(root, 'cut');
    const b = await cli(['train', ...args, '--steps', '12', '--out', cut, '--checkpoint-every', '5'], { env: { ...env, CPC_WEBGPU_FAULT: 'lose-device@7' } });
    expect(b.code).not.toBe(0);
    const c = await cli(['train', '--out', cut, '--resume', '--steps', '12'], { env });
    expect(c.code, c.stderr).toBe(0);
    const want = await losses(full);
    const got = await losses(cut);
    for (let s = 6; s <= 12; s++) expect(got.get(s), `step ${s}`).toBe(want.get(s));
    // Different data flags on resume are refused.
    const d = await cli(['train', '--out', cut, '--resume', '--steps', '13', '--data', tree, '--data-memory', '1MiB'], { env });
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/error: .*--data.*differs from the data this run was trained on/);
  }, 300_000);

  it('bad data flags and inputs are one line each', async () => {
    const r1 = await cli(['train', '--preset', 'tiny', '--data', join(root, 'nope'), '--out', join(root, 'x1')], { env });
    expect(r1.stderr).toMatch(/^error: .*cannot read the data folder/m);
    const r2 = await cli(['train', '--preset', 'tiny', '--data-memory', '1GiB', '--out', join(root, 'x2')], { env });
    expect(r2.stderr).toMatch(/^error: --data-memory: applies to --data DIR only/m);
    const r3 = await cli(['train', '--preset', 'tiny', '--data', root, '--data-memory', 'lots', '--out', join(root, 'x3')], { env });
    expect(r3.stderr).toMatch(/^error: --data-memory: expects a size/m);
    const r4 = await cli(['train', '--preset', 'tiny', '--data', root, '--train-list', join(root, 'missing.txt'), '--out', join(root, 'x4')], { env });
    expect(r4.code).not.toBe(0);
    for (const r of [r1, r2, r3, r4]) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  }, 120_000);
});

describe('memory bound (issue 11 item 8)', () => {
  it('peak RSS does not grow with the corpus: 1 kHz WAVs of 2× and 4× --data-memory as float32', async () => {
    // Files of 150 s at 1 kHz (300 KB on disk) → 2.4 M samples each at 16 kHz (9.6 MB as float32).
    // 20 files = 192 MB as float32 (what holding the corpus in memory cost before), 40 files = 384 MB.
    const budget = 64 * 2 ** 20;
    const peakOver = async (n: number) => {
      const dir = join(root, `lowrate${n}`);
      for (let i = 0; i < n; i++) {
        await mkdir(join(dir, `s${i % 4}`), { recursive: true });
        await writeFile(join(dir, `s${i % 4}`, `u${i}.wav`), makeWav(1000, '16', [speakerSignal(150_000, 1000, i % 4, i + 1)]).bytes);
      }
      const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'corpusRss.ts'), dir, String(budget), join(root, 'cache')], { encoding: 'utf8', timeout: 280_000 });
      const r = JSON.parse(out.trim().split('\n').pop()!) as { baseline: number; peak: number; packs: number; loads: number };
      // Packs of 3/8 · 64 MiB / 2 bytes = 12.6 M samples hold 5 files; every pack is decoded at least once.
      expect(r.packs).toBe(n / 5);
      expect(r.loads).toBeGreaterThan(r.packs);
      return r.peak - r.baseline;
    };
    const small = await peakOver(20);
    const large = await peakOver(40);
    // The large corpus as float32 would add 384 MB; the data path's peak must not grow with it. Measured
    // (loaded 2-core machine): ≈ 130 MB over start-up for both — 48 MB of packs plus the garbage of
    // per-file decode buffers that V8 frees lazily. The margin allows GC timing noise, not growth: the
    // 20 extra files alone are 96 MB as int16.
    expect(large, `small ${small}, large ${large}`).toBeLessThan(small + 32 * 2 ** 20);
    expect(large).toBeLessThan(0.5 * 40 * 2.4e6 * 4);
  }, 300_000);
});
