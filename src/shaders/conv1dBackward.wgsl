// The ReLU backward of a layer without channel norm, fused with the zero-padding in time that
// lets the input-gradient GEMM read a full contiguous span for every input frame:
//   du[b, f, c] = dy[b, f − PADF, c] · (y[b, f − PADF, c] > 0) for PADF ≤ f < PADF + TOUT, else 0.
// y is the layer's post-ReLU output (> 0 exactly where the pre-activation was).
// yT (y) and dT (du) are f32 or f16, aliased by the launcher (conv1d.ts storagePreamble).

override C: u32;
override TOUT: u32;
override TPAD: u32;  // padded frames per batch
override PADF: u32;  // zero frames before frame 0
override TOTAL: u32; // B · TPAD · C

@group(0) @binding(0) var<storage, read_write> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<yT>;
@group(0) @binding(2) var<storage, read_write> du: array<dT>;

@compute @workgroup_size(64)
fn reluGradPad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= TOTAL || i >= arrayLength(&du)) { return; }
  let c = i % C;
  let fb = i / C;
  let b = fb / TPAD;
  let f = fb - b * TPAD;
  var g = 0.0;
  if (f >= PADF && f < PADF + TOUT) {
    let src = min((b * TOUT + f - PADF) * C + c, arrayLength(&dy) - 1u);
    g = select(0.0, dy[src], f32(y[min(src, arrayLength(&y) - 1u)]) > 0.0);
  }
  du[i] = dT(g);
}
