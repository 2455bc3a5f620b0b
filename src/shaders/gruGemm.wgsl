// The GRU's batched, GEMM-like parts (every time step at once, outside the recurrence), in units of
// quads (4 consecutive hidden units or channels; H4 = 4Q = H rounded up to 4, likewise C4, M4):
//   packWeights      repack a matrix: rows padded to 4, or transposed (optionally into gate blocks)
//   packPrevState    hPrev [B,T,H4]: h_{t−1} for every step (h0 at t = 0), the dW_hh operand
//   inputProjection  gi [M,3,H4] = x W_ihᵀ + b_ih                 (M = B·T)
//   weightGrad       dW [3H,NC] = Σ_m dGᵀ src,  db [3H] = Σ_m dG  (src = x, or hPrev)
//   inputGrad        dx [M,C] (+)= dG_ih W_ih
// Register tiling, no workgroup memory, no barriers (DESIGN §6: ~10× faster on lavapipe than
// shared-memory tiles). Measured here: every loaded component costs about the same, uniform or
// gathered, and FMAs are nearly free; so only vec4s are loaded and each feeds many FMAs.
// Out-of-range lanes and tiles clamp their indices (sums that are never stored) rather than
// returning early. The main loops have constant trip counts, so they unroll and the accumulators
// live in registers; the epilogue copies them to a `stage` array and stores from ONE rolled loop:
// lavapipe JITs a pipeline at its first dispatch, and unrolled guarded stores (4·RQ·TM of them)
// cost seconds of LLVM time per pipeline (measured: 6 s → 1 s for inputGrad).

override M: u32 = 1;
override B: u32 = 1;
override T: u32 = 1;
override C: u32 = 1;
override H: u32 = 1;
override H4: u32 = 4;
override WG: u32 = 64;

// ---------------------------------------------------------------------------------------------
// packWeights.  MODE 0: dst [ROWS, PITCH] = src [ROWS, COLS] with columns padded by 0.
// MODE 1: dst [COLS, NB, BP] with dst[o][g][j] = src[g·BR + j][o] (j < BR, else 0), PITCH = NB·BP:
// the transpose of a [NB·BR, COLS] matrix of NB gate blocks, each block padded from BR to BP.
// MODE 2: dst [COLS, PITCH] with dst[o][p] = src[p·SRC_PITCH + o] (p < ROWS, else 0): a plain
// transpose of the first COLS columns of a [ROWS, SRC_PITCH] matrix, rows padded to PITCH.
// Pads are written as 0: packed rows are read as vec4 and a pad meets sums that must not see
// garbage (0·NaN = NaN).

override ROWS: u32 = 1;
override COLS: u32 = 1;
override PITCH: u32 = 4;
override MODE: u32 = 0;
override BR: u32 = 1;
override BP: u32 = 4;
override SRC_PITCH: u32 = 1;

@group(0) @binding(0) var<storage, read_write> packSrc: array<f32>;
@group(0) @binding(1) var<storage, read_write> packDst: array<f32>;

@compute @workgroup_size(WG)
fn packWeights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  var outer = ROWS;
  if (MODE != 0u) { outer = COLS; }
  if (i >= outer * PITCH) { return; }
  let o = i / PITCH;
  let p = i % PITCH;
  var v = 0.0;
  if (MODE == 0u) {
    if (p < COLS) { v = packSrc[o * COLS + p]; }
  } else if (MODE == 1u) {
    let g = p / BP;
    let j = p % BP;
    if (j < BR) { v = packSrc[(g * BR + j) * COLS + o]; }
  } else {
    if (p < ROWS) { v = packSrc[p * SRC_PITCH + o]; }
  }
  packDst[i] = v;
}

// packPrevState: c [B,T,H], h0 [B,H] → hPrev [B,T,H4], hPrev[b,t] = t > 0 ? c[b,t−1] : h0[b].

@group(0) @binding(0) var<storage, read_write> psC: array<f32>;
@group(0) @binding(1) var<storage, read_write> psH0: array<f32>;
@group(0) @binding(2) var<storage, read_write> psOut: array<f32>;

@compute @workgroup_size(WG)
fn packPrevState(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= B * T * H4) { return; }
  let m = i / H4;
  let j = i % H4;
  let b = m / T;
  let t = m % T;
  var v = 0.0;
  if (j < H) {
    if (t > 0u) { v = psC[(m - 1u) * H + j]; } else { v = psH0[b * H + j]; }
  }
  psOut[i] = v;
}

