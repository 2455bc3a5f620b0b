// The register tile shared by conv1dGemm.wgsl and conv1dWeightGrad.wgsl: 4 rows x 8 columns as
// 8 vec4 accumulators. Explicit fields (not an indexed array) keep every accumulator in a
// register on llvmpipe, where a dynamically indexed private array becomes per-lane memory.
struct Tile {
  c0a: vec4<f32>, c0b: vec4<f32>, c1a: vec4<f32>, c1b: vec4<f32>,
  c2a: vec4<f32>, c2b: vec4<f32>, c3a: vec4<f32>, c3b: vec4<f32>,
}

/** tile[i][j] += x[i] * wr[j] for the 4 rows i and 8 columns j. */
fn acc(t: ptr<function, Tile>, x: vec4<f32>, wr: array<f32, 8>) {
  let wa = vec4<f32>(wr[0], wr[1], wr[2], wr[3]);
  let wb = vec4<f32>(wr[4], wr[5], wr[6], wr[7]);
  (*t).c0a = fma(vec4<f32>(x.x), wa, (*t).c0a); (*t).c0b = fma(vec4<f32>(x.x), wb, (*t).c0b);
  (*t).c1a = fma(vec4<f32>(x.y), wa, (*t).c1a); (*t).c1b = fma(vec4<f32>(x.y), wb, (*t).c1b);
  (*t).c2a = fma(vec4<f32>(x.z), wa, (*t).c2a); (*t).c2b = fma(vec4<f32>(x.z), wb, (*t).c2b);
  (*t).c3a = fma(vec4<f32>(x.w), wa, (*t).c3a); (*t).c3b = fma(vec4<f32>(x.w), wb, (*t).c3b);
}
