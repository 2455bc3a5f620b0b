// Per-element error bounds for the Conv1d kernels, derived (not tuned); used by conv1d.test.ts
// (one layer, exact inputs) and encoderStack.test.ts (errors carried from layer to layer).
//
// u = 2⁻²⁴. Any sum of n rounded products, in ANY order, is within γ_n·Σ|terms| ≈ n·u·Σ|terms|
// of the exact sum (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), and an error
// Δ in an input of a sum moves it by at most Σ|coefficient|·Δ. The absolute sums come from the
// float64 oracle run on |x|, |w|, |du| and on the error vectors themselves. A wrong tap, channel,
// frame or phase moves an element by O(|value|), while these bounds stay ≤ ~1e-4 relative.
//  • conv: n = Cin·K products + bias + the output rounding → (Cin·K + 2)·u·(Σ|w||x| + |b|),
//    plus Σ|w|·Δx for an input already off by Δx.
//  • norm, per frame (δ = the frame's largest conv error, r = rstd): shifting u by δ moves
//    (u − μ) by ≤ 2δ and rstd relatively by ≤ 2·√(C/(C−1))·δ·r ≤ 3δr (Cauchy–Schwarz on
//    Σ|u − μ|); the f32 mean / variance sums add (C + 2)·u·max|u|·r and (C + 6)·u relative. So
//    Δxhat ≤ r(2δ + (C + 2)u·max|u|) + |xhat|(3δr + (C + 6)u), ×2 for inverseSqrt's ulps;
//    Δy ≤ |γ|Δxhat + 2u(|γ·xhat| + |β|) (ReLU is 1-Lipschitz).
//  • backward, g = dy·mask·γ, S₂ = Σ_c g·xhat per frame, du = r(g − Σg/C − xhat·S₂/(C − 1)):
//    rounding 2(C + 8)·u·r·(|g| + Σ|g|/C + |xhat|·Σ|g·xhat|/(C − 1)), plus carried errors
//    r·(Δg + ΣΔg/C + |xhat|·Σ(Δg|xhat| + |g|Δxhat)/(C − 1) + Δxhat·|S₂|/(C − 1)) + |du|·Δr/r.
//    Without norm du = dy·mask: exact, Δdu = Δdy (the mask must agree: see kinkCount).
//    dW, db: n = B·Tout → (n + 2)·u·Σ|x||du| + Σ(|x| + Δx)·Δdu + Σ Δx·|du|;
//    dx: n ≤ ceil(K/s)·Cout → (n + 2)·u·Σ|w||du| + Σ|w|·Δdu;
//    dγ, dβ: (n + 3)·u·Σ|dy·mask·xhat| + Σ(Δdy·|xhat| + |dy·mask|·Δxhat), (n + 2)·u·Σ|dy·mask| + ΣΔdy.
import {
  channelNormBackward, channelNormForward, conv1dBackward, conv1dForward, reluBackward, reluForward,
} from '../reference/index.ts';
import type { Conv1dDims } from '../../src/shaders/conv1d.ts';

export const U = 2 ** -24;

/**
 * f16 storage (Conv1dDims.storage / activations 'f16'): storing v as f16 rounds it to nearest,
 * |fl16(v) − v| ≤ U16·|v| + 2⁻²⁵ (unit roundoff 2⁻¹¹ for normal halves, half the subnormal
 * spacing 2⁻²⁴ below 2⁻¹⁴; no overflow: every value here is ≪ 65504). The kernels widen every f16
 * load to f32 exactly, so a stored value's error is only this rounding, carried like any input
 * error by the bounds below (`store` arguments); the f32 arithmetic terms are unchanged.
 */
export const U16 = 2 ** -11;
export const F16_ABS = 2 ** -25;
/** Rounding bound of storing `a` with unit roundoff `unit` (0: f32 storage, folded into the 2u terms). */
export function storeErr(a: ArrayLike<number>, unit: number): Float64Array {
  return Float64Array.from(a as ArrayLike<number>, (v) => (unit === 0 ? 0 : unit * Math.abs(v) + F16_ABS));
}

