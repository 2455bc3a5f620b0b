// Naive Conv1d baselines for bench/conv.ts: one invocation per output element, no tiling, no
// sharing, weights read in PyTorch's [Cout, Cin, K] layout, activations channels-last [B, T, C]
// like the real kernels. They exist so the speedup of src/shaders/conv1d*.wgsl stays measurable.
override B: u32;
override CIN: u32;
override TIN: u32;
override COUT: u32;
override K: u32;
override S: u32;
override TOUT: u32;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

/** y[b, t, co] = ReLU(bias[co] + Σ_{ci, k} x[b, t·S + k, ci] · w[co, ci, k]) */
@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= B * TOUT * COUT) { return; }
  let co = i % COUT;
  let bt = i / COUT;
  let b = bt / TOUT;
  let t = bt % TOUT;
  var s = bias[co];
  for (var ci = 0u; ci < CIN; ci++) {
    for (var k = 0u; k < K; k++) {
      s += x[(b * TIN + t * S + k) * CIN + ci] * w[(co * CIN + ci) * K + k];
    }
  }
  y[i] = max(s, 0.0);
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> yR: array<f32>;
@group(0) @binding(2) var<storage, read_write> duW: array<f32>;

/** du = dy · (y > 0) */
@compute @workgroup_size(64)
fn reluGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= B * TOUT * COUT) { return; }
  duW[i] = select(0.0, dy[i], yR[i] > 0.0);
}

@group(0) @binding(0) var<storage, read> du: array<f32>;
@group(0) @binding(1) var<storage, read> wR: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

/** dx[b, τ, ci] = Σ_{k, co: τ = t·S + k} du[b, t, co] · w[co, ci, k] */
@compute @workgroup_size(64)
fn inputGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= B * TIN * CIN) { return; }
  let ci = i % CIN;
  let bt = i / CIN;
  let b = bt / TIN;
  let tau = bt % TIN;
  var s = 0.0;
  for (var k = 0u; k < K; k++) {
    if (tau >= k && (tau - k) % S == 0u && (tau - k) / S < TOUT) {
      let t = (tau - k) / S;
      for (var co = 0u; co < COUT; co++) {
        s += du[(b * TOUT + t) * COUT + co] * wR[(co * CIN + ci) * K + k];
      }
    }
  }
  dx[i] = s;
}

@group(0) @binding(0) var<storage, read> xG: array<f32>;
@group(0) @binding(1) var<storage, read> duG: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;

/** dw[co, ci, k] = Σ_{b, t} x[b, t·S + k, ci] · du[b, t, co] */
@compute @workgroup_size(64)
fn weightGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= COUT * CIN * K) { return; }
  let k = i % K;
  let ci = (i / K) % CIN;
  let co = i / (K * CIN);
  var s = 0.0;
  for (var b = 0u; b < B; b++) {
    for (var t = 0u; t < TOUT; t++) {
      s += xG[(b * TIN + t * S + k) * CIN + ci] * duG[(b * TOUT + t) * COUT + co];
    }
  }
  dw[i] = s;
}

@group(0) @binding(0) var<storage, read> duB: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;

/** db[co] = Σ_{b, t} du[b, t, co] */
@compute @workgroup_size(64)
fn biasGrad(@builtin(global_invocation_id) gid: vec3<u32>) {
  let co = gid.x;
  if (co >= COUT) { return; }
  var s = 0.0;
  for (var m = 0u; m < B * TOUT; m++) { s += duB[m * COUT + co]; }
  db[co] = s;
}
