// The CPC InfoNCE loss with its K linear predictors (DESIGN §1).
//
// z [B, T, C] encoder frames, c [B, T, H] context, predW[k−1] = W_k [C, H], predB[k−1] = [C].
// Prediction p(b,t,k) = W_k c(b,t) + bias; the score of a candidate frame z' is z'·p.
// A row (k, b, t) exists when t + k < T; its positive is z(b, t+k). Row loss
// ℓ = logsumexp(scores) − score_pos; Loss = (1/K) Σ_k mean over the B·(T−k) rows of step k.

export interface InfoNceDims {
  B: number;
  T: number;
  C: number;
  H: number;
  K: number;
}

export type InfoNceMode =
  /** candidates z(b', t+k) for b' = 0..B−1; the positive is candidate b */
  | { kind: 'batch' }
  /** candidates: all B·T frames, flat index b'·T + t'; the positive is b·T + t + k */
  | { kind: 'batch-time' }
  /** candidates: the positive, then negIdx[k−1, b, t, 0..n−1] (flat frame indices b'·T + t') */
  | { kind: 'sampled'; n: number; negIdx: Uint32Array };

export interface InfoNceForward {
  loss: number;
  lossPerK: Float64Array;
  accPerK: Float64Array;
  /** [K, B, T]; 0 for invalid rows (t + k ≥ T) */
  rowLoss: Float64Array;
  /** [K, B, T] logsumexp of each row's scores; 0 for invalid rows */
  rowLse: Float64Array;
  /** [K, B, T, C], computed for every t (rows past T − k are simply unused) */
  preds: Float64Array;
}

export interface InfoNceGrads {
  dz: Float64Array;
  dc: Float64Array;
  dPredW: Float64Array[];
  dPredB: Float64Array[] | null;
  /** [K, B, T, C] gradient of the predictions (0 for invalid rows) */
  dPreds: Float64Array;
}

function validate(
  z: Float64Array,
  c: Float64Array,
  predW: Float64Array[],
  predB: Float64Array[] | null,
  dims: InfoNceDims,
  mode: InfoNceMode,
): void {
  const { B, T, C, H, K } = dims;
  if (K < 1 || T <= K) throw new RangeError(`infoNce: need 1 ≤ K < T (K=${K}, T=${T}) so every step has rows`);
  if (z.length !== B * T * C) throw new RangeError('infoNce: z shape');
  if (c.length !== B * T * H) throw new RangeError('infoNce: c shape');
  if (predW.length !== K || predW.some((w) => w.length !== C * H)) throw new RangeError('infoNce: predW shape');
  if (predB && (predB.length !== K || predB.some((b) => b.length !== C))) throw new RangeError('infoNce: predB shape');
  if (mode.kind === 'sampled') {
    if (!(mode.n >= 1) || mode.negIdx.length !== K * B * T * mode.n) throw new RangeError('infoNce: negIdx shape');
  }
}

/** preds[k, b, t, :] = W_k c(b, t) (+ bias). */
function predict(c: Float64Array, predW: Float64Array[], predB: Float64Array[] | null, dims: InfoNceDims): Float64Array {
  const { B, T, C, H, K } = dims;
  const preds = new Float64Array(K * B * T * C);
  for (let k = 0; k < K; k++) {
    const W = predW[k];
    const bias = predB ? predB[k] : null;
    for (let bt = 0; bt < B * T; bt++) {
      const out = (k * B * T + bt) * C;
      for (let i = 0; i < C; i++) {
        let acc = bias ? bias[i] : 0;
        for (let j = 0; j < H; j++) acc += W[i * H + j] * c[bt * H + j];
        preds[out + i] = acc;
      }
    }
  }
  return preds;
}

/**
 * Flat frame indices (b'·T + t') of a row's candidates, the positive's slot first known by
 * `posSlot`. Shared by forward and backward so both see the same candidate list.
 */
