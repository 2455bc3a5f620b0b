// Corpus folders (src/node/corpus.ts and friends): a generated LibriSpeech-style tree with every format
// variant, speakers from folders or labels.csv, file lists, the speaker split, the scan index cache,
// packs within a memory budget with a resumable batch stream, and bad input refused in one line.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../src/cpc/data/dataset.ts';
import { PackSampler, toInt16 } from '../src/cpc/data/packSampler.ts';
import { decodeAudioFile } from '../src/node/audioFile.ts';
import { openCorpus } from '../src/node/corpus.ts';
import { loadWavFolder } from '../src/node/wavFolder.ts';
import { encodeVariant, speakerSignal, writeCorpusTree, type TreeFile, type Variant } from './helpers/corpusTree.ts';
import { makeWav } from './helpers/wavData.ts';

const VARIANTS: Variant[] = ['flac16', 'wav16', 'flac24', 'wav24', 'flac16stereo', 'wav16stereo', 'flac8k', 'wav44k'];
let root: string;
let tree: string;
let files: TreeFile[];
const cache = () => join(root, 'cache');
const quiet = { log: () => {} };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cpc-corpus-'));
  tree = join(root, 'LibriSpeech', 'train-tiny');
  files = await writeCorpusTree(tree, { speakers: 4, chapters: 2, perChapter: 3, seconds: 1.0, variants: VARIANTS });
}, 120_000);
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

