// out[i] = x[i] * alpha + beta for i < N. The smallest real kernel: used by the runtime tests and
// the browser smoke test to prove a whole upload -> dispatch -> download path.
override N: u32;
override alpha: f32 = 1.0;
override beta: f32 = 0.0;
override WG: u32 = 64;

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // 2-D grid so N may exceed 65535 workgroups * WG.
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= N) { return; }
  out[i] = x[i] * alpha + beta;
}
