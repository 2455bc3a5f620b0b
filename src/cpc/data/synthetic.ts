// Built-in synthetic "speech": seeded, generated in memory, 16 kHz. A small source–filter
// synthesiser (Klatt-style cascade of three formant resonators) driven by
//   - speakers: fundamental frequency range, formant scaling (vocal-tract length, over the range
//     Peterson & Barney 1952 measured across men, women and children), spectral tilt of the glottal
//     source, aspiration noise level, loudness — spread over distinct grids so every speaker differs
//     from every other in several cues;
//   - phones: a seeded inventory of formant triples (voiced, vowel-like) and noise resonances
//     (unvoiced, fricative-like), plus phone 0 = silence; sequences from a sparse Markov chain,
//     durations 50–200 ms, formant transitions blended linearly over ±15 ms around each boundary.
// Made more like real speech in ways phonetics documents, each of which a single 25 ms spectral
// frame cannot resolve on its own:
//   - lexical tone (Mandarin, Thai, Yoruba…): voiced phones are vowel qualities × three tones (high
//     level, rising, falling f0 contours relative to the speaker's register); tone-mates share their
//     spectral envelope, so the tone is in the periodicity and its change over the phone. Cepstra do
//     NOT discard it here, measured: given the right vowel quality, the MFCC probe (13 + Δ + ΔΔ) picks
//     the right tone 75.1 % of the time (3 tones; the 1000-step `small` model 70.5 %) — which cue it
//     uses (low mel bands resolving the first harmonics, Δ over the contour) was not measured. A
//     waveform encoder with a context over time sees the contour too. The glottal pulse strength goes
//     as 1/√f0 so that the level does not follow the pitch (tests/data.test.ts,
//     tests/syntheticSpeech.test.ts);
//   - speaker-dependent realisation: besides the uniform tract scaling, each speaker has its own
//     ±6 % (log) offset per vowel formant (PB's non-uniform scaling, idiolect), so one speaker's
//     vowel can sit where another's neighbour does; telling them apart needs the speaker's context;
//   - carry-over coarticulation: a vowel after a voiced phone starts from a target pulled 20 % (log)
//     toward that phone's formants (context-dependent realisation);
//   - speaking rate per utterance (durations ÷ 0.8–1.25) and a per-utterance channel (a first-order
//     tilt of up to ±3 dB), as recordings differ.
// Labels: speaker per utterance, phone per 10 ms frame (the phone at the frame's centre sample).
// Default size (16 speakers × 30 utterances of 2–4 s, 30 % test: ~450 test windows of the small
// preset's 1.28 s at stride L/2) is set so the probes' 95 % intervals are a few points wide; it
// generates in ~2 s of JS.
// Everything derives from `seed` through per-speaker / per-utterance sub-seeds, so an utterance does
// not depend on the generation order or on the split.
import { ShapeError } from '../../runtime/errors.ts';
import { LABEL_HOP, SAMPLE_RATE, splitBySpeaker, labelFrames, type Dataset, type Split, type Utterance } from './dataset.ts';
import { Rng, subSeed } from './rng.ts';

export interface SyntheticOptions {
  seed?: number;
  /** Default 16. */
  speakers?: number;
  /** Default 30. */
  utterancesPerSpeaker?: number;
  /** Utterance length in seconds, uniform in [min, max]; default [2, 4]. */
  utteranceSeconds?: number | readonly [number, number];
  /** Phone classes including silence (phone 0); default 16. */
  phones?: number;
  /** Fraction of each speaker's utterances held out for test; default 0.3. */
  testFraction?: number;
}

export interface SpeakerVoice {
  /** Mean fundamental frequency (Hz). */
  f0: number;
  /** Multiplies every formant frequency (shorter vocal tract → higher formants). */
  formantScale: number;
  /** Pole of the one-pole low-pass on the glottal pulses (higher → darker voice). */
  tilt: number;
  /** Aspiration noise added to voiced excitation, relative to the pulses. */
  breath: number;
  /** Overall gain. */
  gain: number;
  /** This speaker's own realisation of each phone: log-offsets of its three formants, [P·3]. */
  phoneOffsets: Float64Array;
}