function candidates(
  mode: InfoNceMode,
  dims: InfoNceDims,
  k: number,
  b: number,
  t: number,
  out: Uint32Array,
): { count: number; posSlot: number } {
  const { B, T } = dims;
  const pos = b * T + t + k;
  switch (mode.kind) {
    case 'batch':
      for (let bb = 0; bb < B; bb++) out[bb] = bb * T + t + k;
      return { count: B, posSlot: b };
    case 'batch-time':
      for (let f = 0; f < B * T; f++) out[f] = f;
      return { count: B * T, posSlot: pos };
    case 'sampled': {
      const base = (((k - 1) * B + b) * T + t) * mode.n;
      out[0] = pos;
      for (let j = 0; j < mode.n; j++) {
        const f = mode.negIdx[base + j];
        if (f >= B * T) throw new RangeError(`infoNce: negIdx ${f} ≥ B·T = ${B * T}`);
        out[1 + j] = f;
      }
      return { count: mode.n + 1, posSlot: 0 };
    }
  }
}

function maxCandidates(mode: InfoNceMode, dims: InfoNceDims): number {
  return mode.kind === 'batch' ? dims.B : mode.kind === 'batch-time' ? dims.B * dims.T : mode.n + 1;
}

/** Scores z(f)·p for the row's candidates, into `scores`. */
function scoreRow(
  z: Float64Array,
  preds: Float64Array,
  pOff: number,
  C: number,
  cand: Uint32Array,
  count: number,
  scores: Float64Array,
): void {
  for (let s = 0; s < count; s++) {
    const zOff = cand[s] * C;
    let acc = 0;
    for (let i = 0; i < C; i++) acc += z[zOff + i] * preds[pOff + i];
    scores[s] = acc;
  }
}

/** logsumexp with the max subtracted, so scores of magnitude 1e4 neither overflow nor vanish. */
function logSumExp(scores: Float64Array, count: number): number {
  let m = -Infinity;
  for (let s = 0; s < count; s++) if (scores[s] > m) m = scores[s];
  let sum = 0;
  for (let s = 0; s < count; s++) sum += Math.exp(scores[s] - m);
  return m + Math.log(sum);
}

export function infoNceForward(
  z: Float64Array,
  c: Float64Array,
  predW: Float64Array[],
  predB: Float64Array[] | null,
  dims: InfoNceDims,
  mode: InfoNceMode,
): InfoNceForward {
  validate(z, c, predW, predB, dims, mode);
  const { B, T, C, K } = dims;
  const preds = predict(c, predW, predB, dims);
  const rowLoss = new Float64Array(K * B * T);
  const rowLse = new Float64Array(K * B * T);
  const lossPerK = new Float64Array(K);
  const accPerK = new Float64Array(K);
  const cand = new Uint32Array(maxCandidates(mode, dims));
  const scores = new Float64Array(cand.length);
  for (let k = 1; k <= K; k++) {
    let sum = 0;
    let correct = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t + k < T; t++) {
        const row = ((k - 1) * B + b) * T + t;
        const { count, posSlot } = candidates(mode, dims, k, b, t, cand);
        scoreRow(z, preds, row * C, C, cand, count, scores);
        const lse = logSumExp(scores, count);
        const sPos = scores[posSlot];
        rowLse[row] = lse;
        rowLoss[row] = lse - sPos;
        sum += lse - sPos;
        // Ties count as correct: with all-zero scores every row is "right".
        let best = true;
        for (let s = 0; s < count; s++) if (s !== posSlot && scores[s] > sPos) best = false;
        if (best) correct++;
      }
    }
    const rows = B * (T - k);
    lossPerK[k - 1] = sum / rows;
    accPerK[k - 1] = correct / rows;
  }
  let loss = 0;
  for (let k = 0; k < K; k++) loss += lossPerK[k];
  loss /= K;
  return { loss, lossPerK, accPerK, rowLoss, rowLse, preds };
}

/**
 * dℓ/dscore_s = softmax_s − [s = posSlot]; each row of step k carries weight dLoss / (K·B·(T−k)).
 * A candidate frame that appears in several slots (a sampled duplicate of the positive, say)
 * receives the gradient of every slot.
 */
