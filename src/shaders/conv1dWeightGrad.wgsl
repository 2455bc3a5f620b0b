// dW and db of a Conv1d layer, deterministic in two stages (no atomics):
//   partial*: partial[c, r, co] = Σ_{frames m of chunk c} A[m, r] · du[m, co], with r = k·Cin + ci
//             over the same contiguous im2col span as the forward; row r = RED is the bias row
//             (A = 1), so db comes out of the same pass. Each lane owns 4 rows r x 8 columns co;
//             the du row is shared by the workgroup (fetch8), the A values are per lane.
//   reduce:   dw[co, ci, k] = Σ_c partial[c, k·Cin + ci, co] (chunks in order: bitwise
//             reproducible), written straight into PyTorch's [Cout, Cin, K]; db[co] likewise.
// The launcher prepends conv1dLanes.*.wgsl (SHARED_SRC = du) and conv1dTile.wgsl, and aliases the
// storage types aT (A) and dT (du) to f32 or f16 (loads widen to f32; partials stay f32).

override NB: u32;     // batches
override TR: u32;     // frames per batch (Tout)
override CH: u32;     // frames per chunk
override A_BS: u32;   // A = layer input: elements between batches / frames
override A_TS: u32;
override RED: u32;    // K·Cin
override D_BS: u32;   // du offset of frame (b, t) = b·D_BS + t·D_TS + D_OFF
override D_TS: u32;
override D_OFF: u32;
override NCO: u32;    // Cout
override NP: u32;     // partial columns (Cout rounded up to 8)
override RP: u32;     // partial rows (RED + 1 rounded up to 4)
override CHUNKS: u32;
override CIN: u32;
override K: u32;
override WG: u32 = 32;

@group(0) @binding(0) var<storage, read_write> a4: array<vec4<aT>>;   // partialVec4 (Cin % 4 == 0)
@group(0) @binding(0) var<storage, read_write> a1: array<aT>;         // partialScalar
@group(0) @binding(1) var<storage, read_write> du: array<dT>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

fn storePartial(wid: vec3<u32>, l: Lanes, t: Tile) {
  let r0 = (wid.y * WG + l.lid) * 4u;
  let o = (wid.z * RP + r0) * NP + wid.x * 8u;
  if (r0 + 3u >= RP || o + 3u * NP + 7u >= arrayLength(&partial)) { return; }
  storeRow8(o, t.c0a, t.c0b);
  storeRow8(o + NP, t.c1a, t.c1b);
  storeRow8(o + 2u * NP, t.c2a, t.c2b);
  storeRow8(o + 3u * NP, t.c3a, t.c3b);
}

fn storeRow8(o: u32, a: vec4<f32>, b: vec4<f32>) {
  partial[o] = a.x; partial[o + 1u] = a.y; partial[o + 2u] = a.z; partial[o + 3u] = a.w;
  partial[o + 4u] = b.x; partial[o + 5u] = b.y; partial[o + 6u] = b.z; partial[o + 7u] = b.w;
}

/** bias row += the 8 shared du values (the bias input is 1: the same adds as fma(1, du, ·)). */
fn addBias(s: ptr<function, array<vec4<f32>, 2>>, g: array<f32, 8>) {
  (*s)[0] += vec4<f32>(g[0], g[1], g[2], g[3]);
  (*s)[1] += vec4<f32>(g[4], g[5], g[6], g[7]);
}