export interface PhoneSpec {
  /** Formant frequencies (Hz) for formantScale 1. */
  formants: [number, number, number];
  bandwidths: [number, number, number];
  /** 1 = voiced (pulses), 0 = unvoiced (noise); silence is 0 with amplitude ~0. */
  voicing: number;
  amplitude: number;
  /** Mean duration (ms). */
  meanMs: number;
  /** Lexical tone of a voiced phone (index into TONES), or -1 (no tone: silence, unvoiced). */
  tone: number;
  /** Phones with the same quality share formants, bandwidths and amplitude (tone-mates); silence is 0. */
  quality: number;
}

export interface SyntheticInventory {
  voices: SpeakerVoice[];
  phones: PhoneSpec[];
  /** Row-stochastic transition matrix [P, P] (row = current phone). */
  transitions: Float64Array;
}

const MIN_PHONE_MS = 50;
const MAX_PHONE_MS = 200;
/** Half-width of the formant blend around a phone boundary. Below MIN_PHONE_MS / 2, so a phone's middle is pure. */
const BLEND_MS = 15;
/** Filter coefficients are recomputed every CONTROL samples (2 ms): formants move slowly, and cos/exp per sample would dominate the cost. */
const CONTROL = 32;
/**
 * Lexical tones as f0 contours over a phone, relative to the speaker's current register (x = 0 at the
 * phone's start, 1 at its end): high level, rising, falling — three of Mandarin's four tones.
 */
const TONES: readonly ((x: number) => number)[] = [() => 1.12, (x) => 0.84 + 0.36 * x, (x) => 1.2 - 0.4 * x];
/** Per-block smoothing of the f0 target (2 ms blocks: time constant ≈ 20 ms), as the larynx cannot jump. */
const F0_SMOOTH = 0.1;
/** Half-range of a speaker's own log-offset per phone formant (idiolect: non-uniform scaling). */
const IDIOLECT = 0.06;
/** Fraction (log domain) of the previous phone's formants a voiced phone carries over (coarticulation). */
const CARRY_OVER = 0.2;
/** Half-range of the per-utterance channel tilt coefficient. */
const CHANNEL_TILT = 0.3;
/** Per-utterance speaking rate: every duration is divided by a rate uniform in this range. */
const RATE_RANGE: readonly [number, number] = [0.8, 1.25];

function resolveOptions(o: SyntheticOptions) {
  const seed = o.seed ?? 0;
  const speakers = o.speakers ?? 16;
  const utterancesPerSpeaker = o.utterancesPerSpeaker ?? 30;
  const secs = o.utteranceSeconds ?? [2, 4];
  const [minS, maxS] = typeof secs === 'number' ? [secs, secs] : secs;
  const phones = o.phones ?? 16;
  const testFraction = o.testFraction ?? 0.3;
  const op = 'createSyntheticDataset';
  const shapes = { speakers, utterancesPerSpeaker, phones, utteranceSeconds: `${minS}..${maxS}` };
  if (!Number.isInteger(speakers) || speakers < 1 || speakers > 1024) throw new ShapeError(op, `speakers must be an integer in [1, 1024]`, shapes);
  if (!Number.isInteger(utterancesPerSpeaker) || utterancesPerSpeaker < 1 || utterancesPerSpeaker > 100000) throw new ShapeError(op, `utterancesPerSpeaker must be an integer in [1, 100000]`, shapes);
  if (!Number.isInteger(phones) || phones < 2 || phones > 256) throw new ShapeError(op, `phones must be an integer in [2, 256] (phone 0 is silence)`, shapes);
  if (!(minS >= 0.1 && maxS >= minS && maxS <= 600)) throw new ShapeError(op, `utteranceSeconds must satisfy 0.1 ≤ min ≤ max ≤ 600`, shapes);
  if (!(testFraction >= 0 && testFraction < 1)) throw new ShapeError(op, `testFraction must be in [0, 1)`, { ...shapes, testFraction });
  return { seed, speakers, utterancesPerSpeaker, minS, maxS, phones, testFraction };
}

/**
 * Speaker voices and the phone inventory of a seed. Speaker cues sit on interleaved grids: f0 is
 * log-spaced over 85–255 Hz in speaker order, formant scale / tilt / breath follow independent
 * permutations, so two speakers with close f0 still differ in vocal tract and timbre.
 */
