// GRU recurrence, forward and backward through time, each ONE dispatch for all T steps.
// PyTorch equations, gate order (r, z, n):
//   r = σ(gi_r + W_hr h + b_hr),  z = σ(gi_z + W_hz h + b_hz),  n = tanh(gi_n + r ⊙ (W_hn h + b_hn)),
//   h' = (1 − z) ⊙ n + z ⊙ h,     where gi = x W_ihᵀ + b_ih comes from the batched input projection.
// A workgroup owns SPW whole sequences and loops over time itself; the only synchronisation is one
// workgroupBarrier per step inside the workgroup (the state it shares is double-buffered, so a
// step's readers never race the next step's writers).
//
// Work split: invocation `lid` owns unit quads lid, lid + WG, … (a quad = 4 consecutive hidden units,
// units padded to H4 = 4Q). Measured on lavapipe (bench/gru.ts, notes in gru.ts): every load costs
// about the same per component, uniform or gathered, and FMAs are nearly free; so each vec4 weight
// load is reused for all SPW sequences and each vec4 of shared state for all 12 (forward) or 4
// (backward) rows of the quad. A quad also lets one invocation write its state as one vec4, never
// one component of a shared vec4 (a race on compilers that store the whole vector).
// Padded units (4q + u ≥ H) read clamped weight rows and are masked to 0 before they are stored or
// shared, so they never feed a real unit.
// JIT time: lavapipe compiles a pipeline at its first dispatch, and unrolled code multiplies its
// LLVM time (seconds per pipeline). So the k-loops' bound is min(n, arrayLength(weights)) — equal to
// n, but not a constant, which keeps them rolled — and the per-sequence tails loop to a runtime
// bound over a copy of the sums. The short inner loops (gates × units × SPW) still unroll, keeping
// the sums in registers. Measured (busy machine): forward 4 s → 2 s, backward 7.6 s → 1.4 s of JIT,
// no loss of speed.

override B: u32;
override T: u32;
override H: u32;
/** H rounded up to 4. */
override H4: u32;
override WG: u32 = 64;
/** Sequences per workgroup (≤ MAX_SPW). */
override SPW: u32 = 1;
/** vec4 length of the shared state: forward 2·SPW·Q, backward 2·SPW·3Q (Q = H4 / 4). */
override SHARED_V4: u32 = 1;
/** vec4 length of the backward's per-unit g ⊙ z stash: SPW·Q. */
override STASH_V4: u32 = 1;

const MAX_SPW = 8u;

fn sigmoid4(a: vec4<f32>) -> vec4<f32> {
  return 1.0 / (1.0 + exp(-a));
}

// tanh via exp overflows to inf/inf = NaN on some drivers for |a| ≳ 44; tanh(±15) already rounds to
// ±1 in f32, so the clamp changes no result.
fn tanh4(a: vec4<f32>) -> vec4<f32> {
  return tanh(clamp(a, vec4<f32>(-15.0), vec4<f32>(15.0)));
}

fn unitMask(q: u32) -> vec4<bool> {
  return vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(H);
}

/** Row of unit 4q + u, clamped into range for padded units (whose results are masked). */
fn unitRow(q: u32, u: u32) -> u32 {
  return min(4u * q + u, H - 1u);
}

// ---------------------------------------------------------------------------------------------
// Forward.  gi4 [B,T,3,H4] = x W_ihᵀ + b_ih (pads 0), whh4 = W_hh rows padded to H4 [3H, H4],
// bhh [3H], h0 [B,H] → hOut [B,T,H] (c), saved4 [B,T,4,H4] = (r, z, n, W_hn h + b_hn).

@group(0) @binding(0) var<storage, read_write> gi4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> whh4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> bhh: array<f32>;
@group(0) @binding(3) var<storage, read_write> h0: array<f32>;
@group(0) @binding(4) var<storage, read_write> hOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> saved4: array<vec4<f32>>;

var<workgroup> hShared: array<vec4<f32>, SHARED_V4>;

