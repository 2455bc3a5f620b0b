// Seeded PRNG for everything on the data path (Math.random is never used: runs must be reproducible
// from a seed, and a resumed run must draw the same batches).
//
// Generator: mulberry32 (Tommy Ettinger, public domain) — 32-bit state, one Math.imul chain per draw,
// period 2^32, passes PractRand to 2^32 bytes (its period). Plenty for picking windows and
// synthesising noise; not for cryptography. The whole state is one uint32, so saving/restoring a
// sampler is `getState()` / `setState()` of a number.

export class Rng {
  private a: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    // Mix the seed once so that nearby seeds (0, 1, 2, …) do not start on correlated streams.
    this.a = hashU32(Math.trunc(seed) >>> 0);
  }

  /** Next uniform uint32. */
  nextU32(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * Uniform integer in [0, n). Rejection sampling, so it is exactly uniform for any n ≤ 2^32
   * (the expected number of draws is < 2).
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % n;
    }
  }

  /** Standard normal (Box–Muller; the second value is discarded to keep the state simple). */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i]!;
      xs[i] = xs[j]!;
      xs[j] = t;
    }
    return xs;
  }

  getState(): number {
    return this.a;
  }

  setState(state: number): void {
    if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) throw new RangeError(`Rng.setState: state must be a uint32, got ${state}`);
    this.a = state >>> 0;
  }
}

/** A 32-bit integer hash (lowbias32, Chris Wellons) — derives independent sub-seeds from one seed. */
export function hashU32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A sub-seed for stream `tag` of `seed` (e.g. one per speaker, one per utterance). */
export function subSeed(seed: number, ...tags: number[]): number {
  let h = hashU32((Math.trunc(seed) >>> 0) ^ 0x9e3779b9);
  for (const t of tags) h = hashU32(h ^ hashU32((t >>> 0) + 0x632be5ab));
  return h;
}