export function syntheticInventory(seed: number, numSpeakers: number, numPhones: number): SyntheticInventory {
  const rng = new Rng(subSeed(seed, 0x1a7e));
  const grid = (i: number) => (numSpeakers === 1 ? 0.5 : i / (numSpeakers - 1));
  const permA = rng.shuffle([...Array(numSpeakers).keys()]);
  const permB = rng.shuffle([...Array(numSpeakers).keys()]);
  const permC = rng.shuffle([...Array(numSpeakers).keys()]);
  const voices: SpeakerVoice[] = [];
  for (let s = 0; s < numSpeakers; s++) {
    // Vocal-tract scale over the range Peterson & Barney (1952) measured across men, women and
    // children (~0.82–1.25), on its own permutation: within a group f0 and tract length are only
    // weakly correlated, so every speaker differs from every other in several cues.
    const phoneOffsets = new Float64Array(numPhones * 3);
    for (let i = 3; i < phoneOffsets.length; i++) phoneOffsets[i] = IDIOLECT * (2 * rng.next() - 1);
    voices.push({
      f0: 85 * 3 ** (grid(s) + rng.uniform(-0.02, 0.02)),
      formantScale: 0.82 + 0.43 * grid(permA[s]!),
      tilt: 0.55 + 0.4 * grid(permB[s]!),
      breath: 0.02 + 0.2 * grid(permC[s]!),
      gain: rng.uniform(0.7, 1.0),
      phoneOffsets,
    });
  }

  const phones: PhoneSpec[] = [{ formants: [500, 1500, 2500], bandwidths: [200, 200, 200], voicing: 0, amplitude: 0.003, meanMs: 120, tone: -1, quality: 0 }];
  // Unvoiced phones take about a quarter of the inventory; the rest are vowel-like. Voiced phones are
  // vowel qualities × lexical tones: phone v of the voiced set has quality ⌊v / TONES.length⌋ and
  // tone v mod TONES.length, so phones of one quality share their formants and differ in f0 contour.
  const nUnvoiced = numPhones > 3 ? Math.max(1, Math.round((numPhones - 1) / 4)) : 0;
  const nTones = numPhones - 1 - nUnvoiced >= 2 * TONES.length ? TONES.length : 1;
  const placed: number[][] = []; // formants in log-Hz, for a minimum-distance rejection test
  let nQualities = 0;
  let quality: { formants: [number, number, number]; bandwidths: [number, number, number]; amplitude: number } | null = null;
  for (let p = 1; p < numPhones; p++) {
    const unvoiced = p > numPhones - 1 - nUnvoiced;
    const v = p - 1; // index among the voiced phones
    if (unvoiced || v % nTones === 0) {
      let best: [number, number, number] = [0, 0, 0];
      let bestDist = -1;
      // Rejection sampling with a fallback to the farthest candidate: qualities are spread as far
      // apart as the formant space allows, so they stay separable even for large inventories.
      for (let tries = 0; tries < 64; tries++) {
        const f: [number, number, number] = unvoiced
          ? [rng.uniform(1800, 2800), rng.uniform(3200, 4800), rng.uniform(5200, 7000)]
          : (() => {
              const f1 = rng.uniform(250, 900);
              const f2 = rng.uniform(Math.max(700, f1 + 250), 2600);
              const f3 = rng.uniform(Math.max(2100, f2 + 250), 3600);
              return [f1, f2, f3] as [number, number, number];
            })();
        const lf = f.map(Math.log);
        let d = Infinity;
        for (const q of placed) d = Math.min(d, Math.hypot(lf[0]! - q[0]!, lf[1]! - q[1]!, lf[2]! - q[2]!));
        if (d > bestDist) { bestDist = d; best = f; }
        if (d > 0.35) break;
      }
      placed.push(best.map(Math.log));
      nQualities++;
      quality = {
        formants: best,
        bandwidths: unvoiced ? [300, 400, 500] : [rng.uniform(60, 110), rng.uniform(80, 140), rng.uniform(120, 200)],
        amplitude: unvoiced ? rng.uniform(0.25, 0.5) : rng.uniform(0.7, 1.0),
      };
    }
    const q = quality!;
    phones.push({
      formants: [...q.formants], bandwidths: [...q.bandwidths], amplitude: q.amplitude,
      voicing: unvoiced ? 0 : 1,
      meanMs: rng.uniform(70, 150),
      tone: unvoiced ? -1 : nTones > 1 ? v % nTones : -1,
      quality: nQualities,
    });
  }

  // Sparse Markov chain: each phone has a few preferred successors (a "phonotactics"), never itself;
  // silence is rare inside an utterance.
  const P = numPhones;
  const transitions = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    const row = transitions.subarray(i * P, (i + 1) * P);
    for (let j = 1; j < P; j++) if (j !== i) row[j] = 0.05;
    const preferred = Math.min(4, P - 2);
    for (let k = 0; k < preferred; k++) {
      let j = 1 + rng.int(P - 1);
      if (j === i) j = 1 + (j % (P - 1));
      if (j !== i) row[j] = row[j]! + rng.uniform(0.5, 1.5);
    }
    if (i !== 0) row[0] = 0.03;
    let sum = 0;
    for (let j = 0; j < P; j++) sum += row[j]!;
    for (let j = 0; j < P; j++) row[j] = row[j]! / sum;
  }
  return { voices, phones, transitions };
}