// partialVec4 runs RED / 4 lanes per column block (RED = K·Cin is a multiple of 4 here), not
// RP / 4: the bias row RED, which would need one more quad and so one more, nearly idle workgroup
// (at `small`: 9 instead of 8 for layer 2, 5 instead of 4 for layers 3-5), is summed by the lane
// of the LAST A quad alongside its tile. The du values it adds are the broadcast ones every lane
// already holds; the branch is uniform except in that lane's subgroup (and loop-invariant, so
// compilers can hoist it). Same frame order as the tile rows: db is bitwise what the bias quad gave.
@compute @workgroup_size(WG)
fn partialVec4(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) {
  let l8 = lane8(l);
  let r0 = (wid.y * WG + l.lid) * 4u;
  let co0 = wid.x * 8u;
  let count = min(8u, NCO - min(co0, NCO));
  let lastQuad = r0 + 4u == RED;
  let rc = min(r0, RED - 4u) / 4u;
  let last4 = arrayLength(&a4) - 1u;
  let A4 = A_TS / 4u;
  var tile: Tile;
  var bsum = array<vec4<f32>, 2>();
  // The chunk's frames, batch by batch; 4 frames per iteration where they share a batch.
  var m = wid.z * CH;
  let mEnd = min(m + CH, NB * TR);
  while (m < mEnd) {
    let b = m / TR;
    let t0 = m - b * TR;
    let n = min(TR - t0, mEnd - m);
    let aRow = (b * A_BS + t0 * A_TS) / 4u + rc;
    let dRow = b * D_BS + t0 * D_TS + D_OFF + co0;
    var j = 0u;
    for (; j + 4u <= n; j += 4u) {
      let a = aRow + j * A4;
      let d = dRow + j * D_TS;
      let g0 = fetch8(d, count, l8);
      let g1 = fetch8(d + D_TS, count, l8);
      let g2 = fetch8(d + 2u * D_TS, count, l8);
      let g3 = fetch8(d + 3u * D_TS, count, l8);
      acc(&tile, vec4<f32>(a4[min(a, last4)]), g0);
      acc(&tile, vec4<f32>(a4[min(a + A4, last4)]), g1);
      acc(&tile, vec4<f32>(a4[min(a + 2u * A4, last4)]), g2);
      acc(&tile, vec4<f32>(a4[min(a + 3u * A4, last4)]), g3);
      if (lastQuad) { addBias(&bsum, g0); addBias(&bsum, g1); addBias(&bsum, g2); addBias(&bsum, g3); }
    }
    for (; j < n; j++) {
      let g = fetch8(dRow + j * D_TS, count, l8);
      acc(&tile, vec4<f32>(a4[min(aRow + j * A4, last4)]), g);
      if (lastQuad) { addBias(&bsum, g); }
    }
    m += n;
  }
  // Lanes past the last quad (grid rounding) computed clamped rows: they store nothing.
  if (r0 < RED) { storePartial(wid, l, tile); }
  let ob = (wid.z * RP + RED) * NP + co0;
  if (lastQuad && RED < RP && ob + 7u < arrayLength(&partial)) { storeRow8(ob, bsum[0], bsum[1]); }
}

fn a1At(i: u32, last: u32, ok: bool) -> f32 { return select(0.0, f32(a1[min(i, last)]), ok); }

@compute @workgroup_size(WG)
fn partialScalar(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) {
  let l8 = lane8(l);
  let r0 = (wid.y * WG + l.lid) * 4u;
  let co0 = wid.x * 8u;
  let count = min(8u, NCO - min(co0, NCO));
  let ok = vec4<bool>(r0 < RED, r0 + 1u < RED, r0 + 2u < RED, r0 + 3u < RED);
  let biasRow = vec4<f32>(vec4<u32>(r0, r0 + 1u, r0 + 2u, r0 + 3u) == vec4<u32>(RED));
  let last = arrayLength(&a1) - 1u;
  var tile: Tile;
  var m = wid.z * CH;
  let mEnd = min(m + CH, NB * TR);
  while (m < mEnd) {
    let b = m / TR;
    let t0 = m - b * TR;
    let n = min(TR - t0, mEnd - m);
    let aRow = b * A_BS + t0 * A_TS + r0;
    let dRow = b * D_BS + t0 * D_TS + D_OFF + co0;
    for (var j = 0u; j < n; j++) {
      let i = aRow + j * A_TS;
      let a = vec4<f32>(a1At(i, last, ok.x), a1At(i + 1u, last, ok.y), a1At(i + 2u, last, ok.z), a1At(i + 3u, last, ok.w));
      acc(&tile, a + biasRow, fetch8(dRow + j * D_TS, count, l8));
    }
    m += n;
  }
  storePartial(wid, l, tile);
}

@group(0) @binding(0) var<storage, read_write> parts: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(64)
fn reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let nw = NCO * CIN * K;
  if (i >= nw + NCO) { return; }
  var co: u32;
  var r: u32;
  if (i < nw) {
    co = i / (CIN * K);
    let rem = i - co * CIN * K;
    let ci = rem / K;
    r = (rem - ci * K) * CIN + ci;
  } else {
    co = i - nw;
    r = RED;
  }
  let last = arrayLength(&parts) - 1u;
  var s = 0.0;
  for (var c = 0u; c < CHUNKS; c++) { s += parts[min((c * RP + r) * NP + co, last)]; }
  if (i < nw) {
    dw[min(i, arrayLength(&dw) - 1u)] = s;
  } else {
    db[min(co, arrayLength(&db) - 1u)] = s;
  }
}
