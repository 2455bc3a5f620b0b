// Naive baselines for the optimizer benchmark (bench/adam.ts): the straightforward versions one
// would write first. `naiveNorm`: ONE workgroup strides over all of P with scalar loads, then a
// tree (a single workgroup can use only one compute unit). `naiveAdam`: one scalar element per
// thread. Same semantics and hyper layout as src/shaders/{gradNorm,adam}.wgsl.
override P: u32;
override WG: u32 = 64;
override FINAL_WG: u32 = 256;

@group(0) @binding(0) var<storage, read_write> gradsN: array<f32>;
@group(0) @binding(1) var<storage, read_write> statsN: array<f32>;

var<workgroup> sums: array<f32, FINAL_WG>;

@compute @workgroup_size(FINAL_WG)
fn naiveNorm(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < P; i += FINAL_WG) { s = fma(gradsN[i], gradsN[i], s); }
  sums[lid.x] = s;
  workgroupBarrier();
  for (var half = FINAL_WG / 2u; half > 0u; half /= 2u) {
    if (lid.x < half) { sums[lid.x] += sums[lid.x + half]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let bad = (bitcast<u32>(sums[0]) & 0x7f800000u) == 0x7f800000u;
    statsN[0] = sqrt(sums[0]);
    statsN[1] = select(0.0, 1.0, bad);
  }
}

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> hyper: array<f32>;
@group(0) @binding(5) var<storage, read_write> gradNorm: array<f32>;

@compute @workgroup_size(WG)
fn naiveAdam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= P || gradNorm[1] != 0.0) { return; }
  let maxNorm = hyper[9];
  let scale = select(min(1.0, maxNorm / (gradNorm[0] + 1e-6)), 1.0, maxNorm < 0.0);
  let p0 = params[i];
  let g = grads[i] * scale + hyper[7] * p0;
  let p = p0 - hyper[8] * p0;
  let mi = hyper[1] * m[i] + hyper[2] * g;
  let vi = hyper[3] * v[i] + hyper[4] * g * g;
  params[i] = p - hyper[0] * mi / (sqrt(vi) * hyper[5] + hyper[6]);
  m[i] = mi;
  v[i] = vi;
}