/** Unit roundoffs of a layer's stored tensors: y (and the conv output u the norm pass reads from y), saved xhat. */
export interface StoreUnits { y: number; saved: number }
export const F32_STORE: StoreUnits = { y: 0, saved: 0 };

/**
 * 'worst': the rigorous bounds above (ℓ1 sums, γ_n). 'stat': the standard statistical model for
 * carrying errors through a deep stack, where the worst case compounds far beyond reality (the ℓ1
 * norm of each weight row, ~√fan times its ℓ2 norm, multiplies every layer). Rounding errors of
 * a recursive sum of n random-sign terms t_k have σ ≈ u·√(n/6)·√(Σt_k²) (Σ_k ε_k·S_k with
 * |S_k|² ≈ k·Σt²/n), and independent input errors σ_x reach a sum as √(Σ w²σ_x²); all terms here
 * have random signs (weights, du and dy are zero-mean). Bounds are SIGMAS = 6 standard deviations,
 * carried as such (σ_out² = Σ w²σ_in² + σ_round²). The norm formulas stay worst-case (per frame).
 */
export type BoundMode = 'worst' | 'stat';
const SIGMAS = 6;
const sq = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, (v) => v * v);
const sqrtA = (a: Float64Array) => a.map(Math.sqrt);

/** Rounding bound of sums of n terms: worst γ_n·Σ|t| (from absSum), or SIGMAS·u·√((n + 2)/6)·√(Σt²). */
function sumErr(mode: BoundMode, n: number, absSum: Float64Array, sqSum: Float64Array): Float64Array {
  return mode === 'worst'
    ? absSum.map((v) => (n + 2) * U * v)
    : sqSum.map((v) => SIGMAS * U * Math.sqrt((n + 2) / 6) * Math.sqrt(v));
}

/** Combines a rounding bound with a carried one: added (worst) or in quadrature (stat). */
function combine(mode: BoundMode, a: Float64Array, b: Float64Array | null): Float64Array {
  if (!b) return a;
  return mode === 'worst' ? a.map((v, i) => v + b[i]!) : a.map((v, i) => Math.hypot(v, b[i]!));
}

export function abs(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a as ArrayLike<number>, Math.abs);
}

const add = (a: Float64Array, b: Float64Array | null) => (b ? a.map((v, i) => v + b[i]!) : a);

/** One layer's oracle values ([B, C, T] layouts) and its error bounds. */
export interface LayerOracle {
  d: Conv1dDims;
  x: Float64Array; w: Float64Array; b: Float64Array; gamma: Float64Array; beta: Float64Array;
  conv: Float64Array; xhat: Float64Array | null; rstd: Float64Array | null; pre: Float64Array; y: Float64Array;
  dy: Float64Array; dPre: Float64Array; du: Float64Array;
  dw: Float64Array; db: Float64Array; dx: Float64Array; dgamma: Float64Array | null; dbeta: Float64Array | null;
}

export function layerOracle(
  d: Conv1dDims, x: Float64Array, p: { w: Float64Array; b: Float64Array; gamma: Float64Array; beta: Float64Array }, dy: Float64Array,
): LayerOracle {
  const dims = { B: d.B, Cin: d.Cin, L: d.Tin, Cout: d.Cout, K: d.K, stride: d.stride };
  const nd = { B: d.B, C: d.Cout, T: d.Tout };
  const conv = conv1dForward(x, p.w, p.b, dims).y;
  const nf = d.norm ? channelNormForward(conv, p.gamma, p.beta, nd) : null;
  const pre = nf ? nf.y : conv;
  const y = reluForward(pre);
  const dPre = reluBackward(pre, dy);
  const nb = d.norm ? channelNormBackward(conv, p.gamma, dPre, nd) : null;
  const du = nb ? nb.dx : dPre;
  const g = conv1dBackward(x, p.w, du, dims);
  let xhat: Float64Array | null = null;
  if (nf) {
    const T = d.Tout, C = d.Cout;
    xhat = conv.map((v, i) => {
      const f = Math.floor(i / (C * T)) * T + (i % T);
      return (v - nf.mean[f]!) * nf.rstd[f]!;
    });
  }
  return {
    d, x, ...p, conv, xhat, rstd: nf?.rstd ?? null, pre, y, dy, dPre, du,
    dw: g.dw, db: g.db, dx: g.dx, dgamma: nb?.dgamma ?? null, dbeta: nb?.dbeta ?? null,
  };
}

