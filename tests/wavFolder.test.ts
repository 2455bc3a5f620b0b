// WAV folder datasets: formats, speaker labels, malformed files skipped by name, splits.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../src/cpc/data/dataset.ts';
import { parseSpeakerLabels, speakerFromFilename } from '../src/cpc/data/labels.ts';
import { WindowSampler } from '../src/cpc/data/batcher.ts';
import { loadWavFolder } from '../src/node/wavFolder.ts';
import { makeWav, sine } from './helpers/wavData.ts';

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-wav-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

async function folder(name: string, files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) await writeFile(join(dir, f), content);
  return dir;
}

const tone = (rate: number, hz: number, seconds = 0.5) => sine(Math.round(rate * seconds), rate, hz, 0.4);

describe('loadWavFolder', () => {
  it('reads every format, skips malformed files by name, and labels speakers from file names', async () => {
    const files: Record<string, Uint8Array | string> = {
      'alice_01.wav': makeWav(16000, '16', [tone(16000, 200)]).bytes,
      'alice_02.wav': makeWav(16000, '24', [tone(16000, 210), tone(16000, 220)]).bytes,
      'alice-03.wav': makeWav(16000, '8', [tone(16000, 230)]).bytes,
      'bob_01.wav': makeWav(16000, '32', [tone(16000, 300)]).bytes,
      'bob_02.wav': makeWav(16000, '32f', [tone(16000, 310)]).bytes,
      'bob_03.WAV': makeWav(8000, '16', [tone(8000, 320)]).bytes,
      'carol.wav': makeWav(16000, '64', [tone(16000, 400)]).bytes,
      'empty.wav': new Uint8Array(0),
      'notes.wav': 'this is a text file\n',
      'truncated_header.wav': makeWav(16000, '16', [tone(16000, 200)]).bytes.subarray(0, 30),
      'readme.txt': 'not a wav, ignored',
    };
    const dir = await folder('mixed', files);
    await mkdir(join(dir, 'subdir.wav'));
    const skips: string[] = [];
    const notices: string[] = [];
    const ds = await loadWavFolder(dir, { testFraction: 0.34, seed: 1, onSkip: (f) => skips.push(f), onNotice: (f) => notices.push(f) });

    expect(ds.files).toEqual(['alice-03.wav', 'alice_01.wav', 'alice_02.wav', 'bob_01.wav', 'bob_02.wav', 'bob_03.WAV', 'carol.wav']);
    // A directory named *.wav is not a file: neither loaded nor reported.
    expect(ds.skipped.map((s) => s.file).sort()).toEqual(['empty.wav', 'notes.wav', 'truncated_header.wav']);
    expect(skips.sort()).toEqual(ds.skipped.map((s) => s.file).sort());
    expect(ds.skipped.find((s) => s.file === 'notes.wav')!.reason).toMatch(/not a WAV file/);
    expect(ds.skipped.find((s) => s.file === 'empty.wav')!.reason).toMatch(/empty file/);
    expect(ds.skipped.find((s) => s.file === 'truncated_header.wav')!.reason).toMatch(/'fmt ' chunk claims 16 bytes but only 10 remain/);
    expect(notices).toEqual(['bob_03.WAV']);
    expect(ds.notices[0]!.notice).toMatch(/resampled from 8000 Hz/);

    expect(ds.speakerNames).toEqual(['alice', 'bob', 'carol']);
    expect(ds.numSpeakers).toBe(3);
    const all = [...ds.utterances('train'), ...ds.utterances('test')];
    expect(all).toHaveLength(7);
    for (const u of all) {
      expect(u.speaker).toBe(ds.speakerNames.indexOf(speakerFromFilename(u.id)));
      expect(u.samples.length).toBe(8000); // 0.5 s at 16 kHz, including the resampled file
    }
    // Speakers with ≥ 2 files are in both splits; a single-file speaker stays in train.
    const testSpeakers = new Set(ds.utterances('test').map((u) => u.speaker));
    expect([...testSpeakers].sort()).toEqual([0, 1]);
    expect(ds.utterances('train').some((u) => u.speaker === 2)).toBe(true);

    // Deterministic: same folder, same seed → same split and samples.
    const again = await loadWavFolder(dir, { testFraction: 0.34, seed: 1 });
    expect(again.utterances('test').map((u) => u.id)).toEqual(ds.utterances('test').map((u) => u.id));
    expect(again.utterances('train')[0]!.samples).toEqual(ds.utterances('train')[0]!.samples);

    // And the folder feeds the window sampler.
    const batch = new WindowSampler(ds, 'train', { B: 4, L: 4000, seed: 0 }).next();
    expect(batch.signal.length).toBe(16000);
  });

  it('labels.csv overrides file-name speakers; unlisted files fall back to the prefix', async () => {
    const w = (hz: number) => makeWav(16000, '16', [tone(16000, hz, 0.1)]).bytes;
    const dir = await folder('labelled', {
      'a_1.wav': w(100), 'a_2.wav': w(110), 'b_1.wav': w(120), 'zed_9.wav': w(130),
      'labels.csv': 'file,speaker\r\na_1.wav,"Dr. X, PhD"\na_2.wav,Dr. X\n\nb_1.wav,"Dr. X, PhD"\n',
    });
    const ds = await loadWavFolder(dir, { testFraction: 0 });
    expect(ds.speakerNames).toEqual(['Dr. X', 'Dr. X, PhD', 'zed']);
    const byId = new Map(ds.utterances('train').map((u) => [u.id, ds.speakerNames[u.speaker]]));
    expect(Object.fromEntries(byId)).toEqual({ 'a_1.wav': 'Dr. X, PhD', 'a_2.wav': 'Dr. X', 'b_1.wav': 'Dr. X, PhD', 'zed_9.wav': 'zed' });
    expect(ds.utterances('test')).toHaveLength(0);
  });

  it('refuses an empty folder, a missing folder, and a folder of only bad files, with clear errors', async () => {
    const empty = await folder('empty', { 'readme.txt': 'nothing here' });
    await expect(loadWavFolder(empty)).rejects.toThrow(DatasetError);
    await expect(loadWavFolder(empty)).rejects.toThrow(/no \.wav files in '.*empty'/);
    await expect(loadWavFolder(join(root, 'does-not-exist'))).rejects.toThrow(/cannot read the data folder/);
    const bad = await folder('bad', { 'x.wav': 'plain text, not audio', 'y.wav': new Uint8Array(3) });
    await expect(loadWavFolder(bad)).rejects.toThrow(/none of the 2 \.wav files .* could be used \(x\.wav: not a WAV file.*; y\.wav: too short/);
  });

  it('skips files over the size limit before reading them', async () => {
    const dir = await folder('sizes', {
      's_small.wav': makeWav(16000, '16', [tone(16000, 100, 0.01)]).bytes,
      's_big.wav': makeWav(16000, '16', [tone(16000, 100, 0.1)]).bytes,
    });
    const ds = await loadWavFolder(dir, { maxFileBytes: 1000 });
    expect(ds.files).toEqual(['s_small.wav']);
    expect(ds.skipped).toEqual([{ file: 's_big.wav', reason: 'file is 3244 bytes, more than the limit of 1000' }]);
  });

  it('rejects malformed labels.csv with the line number', async () => {
    expect(() => parseSpeakerLabels('name,who\nx.wav,a\n')).toThrow(/header with columns 'file' and 'speaker'/);
    expect(() => parseSpeakerLabels('file,speaker\nx.wav,a\nx.wav,b\n')).toThrow(/line 3: file 'x.wav' is listed twice/);
    expect(() => parseSpeakerLabels('file,speaker\nx.wav,\n')).toThrow(/line 2: needs both/);
    expect(() => parseSpeakerLabels('file,speaker\n"x.wav,a\n')).toThrow(/line 2: unterminated/);
    expect(parseSpeakerLabels('\uFEFFSpeaker,File,extra\nalice,"a ""quoted"" name.wav",1\n')).toEqual(new Map([['a "quoted" name.wav', 'alice']]));
    expect(speakerFromFilename('take1.wav')).toBe('take1');
    expect(speakerFromFilename('p225_001.wav')).toBe('p225');
  });
});