export function infoNceBackward(
  z: Float64Array,
  c: Float64Array,
  predW: Float64Array[],
  predB: Float64Array[] | null,
  dims: InfoNceDims,
  mode: InfoNceMode,
  dLoss = 1,
): InfoNceGrads {
  validate(z, c, predW, predB, dims, mode);
  const { B, T, C, H, K } = dims;
  const preds = predict(c, predW, predB, dims);
  const dz = new Float64Array(B * T * C);
  const dc = new Float64Array(B * T * H);
  const dPreds = new Float64Array(K * B * T * C);
  const dPredW = Array.from({ length: K }, () => new Float64Array(C * H));
  const dPredB = predB ? Array.from({ length: K }, () => new Float64Array(C)) : null;
  const cand = new Uint32Array(maxCandidates(mode, dims));
  const scores = new Float64Array(cand.length);
  for (let k = 1; k <= K; k++) {
    const w = dLoss / (K * B * (T - k));
    for (let b = 0; b < B; b++) {
      for (let t = 0; t + k < T; t++) {
        const row = ((k - 1) * B + b) * T + t;
        const pOff = row * C;
        const { count, posSlot } = candidates(mode, dims, k, b, t, cand);
        scoreRow(z, preds, pOff, C, cand, count, scores);
        const lse = logSumExp(scores, count);
        for (let s = 0; s < count; s++) {
          const g = w * (Math.exp(scores[s] - lse) - (s === posSlot ? 1 : 0));
          const zOff = cand[s] * C;
          for (let i = 0; i < C; i++) {
            dPreds[pOff + i] += g * z[zOff + i];
            dz[zOff + i] += g * preds[pOff + i];
          }
        }
      }
    }
  }
  // Back through the predictors: rows past T − k have dPreds = 0 and contribute nothing.
  for (let k = 0; k < K; k++) {
    const W = predW[k];
    const dW = dPredW[k];
    const dBk = dPredB ? dPredB[k] : null;
    for (let bt = 0; bt < B * T; bt++) {
      const pOff = (k * B * T + bt) * C;
      for (let i = 0; i < C; i++) {
        const g = dPreds[pOff + i];
        if (dBk) dBk[i] += g;
        for (let j = 0; j < H; j++) {
          dW[i * H + j] += g * c[bt * H + j];
          dc[bt * H + j] += g * W[i * H + j];
        }
      }
    }
  }
  return { dz, dc, dPredW, dPredB, dPreds };
}

/**
 * PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", JCGT 2020): one round of a
 * PCG-RXS-M-XS on a 32-bit state. Pure uint32 arithmetic (multiply mod 2^32, add, shift, xor),
 * so WGSL `u32` math reproduces it bit for bit:
 *   state = v * 747796405u + 2891336453u;
 *   word  = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
 *   return (word >> 22u) ^ word;
 */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * The j-th negative of row `row` (row = ((k−1)·B + b)·T + t) as a flat frame index in [0, B·T):
 *   h = pcgHash(pcgHash(pcgHash(seed) ^ row) ^ j);   index = h % (B·T)
 * Stateless, so a GPU thread per (row, j) draws it without any sequential PRNG state.
 * The modulo's bias is below B·T / 2^32 (< 1e-5 for B·T ≤ 40 000), negligible for negatives.
 */
export function negativeIndex(seed: number, row: number, j: number, frames: number): number {
  const h = pcgHash((pcgHash((pcgHash(seed) ^ row) >>> 0) ^ j) >>> 0);
  return h % frames;
}

/**
 * negIdx [K, B, T, n] for the 'sampled' mode: uniform flat frame indices b'·T + t' in [0, B·T),
 * drawn for every row (invalid rows too, so the layout is dense and index math stays trivial).
 * A draw equal to the positive is kept as a negative, as CPC_audio does.
 * shared: row ((k−1)·B + b)·T + t draws with r = b·T + t instead of the row, so all K steps of a
 * position (b, t) score the same n negatives — CPC_audio's sampling (one set per window position).
 */
export function sampleNegatives(seed: number, dims: { B: number; T: number; K: number }, n: number, shared = false): Uint32Array {
  const { B, T, K } = dims;
  const frames = B * T;
  if (frames > 2 ** 32 - 1) throw new RangeError('sampleNegatives: B·T too large for uint32 indices');
  const rows = K * B * T;
  const out = new Uint32Array(rows * n);
  for (let row = 0; row < rows; row++) {
    const r = shared ? row % frames : row;
    for (let j = 0; j < n; j++) out[row * n + j] = negativeIndex(seed, r, j, frames);
  }
  return out;
}
