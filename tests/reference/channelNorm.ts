// CPC_audio's ChannelNorm (Rivière et al. 2020, cpc/model.py): every frame (b, t) is normalised
// over its C channels, with torch.var's default UNBIASED variance (divide by C − 1), then scaled
// and shifted per channel. Unlike LayerNorm the variance is unbiased, and unlike BatchNorm there
// are no running statistics, so train and eval compute the same thing. Layout x [B, C, T].

export interface ChannelNormDims {
  B: number;
  C: number;
  T: number;
}

export const CHANNEL_NORM_EPS = 1e-5;

/**
 * y[b,c,t] = (x[b,c,t] − μ[b,t]) · rstd[b,t] · γ[c] + β[c], rstd = 1/sqrt(σ²_unbiased + eps).
 * Also returns mean and rstd [B, T] (what a fused kernel would save for the backward).
 */
export function channelNormForward(
  x: Float64Array,
  gamma: Float64Array,
  beta: Float64Array,
  dims: ChannelNormDims,
  eps = CHANNEL_NORM_EPS,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const { B, C, T } = dims;
  if (C < 2) throw new RangeError('channelNorm: the unbiased variance needs C ≥ 2');
  if (x.length !== B * C * T || gamma.length !== C || beta.length !== C) {
    throw new RangeError('channelNorm: shape mismatch');
  }
  const y = new Float64Array(x.length);
  const mean = new Float64Array(B * T);
  const rstd = new Float64Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const base = b * C * T + t;
      let s = 0;
      for (let c = 0; c < C; c++) s += x[base + c * T];
      const mu = s / C;
      // Two-pass variance: the float64 oracle should not inherit E[x²] − E[x]² cancellation.
      let ss = 0;
      for (let c = 0; c < C; c++) {
        const d = x[base + c * T] - mu;
        ss += d * d;
      }
      const r = 1 / Math.sqrt(ss / (C - 1) + eps);
      mean[b * T + t] = mu;
      rstd[b * T + t] = r;
      for (let c = 0; c < C; c++) {
        const i = base + c * T;
        y[i] = (x[i] - mu) * r * gamma[c] + beta[c];
      }
    }
  }
  return { y, mean, rstd };
}

/**
 * With x̂ = (x − μ)·r and g = dy·γ, per frame:
 *   dx_i = r·(g_i − mean_c g_c) − r·x̂_i · (Σ_c g_c x̂_c) / (C − 1)
 * (the C − 1 comes from dσ²/dx_i = 2(x_i − μ)/(C − 1); the mean's own derivative cancels there).
 * dγ_c = Σ_{b,t} dy·x̂, dβ_c = Σ_{b,t} dy.
 */
export function channelNormBackward(
  x: Float64Array,
  gamma: Float64Array,
  dy: Float64Array,
  dims: ChannelNormDims,
  eps = CHANNEL_NORM_EPS,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const { B, C, T } = dims;
  if (C < 2) throw new RangeError('channelNorm: the unbiased variance needs C ≥ 2');
  if (x.length !== B * C * T || dy.length !== x.length || gamma.length !== C) {
    throw new RangeError('channelNorm: shape mismatch');
  }
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  const xhat = new Float64Array(C);
  const g = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const base = b * C * T + t;
      let s = 0;
      for (let c = 0; c < C; c++) s += x[base + c * T];
      const mu = s / C;
      let ss = 0;
      for (let c = 0; c < C; c++) {
        const d = x[base + c * T] - mu;
        ss += d * d;
      }
      const r = 1 / Math.sqrt(ss / (C - 1) + eps);
      let gSum = 0;
      let gxSum = 0;
      for (let c = 0; c < C; c++) {
        const i = base + c * T;
        xhat[c] = (x[i] - mu) * r;
        g[c] = dy[i] * gamma[c];
        gSum += g[c];
        gxSum += g[c] * xhat[c];
        dgamma[c] += dy[i] * xhat[c];
        dbeta[c] += dy[i];
      }
      const gMean = gSum / C;
      const k = gxSum / (C - 1);
      for (let c = 0; c < C; c++) dx[base + c * T] = r * (g[c] - gMean - xhat[c] * k);
    }
  }
  return { dx, dgamma, dbeta };
}
