// CPC predictor heads, all K heads in one dispatch: preds[k, bt, :] = W_k c[bt, :] (+ bias_k), and
// their backward (dC, dW, dB). Layouts (see predictor.ts): c [B·T, H], weight [K, C, H] (PyTorch
// [C, H] per head, heads contiguous), bias [K, C], preds/dPreds [K, B·T, C]. Channels are read as
// vec4, so C and H are multiples of 4 (checked by the launcher).
//
// Register tiles, no workgroup memory and no barriers: on lavapipe a barrier-free 4×4 vec4 tile
// measured ~7 GFLOP/s against ~0.6 for shared-memory tiling (DESIGN §6). Every reduction runs in one
// invocation in a fixed order, so results are bitwise reproducible.

override T: u32;
override BT: u32;      // B·T rows of c
override C4: u32;      // C / 4
override H4: u32;      // H / 4
override K: u32;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> c: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> weight: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> preds: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> bias: array<vec4f>;

// Backward bindings (separate entry points, so separate auto layouts).
@group(0) @binding(0) var<storage, read_write> dPreds: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> wB: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dC: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> cB: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dWeight: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dBias: array<vec4f>;

fn flatId(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// 4 rows (bt) × 4 output channels of one head; lanes run over row tiles so the weight loads are
// the same address in every lane.
fn inForwardRange(id: u32) -> bool {
  return id < K * C4 * ((BT + 3u) / 4u);
}

struct Tile { k: u32, i4: u32, r0: u32 }

fn decodeTile(id: u32) -> Tile {
  let rowTiles = (BT + 3u) / 4u;
  let rt = id % rowTiles;
  let ki = id / rowTiles;
  return Tile(ki / C4, ki % C4, rt * 4u);
}

fn projectTile(tile: Tile) -> array<vec4f, 4> {
  let ca = min(tile.r0, BT - 1u) * H4;
  let cb = min(tile.r0 + 1u, BT - 1u) * H4;
  let cc = min(tile.r0 + 2u, BT - 1u) * H4;
  let cd = min(tile.r0 + 3u, BT - 1u) * H4;
  let w0 = (tile.k * C4 + tile.i4) * 4u * H4;
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  for (var h = 0u; h < H4; h++) {
    let wa = weight[w0 + h]; let wb = weight[w0 + H4 + h];
    let wc = weight[w0 + 2u * H4 + h]; let wd = weight[w0 + 3u * H4 + h];
    let x0 = c[ca + h]; let x1 = c[cb + h]; let x2 = c[cc + h]; let x3 = c[cd + h];
    a0 += vec4f(dot(x0, wa), dot(x0, wb), dot(x0, wc), dot(x0, wd));
    a1 += vec4f(dot(x1, wa), dot(x1, wb), dot(x1, wc), dot(x1, wd));
    a2 += vec4f(dot(x2, wa), dot(x2, wb), dot(x2, wc), dot(x2, wd));
    a3 += vec4f(dot(x3, wa), dot(x3, wb), dot(x3, wc), dot(x3, wd));
  }
  return array<vec4f, 4>(a0, a1, a2, a3);
}

fn storeTile(tile: Tile, a: array<vec4f, 4>) {
  let base = tile.k * BT;
  for (var u = 0u; u < 4u; u++) {
    let r = tile.r0 + u;
    if (r < BT) { preds[(base + r) * C4 + tile.i4] = a[u]; }
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  if (!inForwardRange(id)) { return; }
  let tile = decodeTile(id);
  storeTile(tile, projectTile(tile));
}

@compute @workgroup_size(WG)
fn forwardBias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  if (!inForwardRange(id)) { return; }
  let tile = decodeTile(id);
  var a = projectTile(tile);
  let b = bias[tile.k * C4 + tile.i4];
  a[0] += b; a[1] += b; a[2] += b; a[3] += b;
  storeTile(tile, a);
}

// dC[bt, h4] = Σ_k Σ_i dPreds[k, bt, i] W_k[i, h4]: 4 rows × one vec4 of H per invocation, the
// whole K·C reduction in registers. Like dW and dB it ignores rows t + k ≥ T (InfoNCE gives them no
// gradient), so all three read the same entries of dPreds.
@compute @workgroup_size(WG)
fn backwardInput(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  let rowTiles = (BT + 3u) / 4u;
  if (id >= H4 * rowTiles) { return; }
  let r0 = (id % rowTiles) * 4u;
  let h4 = id / rowTiles;
  let ra = min(r0, BT - 1u) * C4; let rb = min(r0 + 1u, BT - 1u) * C4;
  let rc = min(r0 + 2u, BT - 1u) * C4; let rd = min(r0 + 3u, BT - 1u) * C4;
  // Head k (step k + 1) has a row at t iff t + k + 1 < T.
  let tLim = vec4u(T - 1u) - (vec4u(r0) + vec4u(0u, 1u, 2u, 3u)) % vec4u(T);
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  for (var k = 0u; k < K; k++) {
    let live = vec4u(k) < tLim;
    let dBase = k * BT * C4;
    let wBase = k * C4 * 4u * H4 + h4;
    for (var i4 = 0u; i4 < C4; i4++) {
      let w = wBase + i4 * 4u * H4;
      let wa = wB[w]; let wb = wB[w + H4]; let wc = wB[w + 2u * H4]; let wd = wB[w + 3u * H4];
      let d0 = select(vec4f(0.0), dPreds[dBase + ra + i4], live.x);
      let d1 = select(vec4f(0.0), dPreds[dBase + rb + i4], live.y);
      let d2 = select(vec4f(0.0), dPreds[dBase + rc + i4], live.z);
      let d3 = select(vec4f(0.0), dPreds[dBase + rd + i4], live.w);
      a0 += d0.x * wa + d0.y * wb + d0.z * wc + d0.w * wd;
      a1 += d1.x * wa + d1.y * wb + d1.z * wc + d1.w * wd;
      a2 += d2.x * wa + d2.y * wb + d2.z * wc + d2.w * wd;
      a3 += d3.x * wa + d3.y * wb + d3.z * wc + d3.w * wd;
    }
  }
  dC[min(r0, BT - 1u) * H4 + h4] = a0;
  if (r0 + 1u < BT) { dC[(r0 + 1u) * H4 + h4] = a1; }
  if (r0 + 2u < BT) { dC[(r0 + 2u) * H4 + h4] = a2; }
  if (r0 + 3u < BT) { dC[(r0 + 3u) * H4 + h4] = a3; }
}

// dW_k[i, h] = Σ_bt dPreds[k, bt, i] c[bt, h]: an 8 (i) × 8 (h) tile per invocation (4 loads per 16
// vec4 FMAs), summed over the valid rows t < T − k of step k only (the others hold zeros).
@compute @workgroup_size(WG)
fn backwardWeight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  let iTiles = (C4 + 1u) / 2u;
  let hTiles = (H4 + 1u) / 2u;
  if (id >= K * iTiles * hTiles) { return; }
  let hA = (id % hTiles) * 2u;
  let rest = id / hTiles;
  let iA = (rest % iTiles) * 2u;
  let k = rest / iTiles;
  let hB = min(hA + 1u, H4 - 1u);
  let iB = min(iA + 1u, C4 - 1u);
  let B = BT / T;
  let steps = T - (k + 1u);
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
  var b0 = vec4f(0.0); var b1 = vec4f(0.0); var b2 = vec4f(0.0); var b3 = vec4f(0.0);
  var b4 = vec4f(0.0); var b5 = vec4f(0.0); var b6 = vec4f(0.0); var b7 = vec4f(0.0);
  for (var b = 0u; b < B; b++) {
    for (var t = 0u; t < steps; t++) {
      let bt = b * T + t;
      let d = (k * BT + bt) * C4;
      let dA = dPreds[d + iA]; let dB = dPreds[d + iB];
      let xA = cB[bt * H4 + hA]; let xB = cB[bt * H4 + hB];
      a0 += dA.x * xA; a1 += dA.y * xA; a2 += dA.z * xA; a3 += dA.w * xA;
      a4 += dB.x * xA; a5 += dB.y * xA; a6 += dB.z * xA; a7 += dB.w * xA;
      b0 += dA.x * xB; b1 += dA.y * xB; b2 += dA.z * xB; b3 += dA.w * xB;
      b4 += dB.x * xB; b5 += dB.y * xB; b6 += dB.z * xB; b7 += dB.w * xB;
    }
  }
  // dWeight[k, i, h4]: row i = 4·i4 + u.
  let oA = (k * C4 + iA) * 4u * H4;
  dWeight[oA + hA] = a0; dWeight[oA + H4 + hA] = a1; dWeight[oA + 2u * H4 + hA] = a2; dWeight[oA + 3u * H4 + hA] = a3;
  if (hA + 1u < H4) {
    dWeight[oA + hB] = b0; dWeight[oA + H4 + hB] = b1; dWeight[oA + 2u * H4 + hB] = b2; dWeight[oA + 3u * H4 + hB] = b3;
  }
  if (iA + 1u < C4) {
    let oB = (k * C4 + iB) * 4u * H4;
    dWeight[oB + hA] = a4; dWeight[oB + H4 + hA] = a5; dWeight[oB + 2u * H4 + hA] = a6; dWeight[oB + 3u * H4 + hA] = a7;
    if (hA + 1u < H4) {
      dWeight[oB + hB] = b4; dWeight[oB + H4 + hB] = b5; dWeight[oB + 2u * H4 + hB] = b6; dWeight[oB + 3u * H4 + hB] = b7;
    }
  }
}

// dB_k[i4] = Σ over the valid rows of step k of dPreds[k, bt, i4].
@compute @workgroup_size(WG)
fn backwardBias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  if (id >= K * C4) { return; }
  let k = id / C4;
  let i4 = id % C4;
  let B = BT / T;
  var acc = vec4f(0.0);
  for (var b = 0u; b < B; b++) {
    for (var t = 0u; t + k + 1u < T; t++) {
      acc += dPreds[(k * BT + b * T + t) * C4 + i4];
    }
  }
  dBias[id] = acc;
}
