// Unfused InfoNCE baseline for bench/infonce.ts, the way a framework would run it: a matmul-like
// kernel writes the full score matrix S [K·B·T, NC] to memory, a row kernel takes its logsumexp,
// a softmax-gradient kernel writes G = dL/dS [K·B·T, NC], and two more kernels reduce G against the
// candidates (dPreds) and the predictions (dZ). One output element per invocation.
// Layouts as in src/shaders/infonce.ts. MODE: 0 batch, 1 batch-time, 2 sampled.

override B: u32;
override T: u32;
override C4: u32;
override K: u32;
override MODE: u32;
override N: u32 = 1u;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> z: array<vec4f>;
@group(0) @binding(1) var<storage, read> preds: array<vec4f>;
@group(0) @binding(2) var<storage, read> negIdx: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;

@group(0) @binding(0) var<storage, read> Sin: array<f32>;
@group(0) @binding(1) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(2) var<storage, read_write> rowLse: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowHit: array<u32>;

@group(0) @binding(0) var<storage, read> Sg: array<f32>;
@group(0) @binding(1) var<storage, read> lseIn: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;

@group(0) @binding(0) var<storage, read> zd: array<vec4f>;
@group(0) @binding(1) var<storage, read> Gin: array<f32>;
@group(0) @binding(2) var<storage, read> negIdxD: array<u32>;
@group(0) @binding(3) var<storage, read_write> dPreds: array<vec4f>;

@group(0) @binding(0) var<storage, read> predsZ: array<vec4f>;
@group(0) @binding(1) var<storage, read> Gz: array<f32>;
@group(0) @binding(2) var<storage, read> listBase: array<u32>;
@group(0) @binding(3) var<storage, read> listEntries: array<u32>;
@group(0) @binding(4) var<storage, read_write> dZ: array<vec4f>;

fn flatId(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

fn nc() -> u32 {
  if (MODE == 0u) { return B; }
  if (MODE == 1u) { return B * T; }
  return N + 1u;
}

struct RowId { k: u32, b: u32, t: u32, valid: bool }

fn rowId(row: u32) -> RowId {
  let t = row % T;
  let k = row / (B * T) + 1u;
  return RowId(k, (row / T) % B, t, t + k < T);
}

fn posSlot(r: RowId) -> u32 {
  if (MODE == 0u) { return r.b; }
  if (MODE == 1u) { return r.b * T + r.t + r.k; }
  return 0u;
}

fn frameOf(row: u32, r: RowId, j: u32, neg: u32) -> u32 {
  if (MODE == 0u) { return j * T + r.t + r.k; }
  if (MODE == 1u) { return j; }
  if (j == 0u) { return r.b * T + r.t + r.k; }
  return min(neg, B * T - 1u);
}

@compute @workgroup_size(WG)
fn scores(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flatId(gid, nwg);
  let n = nc();
  if (e >= K * B * T * n) { return; }
  let row = e / n;
  let j = e % n;
  let r = rowId(row);
  if (!r.valid) { S[e] = 0.0; return; }
  var neg = 0u;
  if (MODE == 2u && j > 0u) { neg = negIdx[row * N + j - 1u]; }
  let f = frameOf(row, r, j, neg);
  var acc = 0.0;
  for (var c = 0u; c < C4; c++) { acc += dot(preds[row * C4 + c], z[f * C4 + c]); }
  S[e] = acc;
}

@compute @workgroup_size(WG)
fn rowStats(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= K * B * T) { return; }
  let r = rowId(row);
  if (!r.valid) { rowLoss[row] = 0.0; rowLse[row] = 0.0; rowHit[row] = 0u; return; }
  let n = nc();
  let p = posSlot(r);
  var m = -3.0e38;
  var other = -3.0e38;
  for (var j = 0u; j < n; j++) {
    let v = Sin[row * n + j];
    m = max(m, v);
    if (j != p) { other = max(other, v); }
  }
  var s = 0.0;
  for (var j = 0u; j < n; j++) { s += exp(Sin[row * n + j] - m); }
  let pos = Sin[row * n + p];
  rowLse[row] = m + log(s);
  rowLoss[row] = (m - pos) + log(s);
  rowHit[row] = select(0u, 1u, pos >= other);
}

@compute @workgroup_size(WG)
fn softmaxGrad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flatId(gid, nwg);
  let n = nc();
  if (e >= K * B * T * n) { return; }
  let row = e / n;
  let r = rowId(row);
  if (!r.valid) { G[e] = 0.0; return; }
  let w = 1.0 / f32(K * B * (T - r.k));
  G[e] = w * (exp(Sg[e] - lseIn[row]) - select(0.0, 1.0, e % n == posSlot(r)));
}

@compute @workgroup_size(WG)
fn gradPreds(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flatId(gid, nwg);
  if (e >= K * B * T * C4) { return; }
  let row = e / C4;
  let c = e % C4;
  let r = rowId(row);
  let n = nc();
  var acc = vec4f(0.0);
  if (r.valid) {
    for (var j = 0u; j < n; j++) {
      var neg = 0u;
      if (MODE == 2u && j > 0u) { neg = negIdxD[row * N + j - 1u]; }
      acc += Gin[row * n + j] * zd[frameOf(row, r, j, neg) * C4 + c];
    }
  }
  dPreds[e] = acc;
}

@compute @workgroup_size(WG)
fn gradFrames(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flatId(gid, nwg);
  if (e >= B * T * C4) { return; }
  let f = e / C4;
  let c = e % C4;
  let bf = f / T;
  let s = f % T;
  let n = nc();
  var acc = vec4f(0.0);
  if (MODE == 0u) {
    for (var k = 1u; k <= min(K, s); k++) {
      for (var b = 0u; b < B; b++) {
        let row = ((k - 1u) * B + b) * T + s - k;
        acc += Gz[row * n + bf] * predsZ[row * C4 + c];
      }
    }
  } else if (MODE == 1u) {
    for (var row = 0u; row < K * B * T; row++) {
      acc += Gz[row * n + f] * predsZ[row * C4 + c];   // invalid rows hold G = 0
    }
  } else {
    for (var k = 1u; k <= min(K, s); k++) {
      let row = ((k - 1u) * B + bf) * T + s - k;
      acc += Gz[row * n] * predsZ[row * C4 + c];
    }
    for (var i = listBase[f]; i < listBase[f + 1u]; i++) {
      let ent = listEntries[i];
      let row = ent / N;
      acc += Gz[row * n + 1u + ent % N] * predsZ[row * C4 + c];
    }
  }
  dZ[e] = acc;
}
