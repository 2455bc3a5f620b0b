// Per-step weight relayouts from PyTorch's w [Cout, Cin, K] into the slabs conv1dGemm.wgsl reads
// row by row (output columns fastest, zero-padded to a multiple of 8 so every fetch8 is whole).
// Both copy only Cout·Cin·K floats (+ padding): ≤ 1 % of a layer's time.
//   forwardWeights:   wT[r = k·Cin + ci, n]            = w[n, ci, k]                 (n < Cout)
//   inputGradWeights: wd[p, jj·Cout + co, ci]          = w[co, ci, p + (JM−1−jj)·S]  (k < K, ci < Cin)
//     for phase p = τ mod S: input frame τ = t0·S + p gets du frame t0 − (JM−1−jj) through tap
//     k = p + (JM−1−jj)·S, so the JM frames of the span are ordered oldest first, like du in memory.

override COUT: u32;
override CIN: u32;
override K: u32;
override S: u32 = 1u;
override JM: u32 = 1u;  // ceil(K / S): du frames feeding one input frame
override NP: u32;       // padded columns of the slab
override TOTAL: u32;    // elements of the slab

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> slab: array<f32>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

fn weight(co: u32, ci: u32, k: u32) -> f32 {
  return w[min((co * CIN + ci) * K + k, arrayLength(&w) - 1u)];
}

@compute @workgroup_size(64)
fn forwardWeights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= TOTAL || i >= arrayLength(&slab)) { return; }
  let r = i / NP;
  let n = i - r * NP;
  let k = r / CIN;
  let ci = r - k * CIN;
  slab[i] = select(0.0, weight(n, ci, k), n < COUT && k < K);
}

@compute @workgroup_size(64)
fn inputGradWeights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= TOTAL || i >= arrayLength(&slab)) { return; }
  let q = i / NP;
  let ci = i - q * NP;
  let p = q / (JM * COUT);
  let row = q - p * JM * COUT;
  let jj = row / COUT;
  let co = row - jj * COUT;
  let k = p + (JM - 1u - jj) * S;
  slab[i] = select(0.0, weight(co, ci, k), k < K && ci < CIN && p < S);
}