// ---------------------------------------------------------------------------------------------
// The three GEMMs share one core, an outer product accumulated over a reduction index r:
//   acc[i, j] = Σ_r A[r, i] · B[r, j]
// with both operands stored row-major in r (so each step reads one contiguous row of each). An
// invocation owns RQ consecutive quads of i (per-lane vec4 loads of A) and the workgroup owns TM
// columns j (TM/4 vec4 loads of B at workgroup-uniform addresses): per r it loads RQ + TM/4 vec4
// and does 4·RQ·TM FMAs. Measured on lavapipe this form beats the row-times-column form by ~2× at
// equal loads per FMA, so operands are repacked (transposed) to fit it:
//   inputProjection  r = c:       A = W_ihᵀ [C, 3H4]       B = xᵀ [C, M4]        → gi [M, 3, H4]
//   weightGrad       r = m:       A = dGates [M, 4H4]      B = x or hPrev [M, SP] → dW [3H, NC], db
//   inputGrad        r = (g, j):  A = W_ih [3H, C4]        B = dG_ihᵀ [3H4, M4]   → dx [M, C]
// Sum over r in order: deterministic.

override R: u32 = 1;
/** Row pitches of A and B in vec4. */
override AQ: u32 = 1;
override BQ: u32 = 1;
/** Quads of i (A columns) in use. */
override IQ: u32 = 1;
/** A's row for r: 0 = r; 1 = gate row (r / H4)·H + min(r % H4, H − 1) (padded units → dG = 0). */
override A_ROWS: u32 = 0;
/** A's quad for i-quad iq: 0 = iq; 1 = the hidden-weight map (gate 2 → dGates block 3). */
override A_COLS: u32 = 0;
override RQ: u32 = 1;
override TM: u32 = 16;
const MAX_RQ = 4u;
const MAX_TM = 16u;

@group(0) @binding(0) var<storage, read_write> gA4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> gB4: array<vec4<f32>>;

struct TileSums {
  /** acc[jj·MAX_RQ + rr]: the 4 i of quad iq0 + rr at column j0 + jj. */
  acc: array<vec4<f32>, MAX_RQ * MAX_TM>,
  /** Σ_r A[r, quad]: the bias gradient when A = dGates. */
  asum: array<vec4<f32>, MAX_RQ>,
}

/** A's vec4 column for i-quad iq (clamped into range: its sums are never stored). */
fn gemmACol(iq0: u32) -> u32 {
  let iq = min(iq0, IQ - 1u);
  if (A_COLS == 1u && iq >= 2u * (H4 / 4u)) { return iq + H4 / 4u; }
  return iq;
}

/** A's row for reduction index r. */
fn gemmARow(r: u32) -> u32 {
  if (A_ROWS == 1u) { return (r / H4) * H + min(r % H4, H - 1u); }
  return r;
}

fn tnTile(iq0: u32, j0: u32) -> TileSums {
  var t = TileSums();
  var aCol = array<u32, MAX_RQ>();
  for (var rr = 0u; rr < RQ; rr++) { aCol[rr] = gemmACol(iq0 + rr); }
  let jq0 = j0 / 4u;
  for (var r = 0u; r < R; r++) {
    let aRow = gemmARow(r);
    var a = array<vec4<f32>, MAX_RQ>();
    for (var rr = 0u; rr < RQ; rr++) {
      a[rr] = gA4[aRow * AQ + aCol[rr]];
      t.asum[rr] += a[rr];
    }
    for (var jj = 0u; jj < TM / 4u; jj++) {
      // Columns past B's row clamp (in bounds, uniform); their sums are never stored.
      let v = gB4[r * BQ + min(jq0 + jj, BQ - 1u)];
      for (var rr = 0u; rr < RQ; rr++) {
        t.acc[(4u * jj) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.x), t.acc[(4u * jj) * MAX_RQ + rr]);
        t.acc[(4u * jj + 1u) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.y), t.acc[(4u * jj + 1u) * MAX_RQ + rr]);
        t.acc[(4u * jj + 2u) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.z), t.acc[(4u * jj + 2u) * MAX_RQ + rr]);
        t.acc[(4u * jj + 3u) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.w), t.acc[(4u * jj + 3u) * MAX_RQ + rr]);
      }
    }
  }
  return t;
}