fn hiddenBiasQuad(g: u32, q: u32) -> vec4<f32> {
  let v = vec4<f32>(bhh[g * H + unitRow(q, 0u)], bhh[g * H + unitRow(q, 1u)], bhh[g * H + unitRow(q, 2u)], bhh[g * H + unitRow(q, 3u)]);
  return select(vec4<f32>(0.0), v, unitMask(q));
}

@compute @workgroup_size(WG)
fn forwardRecurrence(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let b0 = wid.x * SPW;
  let nSeq = min(SPW, B - b0);
  let Q = H4 / 4u;
  let bufV4 = SPW * Q;
  // Both buffers fully written: pads and absent sequences (b ≥ B) must read as 0, never garbage.
  for (var i = lid; i < 2u * bufV4; i += WG) {
    var v = vec4<f32>(0.0);
    if (i < bufV4 && b0 + i / Q < B) {
      let b = b0 + i / Q;
      let q = i % Q;
      v = vec4<f32>(h0[b * H + unitRow(q, 0u)], h0[b * H + unitRow(q, 1u)], h0[b * H + unitRow(q, 2u)], h0[b * H + unitRow(q, 3u)]);
      v = select(vec4<f32>(0.0), v, unitMask(q));
    }
    hShared[i] = v;
  }
  workgroupBarrier();

  for (var t = 0u; t < T; t++) {
    let cur = (t & 1u) * bufV4;
    let nxt = ((t + 1u) & 1u) * bufV4;
    for (var q = lid; q < Q; q += WG) {
      // acc[(g·4 + u)·MAX_SPW + s]: gate g of unit 4q + u for sequence s.
      var acc = array<f32, 12u * MAX_SPW>();
      for (var k = 0u; k < min(Q, arrayLength(&whh4)); k++) {
        var w = array<vec4<f32>, 12>();
        for (var r = 0u; r < 12u; r++) {
          w[r] = whh4[((r / 4u) * H + unitRow(q, r % 4u)) * Q + k];
        }
        for (var s = 0u; s < SPW; s++) {
          let hk = hShared[cur + s * Q + k];
          for (var r = 0u; r < 12u; r++) {
            acc[r * MAX_SPW + s] += dot(w[r], hk);
          }
        }
      }
      let mask = unitMask(q);
      // A rolled loop (its trip count is not a constant) over a copy of the sums: unrolled per
      // sequence, this tail multiplies lavapipe's JIT time (see gruGemm.wgsl).
      var stage = acc;
      for (var s = 0u; s < nSeq; s++) {
        let b = b0 + s;
        let m = b * T + t;
        let hr = vec4<f32>(stage[s], stage[MAX_SPW + s], stage[2u * MAX_SPW + s], stage[3u * MAX_SPW + s]) + hiddenBiasQuad(0u, q);
        let hz = vec4<f32>(stage[4u * MAX_SPW + s], stage[5u * MAX_SPW + s], stage[6u * MAX_SPW + s], stage[7u * MAX_SPW + s]) + hiddenBiasQuad(1u, q);
        let hn = vec4<f32>(stage[8u * MAX_SPW + s], stage[9u * MAX_SPW + s], stage[10u * MAX_SPW + s], stage[11u * MAX_SPW + s]) + hiddenBiasQuad(2u, q);
        let r = sigmoid4(gi4[(m * 3u) * Q + q] + hr);
        let z = sigmoid4(gi4[(m * 3u + 1u) * Q + q] + hz);
        let n = tanh4(gi4[(m * 3u + 2u) * Q + q] + r * hn);
        let hPrev = hShared[cur + s * Q + q];
        let hNew = select(vec4<f32>(0.0), n + z * (hPrev - n), mask);
        hShared[nxt + s * Q + q] = hNew;
        saved4[(m * 4u) * Q + q] = r;
        saved4[(m * 4u + 1u) * Q + q] = z;
        saved4[(m * 4u + 2u) * Q + q] = n;
        saved4[(m * 4u + 3u) * Q + q] = hn;
        for (var u = 0u; u < 4u; u++) {
          if (mask[u]) { hOut[m * H + 4u * q + u] = hNew[u]; }
        }
      }
    }
    workgroupBarrier();
  }
}

