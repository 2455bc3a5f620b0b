// dW / db partial sums for layers with a short reduction span K·Cin (the waveform layer: Cin = 1,
// K = 10), where conv1dWeightGrad.wgsl would give each frame only ceil((K·Cin + 1)/4) busy lanes.
// Roles swapped: each lane owns 4 output channels co (its own du values) x 8 taps r, and the 8
// input samples x[span + r] are the shared operand (fetch8, SHARED_SRC = xs). Same partial layout
// [CHUNKS, RP, NP] as conv1dWeightGrad.wgsl, so its `reduce` finishes the job; row r = RED is db.
// MASK = true fuses the ReLU backward (du = dy·(y > 0), read straight from dy and y) for a layer
// that needs neither dx nor a channel norm, which saves the padded du pass.
// The launcher prepends conv1dLanes.*.wgsl and conv1dTile.wgsl, and aliases the storage types aT
// (xs), dT (du or dy) and yT (ymask) to f32 or f16 (loads widen to f32; partials stay f32).

override NB: u32;
override TR: u32;     // frames per batch (Tout)
override CH: u32;     // frames per chunk
override A_BS: u32;
override A_TS: u32;
override RED: u32;
override D_BS: u32;   // du (or dy, y) offset of frame (b, t) = b·D_BS + t·D_TS + D_OFF
override D_TS: u32;
override D_OFF: u32;
override NCO: u32;
override NP: u32;
override RP: u32;     // RED + 1 rounded up to 8
override MASK: bool;
override WG: u32 = 16;

@group(0) @binding(0) var<storage, read_write> xs: array<aT>;
@group(0) @binding(1) var<storage, read_write> du: array<dT>;       // du, or dy when MASK
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;
@group(0) @binding(3) var<storage, read_write> ymask: array<yT>;    // y when MASK (else any tensor)

fn duAt(i: u32, ok: bool) -> f32 {
  let v = select(0.0, f32(du[min(i, arrayLength(&du) - 1u)]), ok);
  if (MASK) { return select(0.0, v, f32(ymask[min(i, arrayLength(&ymask) - 1u)]) > 0.0); }
  return v;
}

/** The 8 taps r0..r0+7 of the frame's span; tap RED is the bias input 1. */
fn taps(base: u32, r0: u32, l8: u32) -> array<f32, 8> {
  var v = fetch8(base, RED - min(r0, RED), l8);
  let br = RED - min(r0, RED);  // column of the bias tap (≥ 8: not in this tile)
  v[0] += select(0.0, 1.0, br == 0u); v[1] += select(0.0, 1.0, br == 1u);
  v[2] += select(0.0, 1.0, br == 2u); v[3] += select(0.0, 1.0, br == 3u);
  v[4] += select(0.0, 1.0, br == 4u); v[5] += select(0.0, 1.0, br == 5u);
  v[6] += select(0.0, 1.0, br == 6u); v[7] += select(0.0, 1.0, br == 7u);
  return v;
}

fn storeCol(o: u32, ok: bool, a: vec4<f32>, b: vec4<f32>) {
  if (!ok || o + 7u * NP >= arrayLength(&partial)) { return; }
  partial[o] = a.x; partial[o + NP] = a.y; partial[o + 2u * NP] = a.z; partial[o + 3u * NP] = a.w;
  partial[o + 4u * NP] = b.x; partial[o + 5u * NP] = b.y; partial[o + 6u * NP] = b.z; partial[o + 7u * NP] = b.w;
}

@compute @workgroup_size(WG)
fn partialWave(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) {
  let l8 = lane8(l);
  let r0 = wid.x * 8u;
  let co0 = (wid.y * WG + l.lid) * 4u;
  let ok = vec4<bool>(co0 < NCO, co0 + 1u < NCO, co0 + 2u < NCO, co0 + 3u < NCO);
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
      let d = dRow + j * D_TS;
      let g = vec4<f32>(duAt(d, ok.x), duAt(d + 1u, ok.y), duAt(d + 2u, ok.z), duAt(d + 3u, ok.w));
      acc(&tile, g, taps(aRow + j * A_TS, r0, l8));
    }
    m += n;
  }
  // tile row i = channel co0 + i, columns = taps r0..r0+7 → partial[chunk, r, co]
  let o = (wid.z * RP + r0) * NP + co0;
  storeCol(o, ok.x, tile.c0a, tile.c0b);
  storeCol(o + 1u, ok.y, tile.c1a, tile.c1b);
  storeCol(o + 2u, ok.z, tile.c2a, tile.c2b);
  storeCol(o + 3u, ok.w, tile.c3a, tile.c3b);
}
