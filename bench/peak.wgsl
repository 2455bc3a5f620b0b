// Peak-throughput probes for the adapter, measured in the same run as the kernels they rate.
// fma: 8 independent vec4 FMA chains per invocation (enough ILP to hide FMA latency on SIMD CPUs
// and GPUs alike); the result is written so the compiler cannot drop the loop.
override ITERS: u32 = 256;
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read_write> sink: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn fmaPeak(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = f32(gid.x) * 1e-7;
  var a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
  var a1 = a0 + 0.01; var a2 = a0 + 0.02; var a3 = a0 + 0.03;
  var a4 = a0 + 0.04; var a5 = a0 + 0.05; var a6 = a0 + 0.06; var a7 = a0 + 0.07;
  let m = vec4<f32>(0.999999);
  let c = vec4<f32>(1e-6);
  for (var i = 0u; i < ITERS; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
  }
  sink[gid.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
override N4: u32;

@compute @workgroup_size(WG)
fn copyPeak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < N4) { dst[i] = src[i]; }
}
