// Workgroup-memory tiled versions of predictor.wgsl's three GEMMs (the bias gradient stays there).
// Layouts are predictor.ts's: c [B·T, H], weight [K, C, H], preds / dPreds [K, B·T, C], all read as
// vec4 (C4 = C/4, H4 = H/4 quads). A workgroup of 8 × 8 invocations owns a 32 × 32 output tile of
// one head (workgroup_id.z = head); each invocation owns a 4 × 4 block (4 rows or channels × one
// quad). The reduction runs in stages: the workgroup copies both operands' stage slices into
// workgroup memory, one barrier, every invocation accumulates from there, a second barrier. Each
// global vec4 is loaded once per workgroup instead of once per invocation (8× fewer loads than the
// register tiles): what GPUs favour; on software Vulkan barriers cost more than they save (DESIGN
// §6), so predictor.wgsl's register tiles stay the default there. Out-of-range rows / quads stage
// as zeros (feeding sums never stored) and every accumulator sums its reduction index in increasing
// order: deterministic.

override T: u32;
override BT: u32;      // B·T rows of c
override C4: u32;
override H4: u32;
override K: u32;
/** Quads of the reduction staged per barrier pair. */
override KQ: u32 = 4u;

const L: u32 = 8u;            // invocations per tile side
const TILE: u32 = 32u;        // outputs per tile side (L invocations × 4)
const TQ: u32 = 8u;           // TILE / 4 quads
/** TILE · KQ: each stage buffer's vec4s (the launcher passes it; declared size is what a GPU reserves). */
override SV4: u32 = 128u;

@group(0) @binding(0) var<storage, read_write> c: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> weight: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> preds: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> bias: array<vec4f>;

@group(0) @binding(0) var<storage, read_write> dPreds: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> wB: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dC: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> cB: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dWeight: array<vec4f>;

// Stage buffers, shared by all three entry points: [TILE rows or channels][KQ quads] or
// [4·KQ rows][TQ quads], TILE·KQ vec4 each (2 KiB each at KQ = 4).
var<workgroup> sX: array<vec4f, SV4>;
var<workgroup> sY: array<vec4f, SV4>;

// ---- forward: preds[k, r, i] = Σ_h c[r, h] W_k[i, h] (+ bias_k[i]) -----------------------------------
// Tile: 32 rows (x) × 32 channels (y). Stage: KQ quads of h for the tile's rows and channels.
fn forwardTile(lid: u32, wid: vec3u) -> array<vec4f, 4> {
  let k = wid.z;
  let r0 = wid.x * TILE;
  let i0 = wid.y * TILE;            // first output channel
  let lr = lid % L;
  let li = lid / L;
  var a = array<vec4f, 4>();
  for (var h0 = 0u; h0 < H4; h0 += KQ) {
    for (var e = lid; e < TILE * KQ; e += L * L) {
      let row = e / KQ;
      let h = h0 + e % KQ;
      var x = vec4f(0.0);
      var w = vec4f(0.0);
      if (h < H4) {
        x = c[min(r0 + row, BT - 1u) * H4 + h];
        w = weight[(k * C4 * 4u + min(i0 + row, C4 * 4u - 1u)) * H4 + h];
      }
      sX[e] = x;
      sY[e] = w;
    }
    workgroupBarrier();
    for (var q = 0u; q < KQ; q++) {
      let w0 = sY[(li * 4u) * KQ + q]; let w1 = sY[(li * 4u + 1u) * KQ + q];
      let w2 = sY[(li * 4u + 2u) * KQ + q]; let w3 = sY[(li * 4u + 3u) * KQ + q];
      for (var u = 0u; u < 4u; u++) {
        let x = sX[(lr * 4u + u) * KQ + q];
        a[u] += vec4f(dot(x, w0), dot(x, w1), dot(x, w2), dot(x, w3));
      }
    }
    workgroupBarrier();
  }
  return a;
}

fn storeForward(lid: u32, wid: vec3u, a: array<vec4f, 4>) {
  let i4 = wid.y * TQ + lid / L;
  if (i4 >= C4) { return; }
  for (var u = 0u; u < 4u; u++) {
    let r = wid.x * TILE + (lid % L) * 4u + u;
    if (r < BT) { preds[(wid.z * BT + r) * C4 + i4] = a[u]; }
  }
}

@compute @workgroup_size(64)
fn forwardShared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  storeForward(lid, wid, forwardTile(lid, wid));
}

