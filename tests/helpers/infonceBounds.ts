// Per-element error bounds for the fused InfoNCE kernels, derived from the f32 error model of each
// step of the computation. This is NOT a second oracle: it uses the oracle's float64 preds, scores and
// logsumexps only to size the tolerances. Notation: u = 2^-24, γ_n = n·u/(1 − n·u) (Higham §3.1),
// WGSL accuracy of exp: 3 + 2|x| ULP, of log: 2^-21 absolute on [0.5, 2] else 3 ULP; 1 ULP ≤ 2u·|v|.
//
// Score of row r, candidate j: s_rj = z_j·p_r, C products summed in f32, on predictions p̃ = p + Δp
// with |Δp_i| ≤ dp_i (the predictor's own bound, 0 if preds are exact):
//   E_rj = γ_C Σ_i |z_ji p_ri| + Σ_i |z_ji| dp_ri                                           (1)
// logsumexp is 1-Lipschitz in max-norm, so exact-function error ≤ E_r = max_j E_rj. Evaluating it
// online in f32 adds (x_j = s_j − m ≤ 0, m the max, S = Σ_j e^{x_j} ≥ 1):
//   exp of each term: Σ_j e^{x_j} (3 + 2|x_j|) 2u ≤ 6u·NC absolute on S, i.e. ≤ 6u·NC relative
//   each rescale s·exp(m_old − m_new): (3 + 2Δm) 2u relative, summed over 2⌈NC/8⌉ absorbs and
//     Σ Δm ≤ X (the row's score range):  2u (3·2⌈NC/8⌉ + 2X)
//   the f32 sum of NC terms: γ_NC relative
//   δ_S = 6u·NC + 2u(6⌈NC/8⌉ + 2X) + γ_NC,     log: |Δ log S| ≤ δ_S + max(2^-21, 6u·|log S|)       (2)
//   |Δ lse| ≤ E_r + |Δ log S| + u|lse|,   |Δ loss| ≤ 2E_r + |Δ log S| + u(|m − pos| + |loss|)          (3)
// Softmax σ_j = exp(s_j − lse): the argument carries E_rj + |Δlse| + u|x| error, exp adds
// (3 + 2|x|)·2u relative, so |Δσ_j| ≤ σ_j (E_rj + |Δlse| + 2u(4 + 3|x_j|)) to first order.      (4)
// dS_rj = w_k (σ_j − [j = pos]) (w_k rounded: u relative). Then for the two reductions
//   dP_r = Σ_j dS_rj z_j:      |Δ| ≤ w Σ_j |Δσ_j||z_j| + (γ_NC + u) w Σ_j |σ_j − δ_j||z_j|
//   dZ_f = Σ_(r,j)→f dS_rj p_r: |Δ| ≤ Σ w |Δσ_j||p_r| + Σ w|σ_j − δ_j| dp_r + (γ_n + u) Σ w|σ_j − δ_j||p_r|
// with n the number of terms of the frame (n ≤ rows·NC). Metrics: a mean of per-row bounds plus
// γ_count of the summed |loss|.
import type { InfoNceDims, InfoNceMode } from '../reference/index.ts';
import { U32, gamma } from './infonceCheck.ts';

export interface InfoNceBounds {
  rowLse: Float64Array;
  rowLoss: Float64Array;
  lossPerK: Float64Array;
  loss: number;
  dPreds: Float64Array;
  dZ: Float64Array;
  /** rows whose positive beats (or loses to) the best other by less than the score error: either answer is right */
  ambiguousPerK: Float64Array;
  /** per row: 1 if the oracle's positive wins (ties included), else 0; NaN on invalid rows */
  oracleHit: Float64Array;
}

/** Flat frame indices of a row's candidates and the positive's slot (the oracle's definition). */
export function rowCandidates(mode: InfoNceMode, dims: InfoNceDims, k: number, b: number, t: number): { frames: number[]; posSlot: number } {
  const { B, T } = dims;
  if (mode.kind === 'batch') return { frames: Array.from({ length: B }, (_, bb) => bb * T + t + k), posSlot: b };
  if (mode.kind === 'batch-time') return { frames: Array.from({ length: B * T }, (_, f) => f), posSlot: b * T + t + k };
  const base = (((k - 1) * B + b) * T + t) * mode.n;
  return { frames: [b * T + t + k, ...Array.from(mode.negIdx.subarray(base, base + mode.n))], posSlot: 0 };
}

/**
 * @param preds oracle predictions [K,B,T,C]; @param dPredsBound |Δp| bound per element (zeros if the
 * GPU got exact predictions); @param rowLse the oracle's.
 */