describe('openCorpus on a LibriSpeech-style tree', () => {
  it('reads every file of every variant, speaker = top folder, one resampling note for the corpus', async () => {
    const logs: string[] = [];
    const c = await openCorpus(tree, { cacheDir: cache(), log: (m) => logs.push(m) });
    expect(c.scan.skipped).toEqual([]);
    expect(c.scan.entries.map((e) => e.path)).toEqual(files.map((f) => f.path));
    expect(c.speakerNames).toEqual(['100', '111', '122', '133']);
    for (const e of c.scan.entries) {
      const f = files.find((x) => x.path === e.path)!;
      expect(c.speakerNames[c.speakerOf(e)]).toBe(f.speaker);
      expect(e.samples).toBe(Math.ceil(Math.round(f.seconds * e.sampleRate) * 16000 / e.sampleRate));
    }
    expect(new Set(c.scan.entries.map((e) => `${e.format}/${e.sampleRate}/${e.bitsPerSample}/${e.channels}`)).size).toBe(VARIANTS.length);
    expect(logs.filter((l) => /resampled/.test(l))).toHaveLength(1);
    expect(logs.join('\n')).toMatch(/note: 6 files resampled to 16 kHz .* from 8000 Hz \(3\), 44100 Hz \(3\)/);
    expect(logs.join('\n')).toMatch(/train [\d.]+ h \/ 4 speakers .* test [\d.]+ h \/ 4 speakers/);
    expect(c.train.length + c.test.length).toBe(files.length);

    // The probe dataset decodes real audio: FLAC and WAV of one signal agree.
    const ds = await c.probeDataset();
    const all = [...ds.utterances('train'), ...ds.utterances('test')];
    expect(all.length).toBe(files.length);
    for (const u of all) {
      const f = files.find((x) => x.path === u.id)!;
      const idx = files.indexOf(f);
      const rate = f.variant === 'flac8k' ? 8000 : f.variant === 'wav44k' ? 44100 : 16000;
      if (rate !== 16000) continue;
      const spk = Number(c.speakerNames.indexOf(f.speaker));
      const ref = speakerSignal(u.samples.length, 16000, spk, idx + 1);
      const gain = f.variant.endsWith('stereo') ? 0.9 : 1;
      let worst = 0;
      for (let i = 0; i < u.samples.length; i++) worst = Math.max(worst, Math.abs(u.samples[i]! - gain * ref[i]!));
      // Quantisation to 16 bits (and the stereo mean of two quantised channels): ≤ 1/32768 + float32 rounding.
      expect(worst, f.path).toBeLessThan(1.01 / 32768);
    }
  });

  it('--split speaker holds out whole speakers; the utterance split keeps every speaker in both', async () => {
    const bySpk = await openCorpus(tree, { cacheDir: cache(), split: 'speaker', testFraction: 0.25, ...quiet });
    const trainSpk = new Set(bySpk.train.map(bySpk.speakerOf));
    const testSpk = new Set(bySpk.test.map(bySpk.speakerOf));
    expect(testSpk.size).toBe(1);
    expect(trainSpk.size).toBe(3);
    for (const s of testSpk) expect(trainSpk.has(s)).toBe(false);
    const byUtt = await openCorpus(tree, { cacheDir: cache(), testFraction: 0.25, ...quiet });
    expect(new Set(byUtt.test.map(byUtt.speakerOf)).size).toBe(4);
    expect(new Set(byUtt.train.map(byUtt.speakerOf)).size).toBe(4);
  });

  it('takes the split from --train-list / --val-list (paths or sequence names) and names missing entries', async () => {
    const val = files.filter((_, i) => i % 5 === 0);
    const trainNames = files.filter((_, i) => i % 5 !== 0).map((f, i) => (i % 2 ? f.path : f.path.split('/').pop()!.replace(/\.\w+$/, '')));
    await writeFile(join(root, 'train.txt'), `${trainNames.join('\n')}\n`);
    await writeFile(join(root, 'val.txt'), `${val.map((f) => f.path.replace(/\.\w+$/, '')).join('\r\n')}\n\n`);
    const c = await openCorpus(tree, { cacheDir: cache(), trainList: join(root, 'train.txt'), valList: join(root, 'val.txt'), ...quiet });
    expect(c.test.map((e) => e.path)).toEqual(val.map((f) => f.path));
    expect(c.train.length).toBe(files.length - val.length);

    await writeFile(join(root, 'bad.txt'), `${files[0]!.path}\n100-2000-9999\nnope/x.flac\n`);
    const bad = openCorpus(tree, { cacheDir: cache(), trainList: join(root, 'bad.txt'), ...quiet });
    await expect(bad).rejects.toThrow(DatasetError);
    await expect(openCorpus(tree, { cacheDir: cache(), trainList: join(root, 'bad.txt'), ...quiet })).rejects.toThrow(/bad\.txt: 2 names match no \.wav\/\.flac file in the corpus \('100-2000-9999', 'nope\/x\.flac'\)/);
  });

  it('reuses the scan index, and re-reads only files that changed', async () => {
    const dir = join(root, 'cached');
    await writeCorpusTree(dir, { speakers: 2, chapters: 1, perChapter: 3, seconds: 0.7, variants: ['flac16', 'wav16'] });
    const first = await openCorpus(dir, { cacheDir: cache(), ...quiet });
    expect(first.scan.probed).toBe(6);
    const again = await openCorpus(dir, { cacheDir: cache(), ...quiet });
    expect(again.scan.probed).toBe(0);
    expect(again.scan.entries).toEqual(first.scan.entries);
    // Replace one file with a longer one (new size and mtime), add one, delete none.
    const changed = first.scan.entries[1]!.path;
    await writeFile(join(dir, changed), encodeVariant(changed.endsWith('.flac') ? 'flac16' : 'wav16', speakerSignal(16000 * 2, 16000, 0, 9)));
    await utimes(join(dir, changed), new Date(), new Date(Date.now() + 5000));
    await writeFile(join(dir, '100', 'extra.wav'), encodeVariant('wav16', speakerSignal(8000, 16000, 0, 3)));
    const third = await openCorpus(dir, { cacheDir: cache(), ...quiet });
    expect(third.scan.probed).toBe(2);
    expect(third.scan.entries.find((e) => e.path === changed)!.samples).toBe(32000);
    expect(third.scan.entries).toHaveLength(7);
  });

  it('skips bad files by name with the reason, and refuses an empty corpus', async () => {
    const dir = join(root, 'bad');
    await writeCorpusTree(dir, { speakers: 2, chapters: 1, perChapter: 2, seconds: 0.7, variants: ['flac16', 'wav16'] });
    const good = encodeVariant('flac16', speakerSignal(16000, 16000, 1, 4));
    await writeFile(join(dir, '100', 'zero.flac'), new Uint8Array(0));
    await writeFile(join(dir, '100', 'text.flac'), 'not audio');
    await writeFile(join(dir, '100', 'cut.flac'), good.subarray(0, 30));
    await writeFile(join(dir, '100', 'zero.wav'), new Uint8Array(0));
    const logs: string[] = [];
    const c = await openCorpus(dir, { cacheDir: null, log: (m) => logs.push(m) });
    expect(c.scan.skipped.map((s) => s.file).sort()).toEqual(['100/cut.flac', '100/text.flac', '100/zero.flac', '100/zero.wav']);
    expect(c.scan.skipped.find((s) => s.file === '100/text.flac')!.reason).toMatch(/no fLaC marker/);
    expect(c.scan.skipped.find((s) => s.file === '100/cut.flac')!.reason).toMatch(/STREAMINFO|claims/);
    expect(logs.join('\n')).toMatch(/warning: skipping 100\/zero\.wav: empty file/);
    expect(logs.join('\n')).toMatch(/4 skipped/);

    const empty = join(root, 'empty');
    await mkdir(join(empty, 'a', 'b'), { recursive: true });
    await writeFile(join(empty, 'a', 'readme.txt'), 'x');
    await expect(openCorpus(empty, { cacheDir: null, ...quiet })).rejects.toThrow(/no \.wav or \.flac files under '.*empty'/);
    const allBad = join(root, 'allbad');
    await mkdir(join(allBad, 's'), { recursive: true });
    await writeFile(join(allBad, 's', 'x.flac'), 'no');
    await expect(openCorpus(allBad, { cacheDir: null, ...quiet })).rejects.toThrow(/none of the 1 audio files .* could be used \(s\/x\.flac: not a FLAC file/);
  });
});

describe('labels.csv (issue 11 items 9, 10)', () => {
  it('reports rows that name no file, with a case hint, in the corpus and in loadWavFolder', async () => {
    const dir = join(root, 'labelled');
    await writeCorpusTree(dir, { speakers: 2, chapters: 1, perChapter: 2, seconds: 0.7, variants: ['wav16'] });
    await writeFile(join(dir, 'labels.csv'), 'file,speaker\n100/2000/100-2000-0000.wav,alice\n100/2000/100-2000-0001.WAV,alice\n');
    await expect(openCorpus(dir, { cacheDir: null, ...quiet })).rejects.toThrow(/1 row names no audio file of the corpus \('100\/2000\/100-2000-0001\.WAV'\); did you mean '100\/2000\/100-2000-0001\.wav'\?/);
    await writeFile(join(dir, 'labels.csv'), 'file,speaker\n100/2000/100-2000-0000.wav,alice\n');
    const c = await openCorpus(dir, { cacheDir: null, ...quiet });
    expect(c.speakerNames).toEqual(['100', '111', 'alice']);

    const flat = join(root, 'flat');
    await mkdir(flat, { recursive: true });
    await writeFile(join(flat, 'a_1.wav'), makeWav(16000, '16', [speakerSignal(8000, 16000, 0, 1)]).bytes);
    await writeFile(join(flat, 'labels.csv'), 'file,speaker\na_1.wav,x\nb_typo.wav,y\n');
    await expect(loadWavFolder(flat)).rejects.toThrow(/1 row names no audio file of the corpus \('b_typo\.wav'\)/);
  });

  it('a labels.csv that is a directory, unreadable or a FIFO is one DatasetError line, not a stack trace or a hang', async () => {
    const mk = async (name: string) => {
      const dir = join(root, name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'a_1.wav'), makeWav(16000, '16', [speakerSignal(8000, 16000, 0, 1)]).bytes);
      return dir;
    };
    const asDir = await mk('labels-dir');
    await mkdir(join(asDir, 'labels.csv'));
    await expect(openCorpus(asDir, { cacheDir: null, ...quiet })).rejects.toThrow(/labels\.csv: cannot read '.*labels-dir\/labels\.csv': a directory, not a regular file/);
    await expect(loadWavFolder(asDir)).rejects.toThrow(DatasetError);

    const fifo = await mk('labels-fifo');
    execFileSync('mkfifo', [join(fifo, 'labels.csv')]);
    await expect(openCorpus(fifo, { cacheDir: null, ...quiet })).rejects.toThrow(/cannot read '.*labels-fifo\/labels\.csv'.*not a regular file/);
    await expect(loadWavFolder(fifo)).rejects.toThrow(/not a regular file/);
    // The same for a list file.
    const plain = await mk('plain');
    await expect(openCorpus(plain, { cacheDir: null, trainList: join(fifo, 'labels.csv'), ...quiet })).rejects.toThrow(/--train-list: cannot read '.*labels-fifo\/labels\.csv': a FIFO \(named pipe\), not a regular file/);
    await expect(openCorpus(plain, { cacheDir: null, valList: plain, ...quiet })).rejects.toThrow(/--val-list: cannot read '.*plain': a directory, not a regular file/);

    if (process.getuid?.() !== 0) {
      const locked = await mk('labels-locked');
      await writeFile(join(locked, 'labels.csv'), 'file,speaker\n', { mode: 0o000 });
      await expect(openCorpus(locked, { cacheDir: null, ...quiet })).rejects.toThrow(/permission denied/);
    }
  }, 30_000);
});