interface Segment {
  phone: number;
  start: number;
  end: number;
  /** This instance's formants (speaker scale and a little per-instance variation applied). */
  formants: [number, number, number];
}

function drawDuration(rng: Rng, meanMs: number, rate = 1): number {
  const ms = Math.min(MAX_PHONE_MS, Math.max(MIN_PHONE_MS, (meanMs * rng.uniform(0.6, 1.4)) / rate));
  return Math.round((ms * SAMPLE_RATE) / 1000);
}

function pickNext(rng: Rng, transitions: Float64Array, P: number, current: number): number {
  const u = rng.next();
  let acc = 0;
  for (let j = 0; j < P; j++) {
    acc += transitions[current * P + j]!;
    if (u < acc) return j;
  }
  return P - 1;
}

/** Phone segments covering [0, n): silence at both ends, Markov-chain phones in between. */
function phoneSequence(rng: Rng, inv: SyntheticInventory, voice: SpeakerVoice, n: number): Segment[] {
  const P = inv.phones.length;
  const segs: Segment[] = [];
  const rate = rng.uniform(RATE_RANGE[0], RATE_RANGE[1]);
  const instance = (phone: number, prev: Segment | undefined): [number, number, number] => {
    const spec = inv.phones[phone]!;
    const f = spec.formants;
    // Vowel formants scale with the speaker's tract and its own realisation of the phone; fricative
    // noise bands scale less.
    const scale = phone === 0 ? 1 : spec.voicing > 0 ? voice.formantScale : 1 + 0.5 * (voice.formantScale - 1);
    const out: [number, number, number] = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      let lf = Math.log(f[k]! * scale) + (spec.voicing > 0 ? voice.phoneOffsets[phone * 3 + k]! : 0) + 0.04 * (rng.next() - 0.5);
      // Carry-over coarticulation: a vowel after another voiced phone starts from a target pulled
      // toward that phone's (the tongue has not fully left it).
      if (spec.voicing > 0 && prev && inv.phones[prev.phone]!.voicing > 0) lf = (1 - CARRY_OVER) * lf + CARRY_OVER * Math.log(prev.formants[k]!);
      out[k] = Math.min(k === 2 ? 7600 : 7000, Math.exp(lf));
    }
    return out;
  };
  let pos = 0;
  const lead = drawDuration(rng, 100);
  segs.push({ phone: 0, start: 0, end: Math.min(n, lead), formants: instance(0, undefined) });
  pos = segs[0]!.end;
  const tail = Math.min(drawDuration(rng, 100), Math.max(0, n - pos));
  let current = 1 + rng.int(P - 1);
  while (pos < n - tail) {
    const dur = drawDuration(rng, inv.phones[current]!.meanMs, rate);
    const end = Math.min(n - tail, pos + dur);
    // A leftover shorter than the minimum duration joins the previous segment instead of forming a
    // phone too short to learn from.
    if (end - pos < (MIN_PHONE_MS * SAMPLE_RATE) / 1000 && segs.length > 1) {
      segs[segs.length - 1]!.end = end;
    } else {
      segs.push({ phone: current, start: pos, end, formants: instance(current, segs[segs.length - 1]) });
    }
    pos = end;
    current = pickNext(rng, inv.transitions, P, current);
  }
  if (pos < n) segs.push({ phone: 0, start: pos, end: n, formants: instance(0, undefined) });
  return segs;
}

export interface SynthesizedUtterance {
  samples: Float32Array;
  phoneLabels: Uint16Array;
}

