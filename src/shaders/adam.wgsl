// Adam / AdamW over the flat parameter buffer, with clip_grad_norm_'s scale applied on the fly.
// `adamVec4` updates the vec4 part (one vec4 per thread: adjacent threads touch adjacent vec4s);
// `adamTail` the ≤ 3 scalars left when P is not a multiple of 4, through scalar views of the same
// bindings. Both run the same `adamUpdate`, so every element follows one formula.
//
// Per element, in PyTorch's order (torch.optim.Adam/AdamW single-tensor path + clip_grad_norm_):
//   g ← g·scale, scale = min(1, maxNorm / (‖g‖ + 1e-6))     (clip; ‖g‖ from gradNorm.wgsl)
//   g ← g + l2·p                                              (Adam's L2 term; l2 = 0 for AdamW)
//   p ← p − decay·p                                           (AdamW's decoupled decay, decay = lr·wd;
//                                                              0 for Adam. Written as p − (lr·wd)·p
//                                                              rather than p·(1 − lr·wd): 1 − lr·wd
//                                                              rounded to f32 would lose most of the
//                                                              digits of a 1e-6-sized decay)
//   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − stepSize · m / (sqrt(v)·invBc2Sqrt + eps)
// The gradient buffer itself is not modified (torch's clip scales it in place; nothing here reads
// it again within the step, and skipping that write saves 4 of the 32 bytes per element).
//
// Non-finite gradients: when gradNorm.wgsl flagged a NaN/±Inf gradient (stats[1] ≠ 0), every
// thread returns before writing, so params, m and v keep their values for this step.
//
// All bindings are read_write (even hyper, grads and gradNorm, which are only read) so that the
// trainer's arena may place any of them in one GPUBuffer: WebGPU rejects a buffer bound both
// read-only and writable within one dispatch.

override P: u32;       // parameter elements
override P4: u32;      // P / 4, rounded down
override WG: u32 = 64;

// hyper (f32, written by writeAdamHyper in adam.ts; host float64 values rounded once to f32):
const H_STEP_SIZE: u32 = 0u;   // lr / (1 − β1^t)
const H_BETA1: u32 = 1u;
const H_ONE_MINUS_BETA1: u32 = 2u;
const H_BETA2: u32 = 3u;
const H_ONE_MINUS_BETA2: u32 = 4u;
const H_INV_BC2_SQRT: u32 = 5u; // 1 / sqrt(1 − β2^t)
const H_EPS: u32 = 6u;
const H_L2: u32 = 7u;           // Adam: weight decay added to the gradient; AdamW: 0
const H_DECAY: u32 = 8u;        // AdamW: lr · weight decay; Adam: 0
const H_MAX_NORM: u32 = 9u;     // clip threshold; negative = no clipping (avoids Inf arithmetic)

struct AdamOut { p: vec4<f32>, m: vec4<f32>, v: vec4<f32> }

fn clipScale() -> f32 {
  let maxNorm = hyper[H_MAX_NORM];
  return select(min(1.0, maxNorm / (gradNorm[0] + 1e-6)), 1.0, maxNorm < 0.0);
}

fn adamUpdate(p0: vec4<f32>, graw: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>, scale: f32) -> AdamOut {
  let g = fma(vec4<f32>(hyper[H_L2]), p0, graw * scale);
  let p = fma(vec4<f32>(-hyper[H_DECAY]), p0, p0);
  let m = fma(vec4<f32>(hyper[H_BETA1]), m0, hyper[H_ONE_MINUS_BETA1] * g);
  let v = fma(vec4<f32>(hyper[H_BETA2]), v0, hyper[H_ONE_MINUS_BETA2] * (g * g));
  let denom = fma(sqrt(v), vec4<f32>(hyper[H_INV_BC2_SQRT]), vec4<f32>(hyper[H_EPS]));
  return AdamOut(p - hyper[H_STEP_SIZE] * (m / denom), m, v);
}

@group(0) @binding(0) var<storage, read_write> params4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> grads4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> hyper: array<f32>;
// gradNorm: the stats written by gradNorm.wgsl: [0] ‖g‖₂, [1] non-finite flag
@group(0) @binding(5) var<storage, read_write> gradNorm: array<f32>;

@compute @workgroup_size(WG)
fn adamVec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG; // 2-D grid: P4 may exceed 65535·WG
  if (i >= P4 || gradNorm[1] != 0.0) { return; }
  let r = adamUpdate(params4[i], grads4[i], m4[i], v4[i], clipScale());
  params4[i] = r.p;
  m4[i] = r.m;
  v4[i] = r.v;
}

@group(0) @binding(0) var<storage, read_write> params1: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads1: array<f32>;
@group(0) @binding(2) var<storage, read_write> m1: array<f32>;
@group(0) @binding(3) var<storage, read_write> v1: array<f32>;

@compute @workgroup_size(4)
fn adamTail(@builtin(local_invocation_id) lid: vec3<u32>) {
  let i = P4 * 4u + lid.x;
  if (i >= P || gradNorm[1] != 0.0) { return; }
  let r = adamUpdate(vec4<f32>(params1[i]), vec4<f32>(grads1[i]), vec4<f32>(m1[i]), vec4<f32>(v1[i]), clipScale());
  params1[i] = r.p.x;
  m1[i] = r.m.x;
  v1[i] = r.v.x;
}