export function infoNceBounds(
  z: Float64Array, preds: Float64Array, dPredsBound: Float64Array, rowLse: Float64Array,
  dims: InfoNceDims, mode: InfoNceMode,
): InfoNceBounds {
  const { B, T, C, K } = dims;
  const u = U32;
  const bLse = new Float64Array(K * B * T), bLoss = new Float64Array(K * B * T);
  const bDP = new Float64Array(K * B * T * C), bDZ = new Float64Array(B * T * C);
  const dzTerms = new Float64Array(B * T), dzMag = new Float64Array(B * T * C);
  const lossPerK = new Float64Array(K), ambiguous = new Float64Array(K);
  const oracleHit = new Float64Array(K * B * T).fill(NaN);
  let loss = 0, lossAbs = 0;
  for (let k = 1; k <= K; k++) {
    const w = 1 / (K * B * (T - k));
    let sumBound = 0, sumAbs = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t + k < T; t++) {
        const row = ((k - 1) * B + b) * T + t;
        const pOff = row * C;
        const { frames, posSlot } = rowCandidates(mode, dims, k, b, t);
        const NC = frames.length;
        const s = new Float64Array(NC), E = new Float64Array(NC);
        for (let j = 0; j < NC; j++) {
          const zOff = frames[j]! * C;
          let acc = 0, mag = 0, pe = 0;
          for (let i = 0; i < C; i++) {
            acc += z[zOff + i]! * preds[pOff + i]!;
            mag += Math.abs(z[zOff + i]! * preds[pOff + i]!);
            pe += Math.abs(z[zOff + i]!) * dPredsBound[pOff + i]!;
          }
          s[j] = acc;
          E[j] = gamma(C) * mag + pe;                                                   // (1)
        }
        let m = -Infinity, lo = Infinity, Er = 0, other = -Infinity;
        for (let j = 0; j < NC; j++) {
          m = Math.max(m, s[j]!); lo = Math.min(lo, s[j]!); Er = Math.max(Er, E[j]!);
          if (j !== posSlot) other = Math.max(other, s[j]!);
        }
        const lse = rowLse[row]!;
        const logS = lse - m;
        const deltaS = 6 * u * NC + 2 * u * (6 * Math.ceil(NC / 8) + 2 * (m - lo)) + gamma(NC);
        const dLog = deltaS + Math.max(2 ** -21, 6 * u * Math.abs(logS));            // (2)
        const pos = s[posSlot]!;
        bLse[row] = Er + dLog + u * Math.abs(lse);                                     // (3)
        bLoss[row] = 2 * Er + dLog + u * (Math.abs(m - pos) + Math.abs(lse - pos));
        sumBound += bLoss[row]!;
        sumAbs += Math.abs(lse - pos);
        const margin = pos - other;
        oracleHit[row] = margin >= 0 ? 1 : 0;
        if (Math.abs(margin) <= 2 * Er) ambiguous[k - 1]++;
        for (let j = 0; j < NC; j++) {
          const x = s[j]! - lse;
          const sigma = Math.exp(x);
          const g = Math.abs(sigma - (j === posSlot ? 1 : 0));
          const dSigma = sigma * (E[j]! + bLse[row]! + 2 * u * (4 + 3 * Math.abs(x)));  // (4)
          const f = frames[j]!;
          const zOff = f * C;
          for (let i = 0; i < C; i++) {
            bDP[pOff + i] += w * (dSigma + (gamma(NC) + u) * g) * Math.abs(z[zOff + i]!);
            bDZ[zOff + i] += w * (dSigma * Math.abs(preds[pOff + i]!) + g * dPredsBound[pOff + i]!);
            dzMag[zOff + i] += w * g * Math.abs(preds[pOff + i]!);
          }
          dzTerms[f]++;
        }
      }
    }
    const count = B * (T - k);
    lossPerK[k - 1] = sumBound / count + gamma(count) * (sumAbs / count) + u * (sumAbs / count);
    loss += lossPerK[k - 1]!;
    lossAbs += sumAbs / count;
  }
  for (let f = 0; f < B * T; f++) {
    for (let i = 0; i < C; i++) bDZ[f * C + i] += (gamma(Math.max(1, dzTerms[f]!)) + u) * dzMag[f * C + i]!;
  }
  return {
    rowLse: bLse, rowLoss: bLoss, lossPerK, loss: loss / K + (gamma(K) + u) * lossAbs / K,
    dPreds: bDP, dZ: bDZ, ambiguousPerK: ambiguous, oracleHit,
  };
}