/** Synthesises one utterance of `n` samples for `voice` from its own seed. */
export function synthesizeUtterance(inv: SyntheticInventory, speaker: number, n: number, seed: number): SynthesizedUtterance {
  const voice = inv.voices[speaker]!;
  const rng = new Rng(seed);
  const segs = phoneSequence(rng, inv, voice, n);
  const out = new Float32Array(n);
  const sr = SAMPLE_RATE;
  const blend = Math.round((BLEND_MS * sr) / 1000);

  // Per-utterance prosody: base f0 within ±6 % of the speaker's, declining 12 % over the utterance,
  // with a slow random wander.
  const f0Base = voice.f0 * (1 + 0.06 * (2 * rng.next() - 1));
  let wander = 0;

  // Filter state: three cascaded two-pole resonators (Klatt), a one-pole glottal tilt, radiation.
  let y1a = 0, y2a = 0, y1b = 0, y2b = 0, y1c = 0, y2c = 0;
  let tiltState = 0, prevOut = 0, phase = 0, carry = 0;
  let A1 = 0, B1 = 0, C1 = 0, A2 = 0, B2 = 0, C2 = 0, A3 = 0, B3 = 0, C3 = 0;
  let voicing = 0, amp = 0, f0 = f0Base, toneF0 = 1;
  const fBuf = [0, 0, 0];
  const bBuf = [0, 0, 0];
  let seg = 0;
  const noiseScale = Math.sqrt(12);

  for (let block = 0; block < n; block += CONTROL) {
    const t = Math.min(n - 1, block + (CONTROL >> 1));
    while (seg < segs.length - 1 && t >= segs[seg]!.end) seg++;
    const cur = segs[seg]!;
    const spec = inv.phones[cur.phone]!;
    // Blend formants, voicing and amplitude linearly toward the neighbour within ±BLEND of a boundary:
    // exactly 50/50 at the boundary, pure phone in the middle.
    let other = cur;
    let w = 1;
    if (t - cur.start < blend && seg > 0) { other = segs[seg - 1]!; w = 0.5 + (0.5 * (t - cur.start)) / blend; }
    else if (cur.end - t < blend && seg < segs.length - 1) { other = segs[seg + 1]!; w = 0.5 + (0.5 * (cur.end - t)) / blend; }
    const ospec = inv.phones[other.phone]!;
    for (let k = 0; k < 3; k++) {
      fBuf[k] = w * cur.formants[k]! + (1 - w) * other.formants[k]!;
      bBuf[k] = w * spec.bandwidths[k]! + (1 - w) * ospec.bandwidths[k]!;
    }
    voicing = w * spec.voicing + (1 - w) * ospec.voicing;
    amp = w * spec.amplitude + (1 - w) * ospec.amplitude;
    wander = 0.995 * wander + 0.004 * (rng.next() - 0.5);
    // The tone's contour at this point of the phone; phones without a tone hold the register (1).
    const toneTarget = spec.tone >= 0 ? TONES[spec.tone]!((t - cur.start) / Math.max(1, cur.end - cur.start)) : 1;
    toneF0 += F0_SMOOTH * (toneTarget - toneF0);
    f0 = f0Base * (1 - (0.12 * t) / n) * (1 + wander) * toneF0;

    // Klatt resonator: y = A x + B y1 + C y2 with C = −r², B = 2r cos θ, A = 1 − B − C (unit DC gain).
    const coef = (k: number) => {
      const r = Math.exp((-Math.PI * bBuf[k]!) / sr);
      const c = -r * r;
      const b = 2 * r * Math.cos((2 * Math.PI * fBuf[k]!) / sr);
      return [1 - b - c, b, c] as const;
    };
    [A1, B1, C1] = coef(0);
    [A2, B2, C2] = coef(1);
    [A3, B3, C3] = coef(2);

    const end = Math.min(n, block + CONTROL);
    const dphase = f0 / sr;
    // Pulse strength ∝ 1/√f0 keeps the source's power independent of the pitch within an utterance:
    // unit pulses would make every rise in f0 a rise in level (power ∝ pulses per second), so the
    // frame energy would carry the tone, while loudness and pitch are set separately by the talker.
    const pulseGain = Math.sqrt(f0Base / f0);
    for (let i = block; i < end; i++) {
      // Glottal pulses: a unit impulse per period, split linearly over the two samples around the
      // fractional crossing so the pitch is not quantised to whole samples.
      let pulse = carry;
      carry = 0;
      phase += dphase;
      if (phase >= 1) {
        phase -= 1;
        const frac = phase / dphase; // how far past the crossing this sample is
        pulse += 1 - frac;
        carry = frac;
      }
      tiltState = voice.tilt * tiltState + (1 - voice.tilt) * pulse * pulseGain;
      const noise = noiseScale * (rng.next() - 0.5);
      const glottal = tiltState * 8 + voice.breath * noise * 0.3;
      const x = amp * (voicing * glottal + (1 - voicing) * noise * 0.35);
      const ya = A1 * x + B1 * y1a + C1 * y2a; y2a = y1a; y1a = ya;
      const yb = A2 * ya + B2 * y1b + C2 * y2b; y2b = y1b; y1b = yb;
      const yc = A3 * yb + B3 * y1c + C3 * y2c; y2c = y1c; y1c = yc;
      // Lip radiation ≈ first difference (+6 dB/octave), with a leak so DC cannot build up.
      out[i] = yc - 0.97 * prevOut;
      prevOut = yc;
    }
  }

  // Per-utterance channel (microphone, room, distance differ between recordings): a first-order
  // tilt y = x + c·x[-1], c uniform in ±CHANNEL_TILT (±2.3 dB at DC against ∓3.1 dB at Nyquist for
  // 0.3). It shifts the cepstra of a whole utterance alike, as real channels do.
  const tiltC = CHANNEL_TILT * (2 * rng.next() - 1);
  for (let i = n - 1; i > 0; i--) out[i] = out[i]! + tiltC * out[i - 1]!;
  if (n > 0) out[0] = out[0]! * (1 + tiltC);

  // Normalise to a per-utterance loudness (RMS 0.05–0.1 times the speaker gain, peak ≤ 0.95) plus a
  // faint noise floor (RMS 6e-5), so silence is not exactly zero.
  let ss = 0;
  for (let i = 0; i < n; i++) ss += out[i]! * out[i]!;
  const rms = Math.sqrt(ss / Math.max(1, n));
  const target = voice.gain * rng.uniform(0.05, 0.1);
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(out[i]!));
  // Scaled down rather than clipped when a loud pulse would exceed 0.95: the signal stays in [-1, 1]
  // without the broadband clicks clipping would add.
  const g = rms > 0 ? Math.min(target / rms, 0.95 / peak) : 0;
  for (let i = 0; i < n; i++) out[i] = out[i]! * g + 2e-4 * noiseScale * (rng.next() - 0.5);

  const frames = labelFrames(n);
  const phoneLabels = new Uint16Array(frames);
  let s = 0;
  for (let f = 0; f < frames; f++) {
    const centre = Math.min(n - 1, f * LABEL_HOP + (LABEL_HOP >> 1));
    while (s < segs.length - 1 && centre >= segs[s]!.end) s++;
    phoneLabels[f] = segs[s]!.phone;
  }
  return { samples: out, phoneLabels };
}

