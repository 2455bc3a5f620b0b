// Seeded randomness for tests. Math.random is never used: every test problem must be
// reproducible from its seed so a failure can be replayed and a fixed seed can be reasoned about
// (e.g. "no ReLU pre-activation lies within a finite-difference step of its kink").

/** A generator of uniform floats in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit-state generator, plenty for test data
 * and exactly reproducible because it uses only uint32 arithmetic (Math.imul, >>>).
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One standard-normal draw (Box–Muller); 1 − u keeps the logarithm's argument in (0, 1]. */
export function randn(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** n independent N(0, scale²) values. */
export function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const rng = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * randn(rng);
  return out;
}

/** n independent uniform values in [lo, hi). */
export function randomUniformArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const rng = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng();
  return out;
}

/** A uniform integer in [0, n) (float-scaled; fine for tests, not for GPU-reproducible sampling). */
export function randomInt(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}
