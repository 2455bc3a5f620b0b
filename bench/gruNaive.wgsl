// The per-step baseline for bench/gru.ts: what an RNN looks like in a framework that runs a GRU as
// one call per time step. Forward: one dispatch per step (input and hidden projections and the
// gates of step t for every (b, unit)). Backward: one dispatch per step in reverse, one for dh0,
// then one plain kernel each for dW_ih, dW_hh, the biases and dx. One invocation per output
// element, scalar loops, no tiling. The step index comes from a per-step u32 binding.
// Layouts as in src/shaders/gru.ts; dG here is [B, T, 4, H] (dr, dz, dn, r ⊙ dn), gz [B, T, H].

override B: u32;
override T: u32;
override C: u32;
override H: u32;
override WG: u32 = 64;
override ACCUMULATE: bool = false;

fn sigmoid(a: f32) -> f32 {
  return 1.0 / (1.0 + exp(-a));
}

fn tanhSafe(a: f32) -> f32 {
  return tanh(clamp(a, -15.0, 15.0));
}

fn flatIndex(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// --- forward step -----------------------------------------------------------------------------
@group(0) @binding(0) var<storage, read> fx: array<f32>;
@group(0) @binding(1) var<storage, read> fwih: array<f32>;
@group(0) @binding(2) var<storage, read> fwhh: array<f32>;
@group(0) @binding(3) var<storage, read> fbih: array<f32>;
@group(0) @binding(4) var<storage, read> fbhh: array<f32>;
@group(0) @binding(5) var<storage, read> fh0: array<f32>;
@group(0) @binding(6) var<storage, read_write> fout: array<f32>;
@group(0) @binding(7) var<storage, read_write> fsaved: array<f32>;
@group(0) @binding(8) var<storage, read> fstep: array<u32>;

@compute @workgroup_size(WG)
fn forwardStep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= B * H) { return; }
  let b = i / H;
  let j = i % H;
  let t = fstep[0];
  let m = b * T + t;
  var a = array<f32, 3>();
  var g = array<f32, 3>();
  for (var q = 0u; q < 3u; q++) {
    var si = fbih[q * H + j];
    for (var c = 0u; c < C; c++) { si += fwih[(q * H + j) * C + c] * fx[m * C + c]; }
    var sh = fbhh[q * H + j];
    for (var k = 0u; k < H; k++) {
      var hk: f32;
      if (t == 0u) { hk = fh0[b * H + k]; } else { hk = fout[(m - 1u) * H + k]; }
      sh += fwhh[(q * H + j) * H + k] * hk;
    }
    a[q] = si;
    g[q] = sh;
  }
  let r = sigmoid(a[0] + g[0]);
  let z = sigmoid(a[1] + g[1]);
  let n = tanhSafe(a[2] + r * g[2]);
  var hp: f32;
  if (t == 0u) { hp = fh0[b * H + j]; } else { hp = fout[(m - 1u) * H + j]; }
  fout[m * H + j] = (1.0 - z) * n + z * hp;
  fsaved[(m * 4u) * H + j] = r;
  fsaved[(m * 4u + 1u) * H + j] = z;
  fsaved[(m * 4u + 2u) * H + j] = n;
  fsaved[(m * 4u + 3u) * H + j] = g[2];
}

// --- backward step (t = step; t = T means "dh0 from step 0's results") -----------------------
@group(0) @binding(0) var<storage, read> bsaved: array<f32>;
@group(0) @binding(1) var<storage, read> bdOut: array<f32>;
@group(0) @binding(2) var<storage, read> bout: array<f32>;
@group(0) @binding(3) var<storage, read> bh0: array<f32>;
@group(0) @binding(4) var<storage, read> bwhh: array<f32>;
@group(0) @binding(5) var<storage, read> bdhT: array<f32>;
@group(0) @binding(6) var<storage, read_write> bdG: array<f32>;
@group(0) @binding(7) var<storage, read_write> bgz: array<f32>;
@group(0) @binding(8) var<storage, read_write> bdh0: array<f32>;
@group(0) @binding(9) var<storage, read> bstep: array<u32>;

/** dL/dh_t for unit j of sequence b from step t + 1's results (or dhT at the last step). */
fn carryInto(b: u32, t: u32, j: u32) -> f32 {
  if (t + 1u == T) { return bdhT[b * H + j]; }
  let m1 = b * T + t + 1u;
  var s = bgz[m1 * H + j];
  for (var k = 0u; k < H; k++) {
    s += bdG[(m1 * 4u) * H + k] * bwhh[k * H + j];
    s += bdG[(m1 * 4u + 1u) * H + k] * bwhh[(H + k) * H + j];
    s += bdG[(m1 * 4u + 3u) * H + k] * bwhh[(2u * H + k) * H + j];
  }
  return s;
}