export interface SyntheticDataset extends Dataset {
  inventory: SyntheticInventory;
}

/** The built-in synthetic dataset (see the header comment); deterministic from `seed`. */
export function createSyntheticDataset(options: SyntheticOptions = {}): SyntheticDataset {
  const o = resolveOptions(options);
  const inv = syntheticInventory(o.seed, o.speakers, o.phones);
  const all: Utterance[] = [];
  for (let s = 0; s < o.speakers; s++) {
    for (let u = 0; u < o.utterancesPerSpeaker; u++) {
      const uttSeed = subSeed(o.seed, 0x0777, s, u);
      const lenRng = new Rng(uttSeed ^ 0x2545f491);
      const n = Math.round(lenRng.uniform(o.minS, o.maxS) * SAMPLE_RATE);
      const { samples, phoneLabels } = synthesizeUtterance(inv, s, n, uttSeed);
      all.push({ id: `spk${s}_utt${u}`, samples, speaker: s, phones: { labels: phoneLabels } });
    }
  }
  const split = splitBySpeaker(all, (u) => u.speaker, o.testFraction, o.seed);
  return {
    name: `synthetic(seed=${o.seed}, speakers=${o.speakers}, utterances=${o.utterancesPerSpeaker}, phones=${o.phones})`,
    sampleRate: SAMPLE_RATE,
    numSpeakers: o.speakers,
    speakerNames: inv.voices.map((_, s) => `spk${s}`),
    numPhones: o.phones,
    inventory: inv,
    utterances: (which: Split) => split[which],
  };
}
