// WAV decoding: every supported format against the values the file holds, resampling against the
// ideal signal, and malformed / forged / random inputs (each must decode or throw WavError, fast).
import { describe, expect, it } from 'vitest';
import { decodeWav, WavError } from '../src/cpc/data/wav.ts';
import { resample, StreamResampler } from '../src/cpc/data/resample.ts';
import { Rng } from '../src/cpc/data/rng.ts';
import { fmtBody, makeWav, pcm16, rawWav, sine } from './helpers/wavData.ts';

const N = 1600; // 0.1 s at 16 kHz: enough samples for every check, cheap to decode

function expectAll(got: Float32Array, want: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (excess > worst) { worst = excess; at = i; }
  }
  expect(at, `${what}: index ${at} got ${got[at]} want ${want[at]}`).toBe(-1);
}

function refusal(bytes: Uint8Array, name = 'bad.wav', opts = {}): WavError {
  try {
    decodeWav(bytes, name, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(WavError);
    expect((e as WavError).message).toContain(name);
    return e as WavError;
  }
  throw new Error(`${name}: expected a WavError, but the file decoded`);
}

describe('decodeWav: formats', () => {
  // A tone plus a slower one, peak 0.9: exercises both signs and most of the range.
  const signal = sine(N, 16000, 440, 0.6);
  const second = sine(N, 16000, 97, 0.3, 1);
  for (let i = 0; i < N; i++) signal[i] = signal[i]! + second[i]!;

  // 8/16/24-bit: q / 2^(bits−1) has ≤ 24 significant bits, so it is exact in float32 → tolerance 0.
  // 32-bit PCM: q / 2^31 rounds once to float32 → rtol 2^-24 ≈ 6e-8.
  for (const [bits, rtol] of [[8, 0], [16, 0], [24, 0], [32, 2 ** -24]] as const) {
    it(`PCM ${bits}-bit mono: exact values, and within half a quantisation step of the signal`, () => {
      const { bytes, expect: want } = makeWav(16000, String(bits) as '8', [signal]);
      const d = decodeWav(bytes, `pcm${bits}.wav`);
      expect(d).toMatchObject({ sampleRate: 16000, originalSampleRate: 16000, channels: 1, bitsPerSample: bits, encoding: 'pcm' });
      expect(d.notice).toBeUndefined();
      expectAll(d.samples, want[0]!, 0, rtol, `pcm${bits} vs file values`);
      // Round-to-nearest quantisation: |error| ≤ ½ step = 2^-bits (plus float32 rounding for 32-bit).
      expectAll(d.samples, signal, 2 ** -bits + 1e-7, 0, `pcm${bits} vs signal`);
    });
  }

  it('IEEE float 32-bit is bit-exact; 64-bit rounds once to float32', () => {
    const f32 = makeWav(16000, '32f', [signal]);
    const d32 = decodeWav(f32.bytes, 'f32.wav');
    expect(d32.encoding).toBe('float');
    expectAll(d32.samples, f32.expect[0]!, 0, 0, 'float32');
    const f64 = makeWav(16000, '64', [signal]);
    const d64 = decodeWav(f64.bytes, 'f64.wav');
    expectAll(d64.samples, f64.expect[0]!, 0, 2 ** -24, 'float64');
  });

  it('stereo and 4-channel files are averaged to mono', () => {
    const left = signal;
    const right = sine(N, 16000, 1000, 0.5);
    const st = makeWav(16000, '16', [left, right]);
    const d = decodeWav(st.bytes, 'stereo.wav');
    expect(d.channels).toBe(2);
    // (L + R) / 2 of exact 16-bit values is exact in float64, then rounds once to float32 (|x| < 1).
    const mix = st.expect[0]!.map((v, i) => (v + st.expect[1]![i]!) / 2);
    expectAll(d.samples, mix, 0, 2 ** -24, 'stereo mix');

    const chans = [0, 1, 2, 3].map((c) => sine(N, 16000, 200 + 300 * c, 0.2 + 0.1 * c));
    const q = makeWav(16000, '24', chans);
    const d4 = decodeWav(q.bytes, 'quad.wav');
    expect(d4.channels).toBe(4);
    const mix4 = q.expect[0]!.map((_, i) => (q.expect[0]![i]! + q.expect[1]![i]! + q.expect[2]![i]! + q.expect[3]![i]!) / 4);
    expectAll(d4.samples, mix4, 0, 2 ** -24, 'quad mix');
  });

  it('WAVE_FORMAT_EXTENSIBLE resolves its sub-format', () => {
    // wavefile writes a 40-byte fmt for > 2 channels but keeps format tag 1; turn it into the
    // extensible tag so the SubFormat path is what decides.
    const q = makeWav(16000, '24', [signal, signal, signal]);
    const v = new DataView(q.bytes.buffer, q.bytes.byteOffset);
    expect(v.getUint32(16, true)).toBe(40);
    v.setUint16(20, 0xfffe, true);
    const d = decodeWav(q.bytes, 'ext.wav');
    expectAll(d.samples, q.expect[0]!, 0, 2 ** -24, 'extensible');
    v.setUint16(44, 7, true); // SubFormat GUID → mu-law
    expect(refusal(q.bytes, 'ext-mulaw.wav').message).toMatch(/audio format 7 is not supported/);
  });

  it('skips unknown chunks (odd sizes with padding) before and after the data', () => {
    const values = [0, 1000, -1000, 32767, -32768, 5];
    const bytes = rawWav([
      { id: 'LIST', body: new Uint8Array([1, 2, 3]) },
      { id: 'fmt ', body: fmtBody({}) },
      { id: 'junk', body: new Uint8Array(5) },
      { id: 'data', body: pcm16(values) },
      { id: 'cue ', body: new Uint8Array(7) },
    ]);
    const d = decodeWav(bytes, 'chunks.wav');
    expectAll(d.samples, values.map((x) => x / 32768), 0, 0, 'chunks');
  });

  // Resampling error budget: the Kaiser window (β = 8.6) keeps pass-band ripple and stop-band leakage
  // near 10^(−86.7/20) ≈ 4.6e-5 of the amplitude (Kaiser's formula A ≈ β/0.1102 + 8.7 dB), i.e.
  // ≤ 2.3e-5 for amplitude 0.5, plus float32 rounding (3e-8): atol 1e-4 leaves a 4× margin. Edges are
  // skipped: within a filter half-width of the ends, the zero padding outside the file is in the sum.
  const EDGE = 64;
  const interior = (x: Float32Array) => x.subarray(EDGE, x.length - EDGE);

  it('8 kHz is resampled to 16 kHz with a notice, matching the ideal 16 kHz tone', () => {
    const { bytes } = makeWav(8000, '32f', [sine(8000, 8000, 440, 0.5)]);
    const d = decodeWav(bytes, 'narrow.wav');
    expect(d.notice).toMatch(/resampled from 8000 Hz to 16000 Hz/);
    expect(d.originalSampleRate).toBe(8000);
    expect(d.samples.length).toBe(16000);
    expectAll(interior(d.samples), interior(Float32Array.from(sine(16000, 16000, 440, 0.5))), 1e-4, 0, '8k→16k');
  });

  it('44.1 kHz stereo is mixed, resampled, and content above 8 kHz is removed', () => {
    const n = 44100 / 4;
    const tone = sine(n, 44100, 1000, 0.5);
    const alias = sine(n, 44100, 12000, 0.5); // would fold to 4 kHz without the anti-alias filter
    const { bytes } = makeWav(44100, '32f', [tone, alias]);
    const d = decodeWav(bytes, 'cd.wav');
    expect(d.notice).toMatch(/resampled from 44100 Hz/);
    expect(d.samples.length).toBe(4000);
    // mono = (tone + alias) / 2 → expect tone / 2 (amplitude 0.25) and the 12 kHz half removed.
    expectAll(interior(d.samples), interior(Float32Array.from(sine(4000, 16000, 1000, 0.25))), 1e-4, 0, '44.1k→16k');
  });

  it('resample keeps DC exactly and handles rates with no common factor', () => {
    const dc = new Float32Array(3000).fill(0.25);
    const y = resample(dc, 11025, 16000);
    // Each phase's taps are normalised to sum 1: DC passes up to float rounding (2^-24 relative per tap sum).
    expectAll(interior(y), new Float32Array(y.length - 2 * EDGE).fill(0.25), 1e-6, 0, 'DC');
    const z = resample(Float32Array.from(sine(20011, 20011, 300, 0.5)), 20011, 16000);
    expect(z.length).toBe(16000);
    expectAll(interior(z), interior(Float32Array.from(sine(16000, 16000, 300, 0.5))), 1e-4, 0, 'coprime rate');
  });

  it('streaming resampling (any block sizes, and decodeWav over several blocks) equals one-shot, bitwise', () => {
    const n = 44100 * 2; // > 65536 frames: decodeWav feeds the resampler in two blocks
    const { bytes, expect: want } = makeWav(44100, '16', [sine(n, 44100, 300, 0.5), sine(n, 44100, 3000, 0.3)]);
    const mono = Float32Array.from(want[0]!, (v, i) => (v + want[1]![i]!) / 2);
    const whole = resample(mono, 44100, 16000);
    expect(decodeWav(bytes, 'long.wav').samples).toEqual(whole);
    const s = new StreamResampler(44100, 16000, n);
    for (let o = 0, k = 1; o < n; o += k, k = (k * 7 + 3) % 5000 + 1) s.push(mono.subarray(o, Math.min(n, o + k)));
    expect(s.finish()).toEqual(whole);
    expect(() => new StreamResampler(44100, 16000, 10).finish()).toThrow(/received 0 of the declared 10/);
  });

  it('a data chunk larger than the file is clipped to the file, with a notice', () => {
    const { bytes, expect: want } = makeWav(16000, '16', [signal]);
    const cut = bytes.subarray(0, 44 + 2 * 1000);
    const d = decodeWav(cut, 'truncated.wav');
    expect(d.notice).toMatch(/claims 3200 bytes but the file holds 2000/);
    expectAll(d.samples, want[0]!.subarray(0, 1000), 0, 0, 'truncated');
    const odd = bytes.subarray(0, 44 + 2 * 1000 + 1);
    expect(decodeWav(odd, 'odd.wav').notice).toMatch(/partial sample frame \(1 bytes\)/);
    // A forged data size of 0xFFFFFFFF (streaming writers) is the same case: clip, never allocate 4 GiB.
    const forged = bytes.slice();
    new DataView(forged.buffer).setUint32(40, 0xffffffff, true);
    expect(decodeWav(forged, 'forged-data.wav').samples.length).toBe(N);
  });
});

describe('decodeWav: malformed files are refused by name', () => {
  const good = () => makeWav(16000, '16', [sine(N, 16000, 440, 0.5)]).bytes;
  const u32 = (b: Uint8Array, o: number, v: number) => { const c = b.slice(); new DataView(c.buffer).setUint32(o, v, true); return c; };
  const u16 = (b: Uint8Array, o: number, v: number) => { const c = b.slice(); new DataView(c.buffer).setUint16(o, v, true); return c; };
  const cases: [string, () => Uint8Array, RegExp, object?][] = [
    ['empty file', () => new Uint8Array(0), /empty file/],
    ['5 bytes', () => new Uint8Array([82, 73, 70, 70, 0]), /too short/],
    ['text file named .wav', () => new TextEncoder().encode('this is a text file, not audio\n'), /not a WAV file/],
    ['random bytes', () => { const r = new Rng(3); return Uint8Array.from({ length: 4096 }, () => r.int(256)); }, /not a WAV file/],
    ['RIFF but AVI', () => rawWav([], { form: 'AVI ' }), /not WAVE/],
    ['RIFX', () => rawWav([], { magic: 'RIFX' }), /RIFX/],
    ['zero-length fmt', () => rawWav([{ id: 'fmt ', body: new Uint8Array(0) }, { id: 'data', body: pcm16([1, 2]) }]), /'fmt ' chunk is 0 bytes/],
    ['fmt claiming 4 GiB', () => u32(good(), 16, 0xfffffff0), /'fmt ' chunk claims 4294967280 bytes/],
    ['forged LIST size before data', () => rawWav([{ id: 'fmt ', body: fmtBody({}) }, { id: 'LIST', body: new Uint8Array(4), size: 0x7fffffff }, { id: 'data', body: pcm16([1]) }]), /'LIST' at byte 36 claims 2147483647/],
    ['no fmt', () => rawWav([{ id: 'data', body: pcm16([1, 2]) }]), /no 'fmt ' chunk/],
    ['no data', () => rawWav([{ id: 'fmt ', body: fmtBody({}) }]), /no 'data' chunk/],
    ['empty data', () => rawWav([{ id: 'fmt ', body: fmtBody({}) }, { id: 'data', body: new Uint8Array(0) }]), /no audio samples/],
    ['two fmt chunks', () => rawWav([{ id: 'fmt ', body: fmtBody({}) }, { id: 'fmt ', body: fmtBody({}) }, { id: 'data', body: pcm16([1]) }]), /second 'fmt '/],
    ['garbage chunk id', () => rawWav([{ id: '\u0001\u0002\u0003\u0004', body: new Uint8Array(4) }, { id: 'fmt ', body: fmtBody({}) }]), /invalid chunk id 0x01020304/],
    ['ADPCM', () => rawWav([{ id: 'fmt ', body: fmtBody({ format: 17, bits: 4, blockAlign: 256 }) }, { id: 'data', body: new Uint8Array(256) }]), /audio format 17/],
    ['12-bit PCM', () => rawWav([{ id: 'fmt ', body: fmtBody({ bits: 12, blockAlign: 2 }) }, { id: 'data', body: new Uint8Array(8) }]), /12 bits per sample/],
    ['16-bit float', () => rawWav([{ id: 'fmt ', body: fmtBody({ format: 3, bits: 16 }) }, { id: 'data', body: new Uint8Array(8) }]), /IEEE float with 16 bits/],
    ['0 channels', () => u16(good(), 22, 0), /0 channels/],
    ['40 channels', () => rawWav([{ id: 'fmt ', body: fmtBody({ channels: 40 }) }, { id: 'data', body: new Uint8Array(80) }]), /40 channels/],
    ['block align mismatch', () => u16(good(), 32, 3), /block align 3/],
    ['sample rate 0', () => u32(good(), 24, 0), /sample rate 0 Hz/],
    ['sample rate 4 GHz', () => u32(good(), 24, 0xffffffff), /sample rate 4294967295 Hz/],
    ['NaN in float data', () => { const { bytes } = makeWav(16000, '32f', [sine(64, 16000, 440, 0.5)]); new DataView(bytes.buffer).setFloat32(44 + 4 * 10, NaN, true); return bytes; }, /non-finite sample \(NaN\) at frame 10/],
    ['longer than maxSeconds', () => good(), /longer than the limit of 0.05 s/, { maxSeconds: 0.05 }],
    ['larger than maxBytes', () => good(), /more than the limit of 100/, { maxBytes: 100 }],
  ];
  for (const [what, make, msg, opts] of cases) {
    it(what, () => {
      const name = `${what.replace(/\W+/g, '-')}.wav`;
      expect(refusal(make(), name, opts).message).toMatch(msg);
    });
  }

  it("a forged 'cue ' count (4 billion points) cannot reach wavefile's loops", () => {
    // wavefile itself would loop dwCuePoints times; the canonical re-header keeps it out of reach.
    const cue = new Uint8Array(4);
    new DataView(cue.buffer).setUint32(0, 0xffffffff, true);
    const bytes = rawWav([{ id: 'fmt ', body: fmtBody({}) }, { id: 'cue ', body: cue }, { id: 'data', body: pcm16([100, -100]) }]);
    const t0 = performance.now();
    expect(decodeWav(bytes, 'cue.wav').samples.length).toBe(2);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('decodeWav: fuzz', () => {
  it('300 seeded mutations of valid WAVs each decode or throw WavError, quickly', () => {
    const rng = new Rng(20240607);
    const n = 800;
    const bases = [
      makeWav(16000, '16', [sine(n, 16000, 440, 0.5)]).bytes,
      makeWav(16000, '24', [sine(n, 16000, 440, 0.5), sine(n, 16000, 300, 0.5)]).bytes,
      makeWav(22050, '32f', [sine(n, 22050, 440, 0.5)]).bytes,
      makeWav(8000, '8', [sine(n, 8000, 440, 0.5)]).bytes,
      rawWav([{ id: 'LIST', body: new Uint8Array(9) }, { id: 'fmt ', body: fmtBody({}) }, { id: 'data', body: pcm16(Array.from({ length: n }, (_, i) => (i * 37) % 2000)) }]),
    ];
    const interesting = [0, 1, 2, 3, 15, 16, 17, 40, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    let decoded = 0;
    let refused = 0;
    let worstMs = 0;
    for (let c = 0; c < 300; c++) {
      const base = bases[c % bases.length]!;
      let b = base.slice();
      const kind = rng.int(5);
      if (kind === 0) {
        // Flip 1–8 random bytes anywhere, biased to the header where the sizes live.
        for (let k = 1 + rng.int(8); k > 0; k--) { const o = rng.next() < 0.7 ? rng.int(Math.min(80, b.length)) : rng.int(b.length); b[o] = rng.int(256); }
      } else if (kind === 1) {
        // An interesting or random u32 / u16 over a header field.
        const o = rng.int(Math.min(76, b.length - 4));
        const v = rng.next() < 0.6 ? interesting[rng.int(interesting.length)]! : rng.nextU32();
        const dv = new DataView(b.buffer);
        if (rng.next() < 0.5) dv.setUint32(o, v >>> 0, true); else dv.setUint16(o, v & 0xffff, true);
      } else if (kind === 2) {
        b = b.slice(0, rng.int(b.length + 1)); // truncate anywhere, including inside the header
      } else if (kind === 3) {
        const o = rng.int(Math.min(80, b.length));
        const ins = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
        const out = new Uint8Array(b.length + ins.length);
        out.set(b.subarray(0, o)); out.set(ins, o); out.set(b.subarray(o), o + ins.length);
        b = out;
      } else {
        // Swap two 4-byte groups of the header (chunk ids vs sizes).
        const o1 = 4 * rng.int(Math.min(18, b.length >> 2)), o2 = 4 * rng.int(Math.min(18, b.length >> 2));
        const t = b.slice(o1, o1 + 4); b.copyWithin(o1, o2, o2 + 4); b.set(t, o2);
      }
      const name = `fuzz-${c}.wav`;
      const t0 = performance.now();
      try {
        const d = decodeWav(b, name);
        decoded++;
        // A decoded result is sane: finite samples, at most what the bytes can hold after resampling
        // (≥ 1 byte per input sample, rate ≥ 1 kHz → ≤ 16 outputs per byte).
        expect(d.samples.length).toBeGreaterThan(0);
        expect(d.samples.length).toBeLessThanOrEqual(16 * b.length + 16);
        for (const v of d.samples) if (!Number.isFinite(v)) throw new Error(`${name}: non-finite decoded sample`);
      } catch (e) {
        if (!(e instanceof WavError)) throw new Error(`${name} (mutation ${kind}): ${(e as Error).name}: ${(e as Error).message}`);
        expect(e.message).toContain(name);
        refused++;
      }
      worstMs = Math.max(worstMs, performance.now() - t0);
    }
    // Both outcomes occur, so the fuzz exercises the decoder and the refusals, not just one of them.
    expect(decoded).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
    // Bounded work: each case is a few ms on this machine; a second means a loop ran away.
    expect(worstMs).toBeLessThan(1000);
  });
});