@compute @workgroup_size(WG)
fn backwardStep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= B * H) { return; }
  let b = i / H;
  let j = i % H;
  let step = bstep[0];
  if (step == T) {
    // dh0 = carry into "step −1".
    var s = bgz[(b * T) * H + j];
    let m0 = b * T;
    for (var k = 0u; k < H; k++) {
      s += bdG[(m0 * 4u) * H + k] * bwhh[k * H + j];
      s += bdG[(m0 * 4u + 1u) * H + k] * bwhh[(H + k) * H + j];
      s += bdG[(m0 * 4u + 3u) * H + k] * bwhh[(2u * H + k) * H + j];
    }
    bdh0[b * H + j] = s;
    return;
  }
  let t = step;
  let m = b * T + t;
  let g = bdOut[m * H + j] + carryInto(b, t, j);
  let r = bsaved[(m * 4u) * H + j];
  let z = bsaved[(m * 4u + 1u) * H + j];
  let n = bsaved[(m * 4u + 2u) * H + j];
  let hn = bsaved[(m * 4u + 3u) * H + j];
  var hp: f32;
  if (t == 0u) { hp = bh0[b * H + j]; } else { hp = bout[(m - 1u) * H + j]; }
  let dnPre = g * (1.0 - z) * (1.0 - n * n);
  bdG[(m * 4u) * H + j] = dnPre * hn * r * (1.0 - r);
  bdG[(m * 4u + 1u) * H + j] = g * (hp - n) * z * (1.0 - z);
  bdG[(m * 4u + 2u) * H + j] = dnPre;
  bdG[(m * 4u + 3u) * H + j] = dnPre * r;
  bgz[m * H + j] = g * z;
}

// --- weight and bias gradients: one invocation per element of dW_ih, dW_hh, db_ih, db_hh -------
@group(0) @binding(0) var<storage, read> wdG: array<f32>;
@group(0) @binding(1) var<storage, read> wx: array<f32>;
@group(0) @binding(2) var<storage, read> wout: array<f32>;
@group(0) @binding(3) var<storage, read> wh0: array<f32>;
@group(0) @binding(4) var<storage, read_write> wdWih: array<f32>;
@group(0) @binding(5) var<storage, read_write> wdWhh: array<f32>;
@group(0) @binding(6) var<storage, read_write> wdBih: array<f32>;
@group(0) @binding(7) var<storage, read_write> wdBhh: array<f32>;

@compute @workgroup_size(WG)
fn weightGrads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var i = flatIndex(gid, nwg);
  let nIh = 3u * H * C;
  let nHh = 3u * H * H;
  if (i < nIh) {
    let k = i / C;
    let c = i % C;
    var s = 0.0;
    for (var m = 0u; m < B * T; m++) { s += wdG[(m * 4u + k / H) * H + k % H] * wx[m * C + c]; }
    wdWih[i] = s;
    return;
  }
  i -= nIh;
  if (i < nHh) {
    let k = i / H;
    let c = i % H;
    var blk = k / H;
    if (blk == 2u) { blk = 3u; }
    var s = 0.0;
    for (var m = 0u; m < B * T; m++) {
      var hp: f32;
      if (m % T == 0u) { hp = wh0[(m / T) * H + c]; } else { hp = wout[(m - 1u) * H + c]; }
      s += wdG[(m * 4u + blk) * H + k % H] * hp;
    }
    wdWhh[i] = s;
    return;
  }
  i -= nHh;
  if (i < 6u * H) {
    let hidden = i >= 3u * H;
    let k = i % (3u * H);
    var blk = k / H;
    if (hidden && blk == 2u) { blk = 3u; }
    var s = 0.0;
    for (var m = 0u; m < B * T; m++) { s += wdG[(m * 4u + blk) * H + k % H]; }
    if (hidden) { wdBhh[k] = s; } else { wdBih[k] = s; }
  }
}

// --- dx: one invocation per element ------------------------------------------------------------
@group(0) @binding(0) var<storage, read> xdG: array<f32>;
@group(0) @binding(1) var<storage, read> xwih: array<f32>;
@group(0) @binding(2) var<storage, read_write> xdx: array<f32>;

@compute @workgroup_size(WG)
fn inputGrad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= B * T * C) { return; }
  let m = i / C;
  let c = i % C;
  var s = 0.0;
  for (var k = 0u; k < 3u * H; k++) { s += xdG[(m * 4u + k / H) * H + k % H] * xwih[k * C + c]; }
  if (ACCUMULATE) { s += xdx[i]; }
  xdx[i] = s;
}
