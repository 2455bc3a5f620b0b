// CPC_audio's ChannelNorm between a conv and its ReLU, on channels-last frames [B, T, C]: every
// frame is normalised over its C channels with the UNBIASED variance (÷(C−1)), eps EPS:
//   xhat = (u − mean)·rstd, rstd = 1/sqrt(var + eps), y = max(xhat·γ + β, 0).
// It runs as a light pass after the conv GEMM (which writes u = conv + bias into y): the GEMM's
// lanes each own 8 of the C channels, so a fused norm would need a cross-workgroup reduction. One
// lane per frame loops over its channels; the pass moves ~6 floats per element.
// The *Vec4 entry points (C % 4 == 0, every encoder config) load and store 4 channels per access
// and add them in the same ascending channel order as the scalar ones, so both give bitwise-equal
// results; a quarter of the memory instructions. Measured on lavapipe at `small` (layer 1, 32 760
// frames × 64 channels, bench/stepProfile.ts): the scalar passes were memory-instruction bound
// (≈ 1.6-2 GB/s against a 4.4 GB/s copy), and 4-wide accesses are what GPUs' load units want too.
// Saved for the backward: xhat [B, T, C] and rstd [B, T].
// Storage types yT (y / u), hT (xhat) and dT (du) are f32 or f16, aliased by the launcher
// (conv1d.ts storagePreamble); loads widen to f32, sums and rstd stay f32.
//
// Backward, with g = dy·(y > 0)·γ, per frame:
//   du = rstd·(g − mean_c g − xhat·Σ_c(g·xhat)/(C − 1))
// written into the zero-padded du [B, TPAD, C] the conv backward reads; dγ = Σ dy·(y>0)·xhat and
// dβ = Σ dy·(y>0) over all frames, in two fixed-order stages (paramPartial, paramReduce).

override C: u32;
override NF: u32;        // frames B·T
override TOUT: u32 = 1u; // frames per batch
override TPAD: u32 = 1u; // padded frames per batch in du
override PADF: u32 = 0u; // zero frames before frame 0 in du
override NB: u32 = 1u;
override CH: u32 = 1u;   // frames per chunk (paramPartial)
override CHUNKS: u32 = 1u;
override EPS: f32 = 1e-5;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

// Channel loops run to `nc`, equal to C but read from a buffer length at run time: with the
// constant C, llvmpipe's LLVM fully unrolls small-C loops of bounds-checked loads and a pipeline
// took up to 13 s to compile (measured); the rolled loop runs as fast.

@group(0) @binding(0) var<storage, read_write> yu: array<yT>;
@group(0) @binding(1) var<storage, read_write> gammaF: array<f32>;
@group(0) @binding(2) var<storage, read_write> betaF: array<f32>;
@group(0) @binding(3) var<storage, read_write> xhatOut: array<hT>;
@group(0) @binding(4) var<storage, read_write> rstdOut: array<f32>;

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let f = flat(gid, nwg);
  if (f >= NF || (f + 1u) * C > arrayLength(&yu) || (f + 1u) * C > arrayLength(&xhatOut) || f >= arrayLength(&rstdOut)) { return; }
  let base = f * C;
  let nc = min(C, min(arrayLength(&gammaF), arrayLength(&betaF)));
  var s = 0.0;
  for (var c = 0u; c < nc; c++) { s += f32(yu[base + c]); }
  let mean = s / f32(C);
  // Two passes: E[x²] − E[x]² would cancel catastrophically in f32 for frames with a large mean.
  var ss = 0.0;
  for (var c = 0u; c < nc; c++) { let d = f32(yu[base + c]) - mean; ss += d * d; }
  let r = inverseSqrt(ss / f32(C - 1u) + EPS);
  rstdOut[f] = r;
  for (var c = 0u; c < nc; c++) {
    let xh = (f32(yu[base + c]) - mean) * r;
    xhatOut[base + c] = hT(xh);
    yu[base + c] = yT(max(fma(xh, gammaF[c], betaF[c]), 0.0));
  }
}