@compute @workgroup_size(64)
fn forwardBiasShared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  var a = forwardTile(lid, wid);
  let b = bias[wid.z * C4 + min(wid.y * TQ + lid / L, C4 - 1u)];
  a[0] += b; a[1] += b; a[2] += b; a[3] += b;
  storeForward(lid, wid, a);
}

// ---- dC[r, h] = Σ_k Σ_i dPreds[k, r, i] W_k[i, h] over heads with a row at r (t + k + 1 < T) ------
// Tile: 32 rows (x) × 32 h (y). Stage, per head: KQ quads of i: dPreds [32 rows][KQ] (dead rows as
// zeros, the register kernel's rule) and W_k [4·KQ channels][8 h-quads].
@compute @workgroup_size(64)
fn backwardInputShared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let r0 = wid.x * TILE;
  let hq0 = wid.y * TQ;
  let lr = lid % L;
  let lh = lid / L;
  var a = array<vec4f, 4>();
  for (var k = 0u; k < K; k++) {
    for (var i0 = 0u; i0 < C4; i0 += KQ) {
      for (var e = lid; e < TILE * KQ; e += L * L) {
        let r = r0 + e / KQ;
        let i = i0 + e % KQ;
        var d = vec4f(0.0);
        if (r < BT && i < C4 && k + 1u + r % T < T) { d = dPreds[(k * BT + r) * C4 + i]; }
        sX[e] = d;
        // W rows 4·i0 .. 4·(i0 + KQ) of head k, quads hq0 .. hq0 + 8.
        let wr = e / TQ;
        let hq = hq0 + e % TQ;
        var w = vec4f(0.0);
        if (4u * i0 + wr < 4u * C4 && hq < H4) { w = wB[(k * C4 * 4u + 4u * i0 + wr) * H4 + hq]; }
        sY[e] = w;
      }
      workgroupBarrier();
      for (var q = 0u; q < KQ; q++) {
        let wa = sY[(4u * q) * TQ + lh]; let wb = sY[(4u * q + 1u) * TQ + lh];
        let wc = sY[(4u * q + 2u) * TQ + lh]; let wd = sY[(4u * q + 3u) * TQ + lh];
        for (var u = 0u; u < 4u; u++) {
          let d = sX[(lr * 4u + u) * KQ + q];
          a[u] += d.x * wa + d.y * wb + d.z * wc + d.w * wd;
        }
      }
      workgroupBarrier();
    }
  }
  let hq = hq0 + lh;
  if (hq >= H4) { return; }
  for (var u = 0u; u < 4u; u++) {
    let r = r0 + lr * 4u + u;
    if (r < BT) { dC[r * H4 + hq] = a[u]; }
  }
}

// ---- dW_k[i, h] = Σ_(b, t < T−k−1) dPreds[k, b·T + t, i] c[b·T + t, h] ------------------------------
// Tile: 32 channels i (x) × 32 h (y). Stage: 4·KQ valid rows of head k: dPreds [rows][8 i-quads] and
// c [rows][8 h-quads]. An invocation owns one i-quad × one h-quad (4 channels × 4 h).
@compute @workgroup_size(64)
fn backwardWeightShared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let k = wid.z;
  let iq0 = wid.x * TQ;
  let hq0 = wid.y * TQ;
  let li = lid % L;
  let lh = lid / L;
  let steps = T - (k + 1u);
  let rows = (BT / T) * steps;
  let SR = 4u * KQ;   // rows per stage
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  for (var q0 = 0u; q0 < rows; q0 += SR) {
    for (var e = lid; e < SR * TQ; e += L * L) {
      let q = q0 + e / TQ;
      let bt = (q / steps) * T + q % steps;
      let iq = iq0 + e % TQ;
      let hq = hq0 + e % TQ;
      var d = vec4f(0.0);
      var x = vec4f(0.0);
      if (q < rows) {
        if (iq < C4) { d = dPreds[(k * BT + bt) * C4 + iq]; }
        if (hq < H4) { x = cB[bt * H4 + hq]; }
      }
      sX[e] = d;
      sY[e] = x;
    }
    workgroupBarrier();
    for (var s = 0u; s < SR; s++) {
      let d = sX[s * TQ + li];
      let x = sY[s * TQ + lh];
      a0 += d.x * x; a1 += d.y * x; a2 += d.z * x; a3 += d.w * x;
    }
    workgroupBarrier();
  }
  let iq = iq0 + li;
  let hq = hq0 + lh;
  if (iq >= C4 || hq >= H4) { return; }
  let o = (k * C4 + iq) * 4u * H4 + hq;
  dWeight[o] = a0; dWeight[o + H4] = a1; dWeight[o + 2u * H4] = a2; dWeight[o + 3u * H4] = a3;
}
