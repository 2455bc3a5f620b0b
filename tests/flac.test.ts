// FLAC decoding (src/cpc/data/flac.ts): exact values for 16/24-bit mono and stereo (checked against
// what the generated file holds), resampling of non-16 kHz files, truncated and unknown-length
// streams, and a fuzz of malformed files: every one is decoded or refused with a FlacError, fast and
// with bounded output, never a crash or a hang.
import { describe, expect, it } from 'vitest';
import { decodeFlac, FlacError, probeFlac } from '../src/cpc/data/flac.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { makeFlac } from './helpers/flacData.ts';
import { sine } from './helpers/wavData.ts';

const tone = (n: number, rate: number, hz: number) => sine(n, rate, hz, 0.4);

describe('decodeFlac', () => {
  for (const bits of [16, 24] as const) {
    for (const channels of [1, 2]) {
      it(`${bits}-bit ${channels === 1 ? 'mono' : 'stereo'}: exactly the stored values (stereo: their mean)`, async () => {
        const n = 10_000;
        const chans = Array.from({ length: channels }, (_, c) => tone(n, 16000, 300 + 70 * c));
        const { bytes, expect: want } = makeFlac(chans, { rate: 16000, bits, blockSize: 1152 });
        const d = await decodeFlac(bytes, 'x.flac');
        expect(d.samples.length).toBe(n);
        expect(d.bitsPerSample).toBe(bits);
        expect(d.channels).toBe(channels);
        expect(d.notice).toBeUndefined();
        let worst = 0;
        for (let i = 0; i < n; i++) {
          const ref = want.reduce((a, ch) => a + ch[i]!, 0) / channels;
          worst = Math.max(worst, Math.abs(d.samples[i]! - ref));
        }
        // The decoder returns float32 v / (2^(bits−1) − 1), which decodeFlac rescales to v / 2^(bits−1)
        // and stores as float32: two roundings of ≤ 2^-24 relative each, on |v| ≤ 0.4 (plus the exact
        // channel mean): ≤ 2 · 2^-24 · 0.4 < 2^-24.
        expect(worst).toBeLessThanOrEqual(2 ** -24);
      });
    }
  }

  it('resamples 8 kHz and 44.1 kHz to 16 kHz with a notice, and matches the tone', async () => {
    for (const rate of [8000, 44100]) {
      const n = rate; // 1 s
      const { bytes } = makeFlac([tone(n, rate, 440)], { rate, bits: 16 });
      const d = await decodeFlac(bytes, 'r.flac');
      expect(d.samples.length).toBe(16000);
      expect(d.notice).toMatch(new RegExp(`resampled from ${rate} Hz to 16000 Hz`));
      const ref = tone(16000, 16000, 440);
      let err = 0;
      // Away from the edges, where the sinc filter sees zeros beyond the signal.
      for (let i = 500; i < 15500; i++) err = Math.max(err, Math.abs(d.samples[i]! - ref[i]!));
      expect(err).toBeLessThan(2e-3);
    }
  });

  it('decodes a truncated file to the frames present with a notice, and an unknown-length stream', async () => {
    const { bytes, expect: want } = makeFlac([tone(20_000, 16000, 250)], { rate: 16000, bits: 16, blockSize: 1000 });
    const cut = await decodeFlac(bytes.subarray(0, Math.floor(bytes.length * 0.6)), 'cut.flac');
    expect(cut.samples.length).toBeGreaterThan(5000);
    expect(cut.samples.length).toBeLessThan(20_000);
    expect(cut.samples.length % 1000).toBe(0);
    expect(cut.notice).toMatch(/decoded \d+ of the 20000 samples STREAMINFO declares/);
    for (let i = 0; i < cut.samples.length; i++) if (cut.samples[i] !== Math.fround(want[0]![i]!)) throw new Error(`sample ${i}`);
    const unknown = await decodeFlac(makeFlac([tone(7000, 16000, 250)], { rate: 16000, bits: 16, unknownLength: true }).bytes, 'u.flac');
    expect(unknown.samples.length).toBe(7000);
  });

  it('refuses what the limits forbid before decoding', async () => {
    const { bytes } = makeFlac([tone(32000, 16000, 200)], { rate: 16000, bits: 16 });
    await expect(decodeFlac(bytes, 'long.flac', { maxSeconds: 1 })).rejects.toThrow(/long\.flac: 2\.0 s of audio is longer than the limit of 1 s/);
    await expect(decodeFlac(bytes, 'big.flac', { maxBytes: 100 })).rejects.toThrow(/big\.flac: file is \d+ bytes, more than the limit of 100/);
    await expect(decodeFlac(new Uint8Array(0), 'e.flac')).rejects.toThrow(/e\.flac: empty file/);
    expect(() => probeFlac(bytes.subarray(0, 20), bytes.length, 'h.flac')).toThrow(/STREAMINFO is cut off/);
  });

  it('fuzz: flipped bytes, cut files and forged headers are decoded or refused with a FlacError, with bounded output', async () => {
    const rng = new Rng(2024);
    const { bytes } = makeFlac([tone(6000, 16000, 300), tone(6000, 16000, 500)], { rate: 16000, bits: 16, blockSize: 512 });
    let refused = 0;
    let decoded = 0;
    for (let trial = 0; trial < 150; trial++) {
      const b = Uint8Array.from(bytes);
      const kind = trial % 3;
      if (kind === 0) {
        for (let k = 0; k < 1 + rng.int(8); k++) b[rng.int(b.length)] = rng.int(256);
      } else if (kind === 1) {
        // Forge a STREAMINFO field: rate, channels/bits or the total length.
        const o = 8 + 10 + rng.int(8);
        b[o] = rng.int(256);
      }
      const input = kind === 2 ? b.subarray(0, rng.int(b.length)) : b;
      try {
        const d = await decodeFlac(input, `f${trial}.flac`, { maxSeconds: 60 });
        decoded++;
        // The output never exceeds what the limits allow (60 s at 16 kHz), and holds finite values.
        expect(d.samples.length).toBeLessThanOrEqual(60 * 16000);
        for (let i = 0; i < d.samples.length; i += 97) expect(Number.isFinite(d.samples[i]!)).toBe(true);
      } catch (e) {
        if (!(e instanceof FlacError)) throw e;
        expect(e.message).toMatch(new RegExp(`^decodeFlac: f${trial}\\.flac: `));
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(10);
    expect(decoded).toBeGreaterThan(10);
  }, 120_000);
});
