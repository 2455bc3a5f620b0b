// One-layer torch.nn.GRU (batch_first), gate order (r, z, n) in every [3H, ·] tensor:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)
//   z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))     ← b_hn sits inside r ⊙ (…), unlike b_in
//   h' = (1 − z) ⊙ n + z ⊙ h
// x [B, T, Cin], h0 [B, H] (null = zeros), output h [B, T, H] (the state after every step).

export interface GruParams {
  /** [3H, Cin] */
  weightIh: Float64Array;
  /** [3H, H] */
  weightHh: Float64Array;
  /** [3H] */
  biasIh: Float64Array;
  /** [3H] */
  biasHh: Float64Array;
}

export interface GruDims {
  B: number;
  T: number;
  Cin: number;
  H: number;
}

export interface GruCache {
  x: Float64Array;
  h0: Float64Array;
  p: GruParams;
  dims: GruDims;
  /** outputs [B, T, H] */
  h: Float64Array;
  /** gates after their nonlinearity, [B, T, H] each */
  r: Float64Array;
  z: Float64Array;
  n: Float64Array;
  /** W_hn h + b_hn, [B, T, H]: needed for dr, and what a kernel must keep besides the gates */
  hn: Float64Array;
}

export interface GruGrads {
  dx: Float64Array;
  dh0: Float64Array;
  dWeightIh: Float64Array;
  dWeightHh: Float64Array;
  dBiasIh: Float64Array;
  dBiasHh: Float64Array;
}

const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));

export function gruForward(
  x: Float64Array,
  h0: Float64Array | null,
  p: GruParams,
  dims: GruDims,
): { h: Float64Array; cache: GruCache } {
  const { B, T, Cin, H } = dims;
  if (x.length !== B * T * Cin) throw new RangeError('gru: x shape');
  if (h0 && h0.length !== B * H) throw new RangeError('gru: h0 shape');
  if (p.weightIh.length !== 3 * H * Cin || p.weightHh.length !== 3 * H * H) throw new RangeError('gru: weight shape');
  if (p.biasIh.length !== 3 * H || p.biasHh.length !== 3 * H) throw new RangeError('gru: bias shape');
  const hInit = h0 ? Float64Array.from(h0) : new Float64Array(B * H);
  const h = new Float64Array(B * T * H);
  const r = new Float64Array(B * T * H);
  const z = new Float64Array(B * T * H);
  const n = new Float64Array(B * T * H);
  const hn = new Float64Array(B * T * H);
  const gi = new Float64Array(3 * H);
  const gh = new Float64Array(3 * H);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const xOff = (b * T + t) * Cin;
      const prev = t === 0 ? hInit : h;
      const prevOff = t === 0 ? b * H : (b * T + t - 1) * H;
      for (let j = 0; j < 3 * H; j++) {
        let ai = p.biasIh[j];
        for (let c = 0; c < Cin; c++) ai += p.weightIh[j * Cin + c] * x[xOff + c];
        let ah = p.biasHh[j];
        for (let c = 0; c < H; c++) ah += p.weightHh[j * H + c] * prev[prevOff + c];
        gi[j] = ai;
        gh[j] = ah;
      }
      const o = (b * T + t) * H;
      for (let j = 0; j < H; j++) {
        const rj = sigmoid(gi[j] + gh[j]);
        const zj = sigmoid(gi[H + j] + gh[H + j]);
        const nj = Math.tanh(gi[2 * H + j] + rj * gh[2 * H + j]);
        r[o + j] = rj;
        z[o + j] = zj;
        n[o + j] = nj;
        hn[o + j] = gh[2 * H + j];
        h[o + j] = (1 - zj) * nj + zj * prev[prevOff + j];
      }
    }
  }
  return { h, cache: { x, h0: hInit, p, dims, h, r, z, n, hn } };
}

/**
 * Backpropagation through time. dh [B, T, H] is the loss gradient of every output; dhT [B, H]
 * (optional) an extra gradient on the final state — it is the same tensor as h[:, T−1], so it
 * simply adds to dh there.
 */
export function gruBackward(cache: GruCache, dh: Float64Array, dhT: Float64Array | null = null): GruGrads {
  const { x, h0, p, dims, h, r, z, n, hn } = cache;
  const { B, T, Cin, H } = dims;
  if (dh.length !== B * T * H) throw new RangeError('gru: dh shape');
  if (dhT && dhT.length !== B * H) throw new RangeError('gru: dhT shape');
  const dx = new Float64Array(B * T * Cin);
  const dh0 = new Float64Array(B * H);
  const dWeightIh = new Float64Array(3 * H * Cin);
  const dWeightHh = new Float64Array(3 * H * H);
  const dBiasIh = new Float64Array(3 * H);
  const dBiasHh = new Float64Array(3 * H);
  const carry = new Float64Array(H); // dL/dh_t flowing back from step t+1
  const dPrev = new Float64Array(H);
  const dgi = new Float64Array(3 * H); // gradient of W_i· x + b_i· (pre-activations)
  const dgh = new Float64Array(3 * H); // gradient of W_h· h + b_h·
  for (let b = 0; b < B; b++) {
    carry.fill(0);
    if (dhT) for (let j = 0; j < H; j++) carry[j] = dhT[b * H + j];
    for (let t = T - 1; t >= 0; t--) {
      const o = (b * T + t) * H;
      const prev = t === 0 ? h0 : h;
      const prevOff = t === 0 ? b * H : (b * T + t - 1) * H;
      for (let j = 0; j < H; j++) {
        const g = dh[o + j] + carry[j];
        const rj = r[o + j];
        const zj = z[o + j];
        const nj = n[o + j];
        const dn = g * (1 - zj);
        const dzGate = g * (prev[prevOff + j] - nj);
        dPrev[j] = g * zj;
        const dnPre = dn * (1 - nj * nj);
        const drGate = dnPre * hn[o + j];
        dgi[j] = drGate * rj * (1 - rj);
        dgh[j] = dgi[j];
        dgi[H + j] = dzGate * zj * (1 - zj);
        dgh[H + j] = dgi[H + j];
        dgi[2 * H + j] = dnPre;
        dgh[2 * H + j] = dnPre * rj;
      }
      const xOff = (b * T + t) * Cin;
      for (let k = 0; k < 3 * H; k++) {
        const gi = dgi[k];
        const gh = dgh[k];
        dBiasIh[k] += gi;
        dBiasHh[k] += gh;
        for (let c = 0; c < Cin; c++) {
          dWeightIh[k * Cin + c] += gi * x[xOff + c];
          dx[xOff + c] += gi * p.weightIh[k * Cin + c];
        }
        for (let c = 0; c < H; c++) {
          dWeightHh[k * H + c] += gh * prev[prevOff + c];
          dPrev[c] += gh * p.weightHh[k * H + c];
        }
      }
      carry.set(dPrev);
    }
    for (let j = 0; j < H; j++) dh0[b * H + j] = carry[j];
  }
  return { dx, dh0, dWeightIh, dWeightHh, dBiasIh, dBiasHh };
}