// ---------------------------------------------------------------------------------------------
// Backward through time.  saved4 [B,T,4,H4], dOut [B,T,H] (= dC), hOut [B,T,H], h0 [B,H],
// whhT4 [H, 3, H4] (row c = column c of W_hh, gate blocks padded to H4), dhT [B,H] (optional)
// → dGates4 [B,T,4,H4] = (dr, dz, dn, r ⊙ dn) pre-activation gradients (pads 0), dh0 [B,H].
// dG_ih = blocks (0, 1, 2), dG_hh = blocks (0, 1, 3): the weight/bias/dx GEMMs read them.

@group(0) @binding(0) var<storage, read_write> bSaved4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> bHOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> bH0: array<f32>;
@group(0) @binding(4) var<storage, read_write> whhT4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dGates4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> dh0: array<f32>;
@group(0) @binding(7) var<storage, read_write> dhT: array<f32>;

// dgh of the step just done, [SPW][3][Q] vec4, double-buffered; and each quad's g ⊙ z, which only
// its owner reads back: together they give dL/dh_{t−1} = g ⊙ z + W_hhᵀ dgh.
var<workgroup> dghShared: array<vec4<f32>, SHARED_V4>;
var<workgroup> gzStash: array<vec4<f32>, STASH_V4>;

// Quads of units from rows of H scalars (padded units read as 0). Written out per component: a
// loop writing v[u] costs lavapipe's JIT far more (measured) than these four loads.
fn dOutQuad(base: u32, q: u32) -> vec4<f32> {
  let v = vec4<f32>(dOut[base + unitRow(q, 0u)], dOut[base + unitRow(q, 1u)], dOut[base + unitRow(q, 2u)], dOut[base + unitRow(q, 3u)]);
  return select(vec4<f32>(0.0), v, unitMask(q));
}

fn hOutQuad(base: u32, q: u32) -> vec4<f32> {
  let v = vec4<f32>(bHOut[base + unitRow(q, 0u)], bHOut[base + unitRow(q, 1u)], bHOut[base + unitRow(q, 2u)], bHOut[base + unitRow(q, 3u)]);
  return select(vec4<f32>(0.0), v, unitMask(q));
}

fn h0Quad(base: u32, q: u32) -> vec4<f32> {
  let v = vec4<f32>(bH0[base + unitRow(q, 0u)], bH0[base + unitRow(q, 1u)], bH0[base + unitRow(q, 2u)], bH0[base + unitRow(q, 3u)]);
  return select(vec4<f32>(0.0), v, unitMask(q));
}

/** Step t of sequence b for quad q, given dL/dh_t from later steps: writes dGates, dgh, g ⊙ z. */
fn backwardStep(t: u32, b: u32, s: u32, q: u32, carry: vec4<f32>, buf: u32) {
  let Q = H4 / 4u;
  let m = b * T + t;
  let g = select(vec4<f32>(0.0), dOutQuad(m * H, q) + carry, unitMask(q));
  let r = bSaved4[(m * 4u) * Q + q];
  let z = bSaved4[(m * 4u + 1u) * Q + q];
  let n = bSaved4[(m * 4u + 2u) * Q + q];
  let hn = bSaved4[(m * 4u + 3u) * Q + q];
  var hPrev: vec4<f32>;
  if (t > 0u) { hPrev = hOutQuad((m - 1u) * H, q); } else { hPrev = h0Quad(b * H, q); }
  let dnPre = g * (1.0 - z) * (1.0 - n * n);
  let dr = dnPre * hn * r * (1.0 - r);
  let dz = g * (hPrev - n) * z * (1.0 - z);
  let dnh = dnPre * r;
  dGates4[(m * 4u) * Q + q] = dr;
  dGates4[(m * 4u + 1u) * Q + q] = dz;
  dGates4[(m * 4u + 2u) * Q + q] = dnPre;
  dGates4[(m * 4u + 3u) * Q + q] = dnh;
  let row = buf + s * 3u * Q;
  dghShared[row + q] = dr;
  dghShared[row + Q + q] = dz;
  dghShared[row + 2u * Q + q] = dnh;
  gzStash[s * Q + q] = g * z;
}