describe('packs', () => {
  it('hold every file as int16: 16-bit 16 kHz mono WAVs copied as stored equal the decoded path', async () => {
    const c = await openCorpus(tree, { cacheDir: cache(), ...quiet });
    const src = c.packSource(1, 1000);
    expect(src.packCount).toBe(1);
    const pack = await src.load(0);
    let copied = 0;
    for (let i = 0; i < pack.ids.length; i++) {
      const e = c.train.find((x) => x.path === pack.ids[i])!;
      const d = await decodeAudioFile(join(tree, e.path), e.path, 1e9, 1e9);
      const want = new Int16Array(d.samples.length);
      toInt16(d.samples, want, 0);
      expect(pack.lengths[i]).toBe(want.length);
      expect(pack.audio.subarray(pack.offsets[i]!, pack.offsets[i]! + want.length)).toEqual(want);
      if (e.format === 'wav' && e.bitsPerSample === 16 && e.channels === 1 && e.sampleRate === 16000) copied++;
    }
    expect(copied).toBeGreaterThan(0);
  });

  it('cycle within a tiny budget, and a sampler restored mid-pack continues the exact stream', async () => {
    // 128 KiB of --data-memory → packs of 24 Ki samples (memoryPlan: 3/8 each): about five 0.25 s
    // utterances per pack, so the ~22-file train split needs several packs and 30 batches cross
    // pack boundaries.
    const dir = join(root, 'short');
    await writeCorpusTree(dir, { speakers: 4, chapters: 2, perChapter: 3, seconds: 0.25, variants: ['flac16', 'wav16'] });
    const c = await openCorpus(dir, { cacheDir: cache(), memoryBytes: 128 * 1024, ...quiet });
    const B = 4, L = 2000;
    const src = c.packSource(B, L);
    // ≈ 22 files × 0.275 s × 16000 ≈ 97 k samples over packs of ≤ 24 k.
    expect(src.packCount).toBeGreaterThanOrEqual(4);
    const run = new PackSampler(src, { B, L, seed: 7 });
    const states = [];
    const batches = [];
    for (let i = 0; i < 30; i++) { batches.push(Float32Array.from((await run.next()).signal)); states.push(run.getState()); }
    // Each pack serves ceil(≤ 24 k / (B·L = 8 k)) ≤ 3 batches: 30 batches go round all packs more than twice.
    expect(src.loads).toBeGreaterThan(2 * src.packCount);
    expect(new Set(states.map((s) => s.pack)).size).toBe(src.packCount);
    for (const k of [4, 13, 21]) {
      const resumed = new PackSampler(c.packSource(B, L), { B, L, seed: 999 });
      resumed.setState(states[k]!);
      for (let i = k + 1; i < 30; i++) expect((await resumed.next()).signal).toEqual(batches[i]);
    }
    // A different seed draws a different stream.
    const other = new PackSampler(c.packSource(B, L), { B, L, seed: 8 });
    expect((await other.next()).signal).not.toEqual(batches[0]);
    // A file bigger than the budget allows is refused before anything is decoded.
    const tooSmall = await openCorpus(dir, { cacheDir: cache(), memoryBytes: 16 * 1024, ...quiet });
    expect(() => tooSmall.packSource(B, L)).toThrow(/needs \d+ bytes of --data-memory, more than --data-memory 16384 bytes/);
  });
});