@group(0) @binding(0) var<storage, read_write> dyB: array<f32>;
@group(0) @binding(1) var<storage, read_write> yB: array<yT>;
@group(0) @binding(2) var<storage, read_write> xhatB: array<hT>;
@group(0) @binding(3) var<storage, read_write> rstdB: array<f32>;
@group(0) @binding(4) var<storage, read_write> gammaB: array<f32>;
@group(0) @binding(5) var<storage, read_write> duB: array<dT>;

@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let fp = flat(gid, nwg);
  if (fp >= NB * TPAD || (fp + 1u) * C > arrayLength(&duB)) { return; }
  let out = fp * C;
  let b = fp / TPAD;
  let fl = fp - b * TPAD;
  let nc = min(C, arrayLength(&gammaB));
  if (fl < PADF || fl >= PADF + TOUT) {
    for (var c = 0u; c < nc; c++) { duB[out + c] = dT(0.0); }
    return;
  }
  let f = b * TOUT + fl - PADF;
  let base = f * C;
  if (base + C > min(min(arrayLength(&dyB), arrayLength(&yB)), arrayLength(&xhatB)) || f >= arrayLength(&rstdB)) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = 0u; c < nc; c++) {
    let g = select(0.0, dyB[base + c], f32(yB[base + c]) > 0.0) * gammaB[c];
    sg += g;
    sgx += g * f32(xhatB[base + c]);
  }
  let r = rstdB[f];
  let gMean = sg / f32(C);
  let k = sgx / f32(C - 1u);
  for (var c = 0u; c < nc; c++) {
    let g = select(0.0, dyB[base + c], f32(yB[base + c]) > 0.0) * gammaB[c];
    duB[out + c] = dT(r * (g - gMean - f32(xhatB[base + c]) * k));
  }
}

@group(0) @binding(3) var<storage, read_write> partP: array<f32>;

/** partP[chunk, 0, c] = Σ dy·(y>0)·xhat, partP[chunk, 1, c] = Σ dy·(y>0) over the chunk's frames. */
@compute @workgroup_size(64)
fn paramPartial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= C * CHUNKS || (i / C * 2u + 2u) * C > arrayLength(&partP)) { return; }
  let chunk = i / C;
  let c = i - chunk * C;
  let end = min((chunk + 1u) * CH, NF);
  if (end * C > min(min(arrayLength(&dyB), arrayLength(&yB)), arrayLength(&xhatB))) { return; }
  var sx = 0.0;
  var s = 0.0;
  for (var f = chunk * CH; f < end; f++) {
    let d = select(0.0, dyB[f * C + c], f32(yB[f * C + c]) > 0.0);
    sx += d * f32(xhatB[f * C + c]);
    s += d;
  }
  partP[(chunk * 2u) * C + c] = sx;
  partP[(chunk * 2u + 1u) * C + c] = s;
}

@group(0) @binding(0) var<storage, read_write> partR: array<f32>;
@group(0) @binding(1) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dBeta: array<f32>;

@compute @workgroup_size(64)
fn paramReduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= C || c >= arrayLength(&dGamma) || c >= arrayLength(&dBeta) || CHUNKS * 2u * C > arrayLength(&partR)) { return; }
  var sx = 0.0;
  var s = 0.0;
  for (var k = 0u; k < CHUNKS; k++) {
    sx += partR[(k * 2u) * C + c];
    s += partR[(k * 2u + 1u) * C + c];
  }
  dGamma[c] = sx;
  dBeta[c] = s;
}

// ---- 4 channels per access (C % 4 == 0). Bindings as above, viewed as vec4 arrays.

@group(0) @binding(0) var<storage, read_write> yu4: array<vec4<yT>>;
@group(0) @binding(1) var<storage, read_write> gamma4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> beta4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> xhat4Out: array<vec4<hT>>;

/** s + v.x + v.y + v.z + v.w, left to right: the scalar loops' order. */
fn add4(s: f32, v: vec4<f32>) -> f32 { return s + v.x + v.y + v.z + v.w; }