function convDims(d: Conv1dDims) {
  return { B: d.B, Cin: d.Cin, L: d.Tin, Cout: d.Cout, K: d.K, stride: d.stride };
}

export interface ForwardErr {
  /** error of the norm input / pre-ReLU value (ReLU kinks are decided on it) */
  pre: Float64Array;
  y: Float64Array;
  xhat: Float64Array | null;
  rstd: Float64Array | null;
}

/** Bounds on the forward outputs given an error bound xErr on the layer input (null: exact). */
export function forwardErr(o: LayerOracle, xErr: Float64Array | null, mode: BoundMode = 'worst', store: StoreUnits = F32_STORE): ForwardErr {
  const { d } = o;
  const { B, Cout: C, Tout: T } = d;
  const dims = convDims(d);
  const n = d.Cin * d.K + 1;
  const rounding = sumErr(mode, n, conv1dForward(abs(o.x), abs(o.w), abs(o.b), dims).y, conv1dForward(sq(o.x), sq(o.w), sq(o.b), dims).y);
  const carried = !xErr ? null : mode === 'worst'
    ? conv1dForward(xErr, abs(o.w), null, dims).y
    : sqrtA(conv1dForward(sq(xErr), sq(o.w), null, dims).y);
  // With norm, the GEMM stores u = conv + bias into y and the norm pass reads it back.
  const convErr = add(combine(mode, rounding, carried), d.norm && store.y ? storeErr(o.conv, store.y) : null);
  if (!d.norm) return { pre: convErr, y: add(convErr, store.y ? storeErr(o.y, store.y) : null), xhat: null, rstd: null };
  const at = (b: number, t: number, c: number) => (b * C + c) * T + t;
  const xhatErr = new Float64Array(convErr.length);
  const preErr = new Float64Array(convErr.length);
  const rstdErr = new Float64Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    let dl = 0, uMax = 0;
    for (let c = 0; c < C; c++) {
      dl = Math.max(dl, convErr[at(b, t, c)]!);
      uMax = Math.max(uMax, Math.abs(o.conv[at(b, t, c)]!));
    }
    const r = o.rstd![b * T + t]!;
    const xh = (c: number) => o.xhat![at(b, t, c)]!;
    const de = (c: number) => convErr[at(b, t, c)]!;
    if (mode === 'worst') {
      rstdErr[b * T + t] = 2 * r * (3 * dl * r + (C + 6) * U);
    } else {
      // Δr = −r²·Σ_c xhat_c·Δu_c/(C − 1) to first order.
      let v = 0;
      for (let c = 0; c < C; c++) v += (xh(c) * de(c)) ** 2;
      rstdErr[b * T + t] = Math.hypot(r * r * Math.sqrt(v) / (C - 1), 2 * r * (C + 6) * U);
    }
    for (let c = 0; c < C; c++) {
      const i = at(b, t, c);
      const rnd = 2 * (r * (C + 2) * U * uMax + Math.abs(xh(c)) * (C + 6) * U);
      if (mode === 'worst') {
        xhatErr[i] = 2 * (r * 2 * dl + Math.abs(xh(c)) * 3 * dl * r) + rnd;
      } else {
        // Δxhat = r·P·Δu, P = I − 11ᵀ/C − xhat·xhatᵀ/(C − 1) (the norm's Jacobian over r); with
        // independent Δu_c: Var(Δxhat_i) = r²·Σ_c P_ic²·σ_c².
        let v = 0;
        for (let k = 0; k < C; k++) v += ((c === k ? 1 : 0) - 1 / C - (xh(c) * xh(k)) / (C - 1)) ** 2 * de(k) ** 2;
        xhatErr[i] = Math.hypot(r * Math.sqrt(v), rnd);
      }
      preErr[i] = Math.abs(o.gamma[c]!) * xhatErr[i]! + 2 * U * (Math.abs(o.gamma[c]! * xh(c)) + Math.abs(o.beta[c]!));
    }
  }
  // y and xhat are rounded once more when stored (y = ReLU(xhat·γ + β) is computed from the unrounded f32 xhat).
  return {
    pre: preErr, y: add(preErr, store.y ? storeErr(o.y, store.y) : null),
    xhat: add(xhatErr, store.saved ? storeErr(o.xhat!, store.saved) : null), rstd: rstdErr,
  };
}