// inputProjection: A = wihT [C, 3H4], B = xT [C, M4], bih [3H] → gi4 [M, 3, H4] (pads 0).

override C4: u32 = 4;

@group(0) @binding(2) var<storage, read_write> projBias: array<f32>;
@group(0) @binding(3) var<storage, read_write> projOut4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn inputProjection(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let iq0 = (wid.x * WG + lid) * RQ;
  let j0 = wid.y * TM;
  storeProjection(iq0, j0, tnTile(iq0, j0));
}

// The epilogues take the tile's origin (RQ quads from iq0, TM columns from j0) and its sums, so the
// workgroup-memory tiles (gruGemmShared.wgsl) store through the same code.
fn storeProjection(iq0: u32, j0: u32, t: TileSums) {
  let Q = H4 / 4u;
  var stage = t.acc;
  for (var e = 0u; e < RQ * TM; e++) {
    let rr = e % RQ;
    let m = j0 + e / RQ;
    let jq = iq0 + rr;
    if (jq < 3u * Q && m < M) {
      let units = vec4<u32>(4u * (jq % Q)) + vec4<u32>(0u, 1u, 2u, 3u);
      let row = vec4<u32>((jq / Q) * H) + min(units, vec4<u32>(H - 1u));
      let bias = vec4<f32>(projBias[row.x], projBias[row.y], projBias[row.z], projBias[row.w]);
      projOut4[m * 3u * Q + jq] = select(vec4<f32>(0.0), stage[(e / RQ) * MAX_RQ + rr] + bias, units < vec4<u32>(H));
    }
  }
}

// weightGrad: A = dGates [M, 4, H4], B = src [M, SP] (x, or hPrev) → dW [3H, NC], db [3H].
// Output rows of gate g read dGates block g, except the n rows of the hidden weights (A_COLS = 1),
// which read block 3 (r ⊙ dn).

override NC: u32 = 1;

@group(0) @binding(2) var<storage, read_write> wgDW: array<f32>;
@group(0) @binding(3) var<storage, read_write> wgDB: array<f32>;

@compute @workgroup_size(WG)
fn weightGrad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let iq0 = (wid.x * WG + lid) * RQ;
  let j0 = wid.y * TM;
  storeWeightGrad(iq0, j0, tnTile(iq0, j0));
}

// The bias gradient is stored by the tiles of the first column block (j0 = 0).
fn storeWeightGrad(iq0: u32, j0: u32, t: TileSums) {
  let Q = H4 / 4u;
  var stage = t.acc;
  var bias = t.asum;
  for (var e = 0u; e < 4u * RQ * (TM + 1u); e++) {
    let u = e % 4u;
    let rr = (e / 4u) % RQ;
    let jj = e / (4u * RQ);
    let gq = iq0 + rr;
    let j = 4u * (gq % Q) + u;
    let row = (gq / Q) * H + j;
    if (gq < 3u * Q && j < H) {
      if (jj < TM) {
        if (j0 + jj < NC) { wgDW[row * NC + j0 + jj] = stage[jj * MAX_RQ + rr][u]; }
      } else if (j0 == 0u) {
        wgDB[row] = bias[rr][u];
      }
    }
  }
}

// inputGrad: A = W_ih rows padded to C4 [3H, C4], B = dG_ihᵀ [3H4, M4] → dx [M, C]
// (+ the old dx with ACCUMULATE).

override ACCUMULATE: bool = false;

@group(0) @binding(2) var<storage, read_write> igDx: array<f32>;

@compute @workgroup_size(WG)
fn inputGrad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let iq0 = (wid.x * WG + lid) * RQ;
  let j0 = wid.y * TM;
  storeInputGrad(iq0, j0, tnTile(iq0, j0));
}

fn storeInputGrad(iq0: u32, j0: u32, t: TileSums) {
  var stage = t.acc;
  for (var e = 0u; e < 4u * RQ * TM; e++) {
    let u = e % 4u;
    let rr = (e / 4u) % RQ;
    let jj = e / (4u * RQ);
    let m = j0 + jj;
    let c = 4u * (iq0 + rr) + u;
    if (m < M && c < C) {
      var v = stage[jj * MAX_RQ + rr][u];
      if (ACCUMULATE) { v += igDx[m * C + c]; }
      igDx[m * C + c] = v;
    }
  }
}