@compute @workgroup_size(64)
fn forwardVec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let f = flat(gid, nwg);
  let c4 = C / 4u;
  if (f >= NF || (f + 1u) * c4 > arrayLength(&yu4) || (f + 1u) * c4 > arrayLength(&xhat4Out) || f >= arrayLength(&rstdOut)) { return; }
  let base = f * c4;
  let nc = min(c4, min(arrayLength(&gamma4), arrayLength(&beta4)));
  var s = 0.0;
  for (var c = 0u; c < nc; c++) { s = add4(s, vec4<f32>(yu4[base + c])); }
  let mean = s / f32(C);
  var ss = 0.0;
  for (var c = 0u; c < nc; c++) { let d = vec4<f32>(yu4[base + c]) - mean; ss = add4(ss, d * d); }
  let r = inverseSqrt(ss / f32(C - 1u) + EPS);
  rstdOut[f] = r;
  for (var c = 0u; c < nc; c++) {
    let xh = (vec4<f32>(yu4[base + c]) - mean) * r;
    xhat4Out[base + c] = vec4<hT>(xh);
    yu4[base + c] = vec4<yT>(max(fma(xh, gamma4[c], beta4[c]), vec4<f32>(0.0)));
  }
}

@group(0) @binding(0) var<storage, read_write> dy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<yT>>;
@group(0) @binding(2) var<storage, read_write> xhat4: array<vec4<hT>>;
@group(0) @binding(4) var<storage, read_write> gamma4B: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> du4: array<vec4<dT>>;

/** dy·(y > 0) for 4 channels. */
fn masked4(i: u32) -> vec4<f32> { return select(vec4<f32>(0.0), dy4[i], vec4<f32>(y4[i]) > vec4<f32>(0.0)); }

@compute @workgroup_size(64)
fn backwardVec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let fp = flat(gid, nwg);
  let c4 = C / 4u;
  if (fp >= NB * TPAD || (fp + 1u) * c4 > arrayLength(&du4)) { return; }
  let out = fp * c4;
  let b = fp / TPAD;
  let fl = fp - b * TPAD;
  let nc = min(c4, arrayLength(&gamma4B));
  if (fl < PADF || fl >= PADF + TOUT) {
    for (var c = 0u; c < nc; c++) { du4[out + c] = vec4<dT>(0.0); }
    return;
  }
  let f = b * TOUT + fl - PADF;
  let base = f * c4;
  if (base + c4 > min(min(arrayLength(&dy4), arrayLength(&y4)), arrayLength(&xhat4)) || f >= arrayLength(&rstdB)) { return; }
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = 0u; c < nc; c++) {
    let g = masked4(base + c) * gamma4B[c];
    sg = add4(sg, g);
    sgx = add4(sgx, g * vec4<f32>(xhat4[base + c]));
  }
  let r = rstdB[f];
  let gMean = sg / f32(C);
  let k = sgx / f32(C - 1u);
  for (var c = 0u; c < nc; c++) {
    let g = masked4(base + c) * gamma4B[c];
    du4[out + c] = vec4<dT>(r * (g - gMean - vec4<f32>(xhat4[base + c]) * k));
  }
}

/** paramPartial for 4 channels per lane: the same per-channel sums over the chunk's frames, in frame order. */
@compute @workgroup_size(64)
fn paramPartialVec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  let c4 = C / 4u;
  if (i >= c4 * CHUNKS || (i / c4 * 2u + 2u) * C > arrayLength(&partP)) { return; }
  let chunk = i / c4;
  let c = i - chunk * c4;
  let end = min((chunk + 1u) * CH, NF);
  if (end * c4 > min(min(arrayLength(&dy4), arrayLength(&y4)), arrayLength(&xhat4))) { return; }
  var sx = vec4<f32>(0.0);
  var s = vec4<f32>(0.0);
  for (var f = chunk * CH; f < end; f++) {
    let d = masked4(f * c4 + c);
    sx += d * vec4<f32>(xhat4[f * c4 + c]);
    s += d;
  }
  let o = (chunk * 2u) * C + 4u * c;
  partP[o] = sx.x; partP[o + 1u] = sx.y; partP[o + 2u] = sx.z; partP[o + 3u] = sx.w;
  partP[o + C] = s.x; partP[o + C + 1u] = s.y; partP[o + C + 2u] = s.z; partP[o + C + 3u] = s.w;
}