/** Elements whose pre-activation lies within its error bound of the ReLU kink (masks may differ). */
export function kinkCount(o: LayerOracle, fe: ForwardErr): number {
  let n = 0;
  for (let i = 0; i < o.pre.length; i++) if (Math.abs(o.pre[i]!) <= fe.pre[i]!) n++;
  return n;
}

export interface BackwardErr {
  du: Float64Array; dw: Float64Array; db: Float64Array; dx: Float64Array;
  dgamma: Float64Array | null; dbeta: Float64Array | null;
}

/**
 * Bounds on the backward outputs. fe: errors of the forward values the backward reads (null when
 * it read the oracle's, f32-rounded: then only their rounding, folded into the 2u terms);
 * xErr: error of the layer input; dyErr: error of the incoming gradient.
 */
export function backwardErr(
  o: LayerOracle, fe: ForwardErr | null, xErr: Float64Array | null, dyErr: Float64Array | null, mode: BoundMode = 'worst',
  duStore = 0,
): BackwardErr {
  const { d } = o;
  const { B, Cout: C, Tout: T } = d;
  const n = B * T;
  const mask = (i: number) => (o.pre[i]! > 0 ? 1 : 0);
  const dPreErr = dyErr ? dyErr.map((v, i) => v * mask(i)) : new Float64Array(o.du.length);
  let duErr: Float64Array = dPreErr;
  let dgamma: Float64Array | null = null;
  let dbeta: Float64Array | null = null;
  if (d.norm) {
    duErr = new Float64Array(o.du.length);
    const [gAbs, gSq, gCar, bAbs, bSq, bCar] = Array.from({ length: 6 }, () => new Float64Array(C));
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
      const at = (c: number) => (b * C + c) * T + t;
      const r = o.rstd![b * T + t]!;
      const rErr = fe?.rstd ? fe.rstd[b * T + t]! : U * r;
      let sg = 0, sgx = 0, s2 = 0, sdg = 0, sdgx = 0, sgxe = 0;
      for (let c = 0; c < C; c++) {
        const i = at(c);
        const xh = Math.abs(o.xhat![i]!);
        const xe = fe?.xhat ? fe.xhat[i]! : U * xh;
        const g = o.dPre[i]! * o.gamma[c]!;
        const dg = dPreErr[i]! * Math.abs(o.gamma[c]!);
        sg += Math.abs(g);
        sgx += Math.abs(g) * xh;
        s2 += g * o.xhat![i]!;
        sdg += dg;
        sdgx += dg * xh + Math.abs(g) * xe;
        sgxe += Math.abs(g) * xe;
        const gc = dPreErr[i]! * xh + Math.abs(o.dPre[i]!) * xe;
        gAbs[c] += Math.abs(o.dPre[i]! * xh); gSq[c] += (o.dPre[i]! * xh) ** 2; gCar[c] += mode === 'worst' ? gc : gc * gc;
        bAbs[c] += Math.abs(o.dPre[i]!); bSq[c] += o.dPre[i]! ** 2; bCar[c] += mode === 'worst' ? dPreErr[i]! : dPreErr[i]! ** 2;
      }
      for (let c = 0; c < C; c++) {
        const i = at(c);
        const xh = Math.abs(o.xhat![i]!);
        const xe = fe?.xhat ? fe.xhat[i]! : U * xh;
        const g = Math.abs(o.dPre[i]! * o.gamma[c]!);
        const dg = dPreErr[i]! * Math.abs(o.gamma[c]!);
        const rnd = 2 * (C + 8) * U * r * (g + sg / C + xh * sgx / (C - 1));
        if (mode === 'worst') {
          duErr[i] = rnd + r * (dg + sdg / C + xh * sdgx / (C - 1) + xe * Math.abs(s2) / (C - 1)) + Math.abs(o.du[i]!) * rErr / r;
        } else {
          // du = r·P·g (P as in forwardErr): independent Δg_k reach du_i as r·√(Σ_k P_ik²·Δg_k²).
          let v = 0;
          for (let k = 0; k < C; k++) {
            const xk = o.xhat![at(k)]!;
            v += ((c === k ? 1 : 0) - 1 / C - (o.xhat![i]! * xk) / (C - 1)) ** 2 * (dPreErr[at(k)]! * Math.abs(o.gamma[k]!)) ** 2;
          }
          duErr[i] = Math.hypot(rnd, r * Math.sqrt(v), r * xe * Math.abs(s2) / (C - 1), r * xh * sgxe / (C - 1), Math.abs(o.du[i]!) * rErr / r);
        }
      }
    }
    const fin = (car: Float64Array) => (mode === 'worst' ? car : sqrtA(car));
    dgamma = combine(mode, sumErr(mode, n + 1, gAbs, gSq), fin(gCar));
    dbeta = combine(mode, sumErr(mode, n, bAbs, bSq), fin(bCar));
  }
  // duStore: unit roundoff of the padded du the dW / dx passes read (0 when f32 or not stored).
  if (duStore) duErr = add(duErr, storeErr(o.du, duStore));
  const dims = convDims(d);
  const jm = Math.ceil(d.K / d.stride);
  const round = (abss: ReturnType<typeof conv1dBackward>, sqs: ReturnType<typeof conv1dBackward>) => ({
    dw: sumErr(mode, n, abss.dw, sqs.dw), db: sumErr(mode, n, abss.db, sqs.db), dx: sumErr(mode, jm * C, abss.dx, sqs.dx),
  });
  const r = round(conv1dBackward(abs(o.x), abs(o.w), abs(o.du), dims), conv1dBackward(sq(o.x), sq(o.w), sq(o.du), dims));
  let carried: { dw: Float64Array; db: Float64Array; dx: Float64Array };
  if (mode === 'worst') {
    const viaDu = conv1dBackward(add(abs(o.x), xErr), abs(o.w), duErr, dims);
    const viaX = xErr ? conv1dBackward(xErr, abs(o.w), abs(o.du), dims).dw : null;
    carried = { dw: add(viaDu.dw, viaX), db: viaDu.db, dx: viaDu.dx };
  } else {
    const viaDu = conv1dBackward(sq(o.x), sq(o.w), sq(duErr), dims);
    const viaX = xErr ? conv1dBackward(sq(xErr), sq(o.w), sq(o.du), dims).dw : null;
    carried = { dw: sqrtA(add(viaDu.dw, viaX)), db: sqrtA(viaDu.db), dx: sqrtA(viaDu.dx) };
  }
  return {
    du: duErr,
    dw: combine(mode, r.dw, carried.dw),
    db: combine(mode, r.db, carried.db),
    dx: combine(mode, r.dx, carried.dx),
    dgamma, dbeta,
  };
}