/** W_hhᵀ dgh for quad q and every sequence: acc[u·MAX_SPW + s]. */
fn hiddenGradMatvec(q: u32, cur: u32) -> array<f32, 4u * MAX_SPW> {
  let Q = H4 / 4u;
  var acc = array<f32, 4u * MAX_SPW>();
  for (var k = 0u; k < min(3u * Q, arrayLength(&whhT4)); k++) {
    var w = array<vec4<f32>, 4>();
    for (var u = 0u; u < 4u; u++) {
      w[u] = whhT4[unitRow(q, u) * 3u * Q + k];
    }
    for (var s = 0u; s < SPW; s++) {
      let d = dghShared[cur + s * 3u * Q + k];
      for (var u = 0u; u < 4u; u++) {
        acc[u * MAX_SPW + s] += dot(w[u], d);
      }
    }
  }
  return acc;
}

fn backwardRun(lid: u32, b0: u32) {
  let Q = H4 / 4u;
  let bufV4 = SPW * 3u * Q;
  // Rolled loops over the sequences (trip count not a constant): see the forward.
  let nSeq = min(SPW, B - b0);
  // At t: dL/dh_{t−1} = g_t ⊙ z_t + W_hhᵀ dgh_t feeds step t − 1, or is dh0 at t = 0. At t = T there
  // is no step yet: the entry point staged dhT (or 0) in gzStash. One loop, so one inlined copy of
  // the step: LLVM time grows faster than linearly with the kernel's size (measured 7 s → 2 s).
  for (var t = T; ; t--) {
    let cur = (t & 1u) * bufV4;
    let nxt = ((t + 1u) & 1u) * bufV4;
    for (var q = lid; q < Q; q += WG) {
      var stage = array<f32, 4u * MAX_SPW>();
      if (t < T) { stage = hiddenGradMatvec(q, cur); }
      let mask = unitMask(q);
      for (var s = 0u; s < nSeq; s++) {
        let carry = gzStash[s * Q + q]
          + vec4<f32>(stage[s], stage[MAX_SPW + s], stage[2u * MAX_SPW + s], stage[3u * MAX_SPW + s]);
        if (t > 0u) {
          backwardStep(t - 1u, b0 + s, s, q, carry, nxt);
        } else {
          for (var u = 0u; u < 4u; u++) {
            if (mask[u]) { dh0[(b0 + s) * H + 4u * q + u] = carry[u]; }
          }
        }
      }
    }
    workgroupBarrier();
    if (t == 0u) { break; }
  }
}

fn backwardInit(lid: u32) {
  // Shared state fully defined: padded units and absent sequences read as 0.
  for (var i = lid; i < SHARED_V4; i += WG) {
    dghShared[i] = vec4<f32>(0.0);
  }
  for (var i = lid; i < STASH_V4; i += WG) {
    gzStash[i] = vec4<f32>(0.0);
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn backwardRecurrence(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  backwardInit(lid);
  backwardRun(lid, wid.x * SPW);
}

/** Same, with an extra gradient dhT [B,H] on the final state (it adds to dOut[:, T−1]). */
@compute @workgroup_size(WG)
fn backwardRecurrenceDhT(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  backwardInit(lid);
  let b0 = wid.x * SPW;
  let Q = H4 / 4u;
  for (var i = lid; i < SPW * Q; i += WG) {
    let b = b0 + i / Q;
    let q = i % Q;
    if (b < B) {
      let v = vec4<f32>(dhT[b * H + unitRow(q, 0u)], dhT[b * H + unitRow(q, 1u)], dhT[b * H + unitRow(q, 2u)], dhT[b * H + unitRow(q, 3u)]);
      gzStash[i] = select(vec4<f32>(0.0), v, unitMask(q));
    }
  }
  workgroupBarrier();
  backwardRun(lid, b0);
}
