// Workgroup-memory tiled score GEMM for InfoNCE's batch and batch-time modes (appended to
// infonce.wgsl, whose bindings, online logsumexp and dScore it shares; logsumexp stays f32 and in
// candidate order). The register kernels (forwardShared / rowsShared) let every invocation load its
// own copies of the 8 candidate frames z it scores; here the workgroup's invocations all score the
// SAME candidates, so each stage copies 8 candidates × CQ channel quads of z into workgroup memory
// once (one barrier), every invocation multiplies its 4 rows of preds against them, and a second
// barrier frees the stage. For that, a workgroup's rows must share their candidate set:
//   batch-time: every row scores every frame, so invocations map to rows as in forwardShared;
//   batch: rows (k, b, t) score the frames j·T + s of their target step s = t + k, so a workgroup
//          takes one s and its invocations run over (k, b-tile); s runs over 1 .. T + K − 2 so that
//          every row (k, b, t) appears once; rows with s ≥ T (no target) are cleared.
// Sums over c run in increasing order as in the register kernels, and each row's candidates are
// absorbed in increasing order: deterministic. Barriers stay in uniform control flow: invocations
// without a row still stage and wait, and only batch workgroups (uniform s ≥ T) return early.

override CQ: u32 = 16u;   // channel quads per stage
var<workgroup> sZ: array<vec4f, 8u * CQ>;

struct TiledLane { k: u32, t: u32, s: u32, b0: u32, exists: bool, valid: bool }

fn tiledGroupsPerStep() -> u32 {
  return (K * ((B + 3u) / 4u) + WG - 1u) / WG;
}

// The flat workgroup index g (uniform) and lane → rows (k, b0..b0+3, t).
fn tiledLane(g: u32, lid: u32) -> TiledLane {
  let bTiles = (B + 3u) / 4u;
  if (MODE == 0u) {
    let gps = tiledGroupsPerStep();
    let s = g / gps + 1u;
    let l = (g % gps) * WG + lid;
    let k = l / bTiles + 1u;
    let exists = l < K * bTiles && k <= s && s - k < T;
    let kk = select(1u, k, exists);
    let t = select(0u, s - kk, exists);
    return TiledLane(kk, t, s, (l % bTiles) * 4u, exists, exists && s < T);
  }
  let id = g * WG + lid;
  let exists = id < K * bTiles * T;
  let t = id % T;
  let k = min(id / (T * bTiles) + 1u, K);
  return TiledLane(k, t, t + k, ((id / T) % bTiles) * 4u, exists, exists && t + k < T);
}

fn tiledRows(l: TiledLane) -> vec4u {
  let bs = vec4u(l.b0) + vec4u(0u, 1u, 2u, 3u);
  return (vec4u((l.k - 1u) * B) + min(bs, vec4u(B - 1u))) * T + vec4u(l.t);
}

// Copies candidates j0 .. j0 + 7, channel quads c0 .. c0 + cn − 1, into sZ[jj · CQ + c].
fn stageCandidates(lid: u32, j0: u32, s: u32, c0: u32, cn: u32) {
  for (var e = lid; e < 8u * cn; e += WG) {
    let jj = e / cn;
    let c = e % cn;
    sZ[jj * CQ + c] = z[candidateFrame(j0 + jj, s) * C4 + c0 + c];
  }
}

// 4 rows (preds offsets p) × the 8 staged candidates, channel quads c0 .. c0 + cn − 1, added to acc
// (a[0..3] candidates 0..3 of rows 0..3, a[4..7] candidates 4..7: scores8's layout).
fn scoreStage(acc: ptr<function, array<vec4f, 8>>, p: vec4u, c0: u32, cn: u32) {
  for (var c = 0u; c < cn; c++) {
    let p0 = preds[p.x + c0 + c]; let p1 = preds[p.y + c0 + c]; let p2 = preds[p.z + c0 + c]; let p3 = preds[p.w + c0 + c];
    let z0 = sZ[c]; let z1 = sZ[CQ + c]; let z2 = sZ[2u * CQ + c]; let z3 = sZ[3u * CQ + c];
    let z4 = sZ[4u * CQ + c]; let z5 = sZ[5u * CQ + c]; let z6 = sZ[6u * CQ + c]; let z7 = sZ[7u * CQ + c];
    (*acc)[0] += vec4f(dot(p0, z0), dot(p0, z1), dot(p0, z2), dot(p0, z3));
    (*acc)[1] += vec4f(dot(p1, z0), dot(p1, z1), dot(p1, z2), dot(p1, z3));
    (*acc)[2] += vec4f(dot(p2, z0), dot(p2, z1), dot(p2, z2), dot(p2, z3));
    (*acc)[3] += vec4f(dot(p3, z0), dot(p3, z1), dot(p3, z2), dot(p3, z3));
    (*acc)[4] += vec4f(dot(p0, z4), dot(p0, z5), dot(p0, z6), dot(p0, z7));
    (*acc)[5] += vec4f(dot(p1, z4), dot(p1, z5), dot(p1, z6), dot(p1, z7));
    (*acc)[6] += vec4f(dot(p2, z4), dot(p2, z5), dot(p2, z6), dot(p2, z7));
    (*acc)[7] += vec4f(dot(p3, z4), dot(p3, z5), dot(p3, z6), dot(p3, z7));
  }
}

// Loop bounds that LLVM cannot see as constants. lavapipe compiles a barrier by splitting the shader
// at it and saving every live value; with constant bounds it fully unrolls the candidate and stage
// loops around their barriers, and one pipeline took 40–60 s to compile (measured, C = 76,
// batch-time). The values are the same: z holds B·T·C4 ≥ max(C4, candidates) vec4s.
fn runtimeC4() -> u32 {
  return min(C4, arrayLength(&z));
}

fn runtimeCandidates() -> u32 {
  return min(candidateCount(), arrayLength(&z));
}

// Scores of the 4 rows against candidates j0 .. j0 + 7 over all channels, staged CQ quads at a time.
fn tiledScores(lid: u32, j0: u32, s: u32, p: vec4u) -> array<vec4f, 8> {
  var acc = array<vec4f, 8>();
  for (var c0 = 0u; c0 < runtimeC4(); c0 += CQ) {
    let cn = min(CQ, C4 - c0);
    stageCandidates(lid, j0, s, c0, cn);
    workgroupBarrier();
    scoreStage(&acc, p, c0, cn);
    workgroupBarrier();
  }
  return acc;
}

@compute @workgroup_size(WG)
fn forwardTiled(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let l = tiledLane(g, lid);
  let bs = vec4u(l.b0) + vec4u(0u, 1u, 2u, 3u);
  let rows = tiledRows(l);
  if (MODE == 0u && g / tiledGroupsPerStep() + 1u >= T) {   // uniform: this workgroup's s has no target
    for (var i = 0u; i < 4u; i++) { if (l.exists && bs[i] < B) { clearRow(rows[i]); } }
    return;
  }
  let p = rows * C4;
  let posSlot = select(bs * T + vec4u(l.s), bs, MODE == 0u);
  let nc = runtimeCandidates();
  var r0 = newRow(); var r1 = newRow(); var r2 = newRow(); var r3 = newRow();
  for (var j0 = 0u; j0 < nc; j0 += 8u) {
    let a = tiledScores(lid, j0, l.s, p);
    let ja = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
    let jb = ja + vec4u(4u);
    let la = ja < vec4u(nc);
    let lb = jb < vec4u(nc);
    absorb(&r0, a[0], la, ja == vec4u(posSlot.x)); absorb(&r0, a[4], lb, jb == vec4u(posSlot.x));
    absorb(&r1, a[1], la, ja == vec4u(posSlot.y)); absorb(&r1, a[5], lb, jb == vec4u(posSlot.y));
    absorb(&r2, a[2], la, ja == vec4u(posSlot.z)); absorb(&r2, a[6], lb, jb == vec4u(posSlot.z));
    absorb(&r3, a[3], la, ja == vec4u(posSlot.w)); absorb(&r3, a[7], lb, jb == vec4u(posSlot.w));
  }
  if (l.valid) {
    finish(rows.x, r0);
    if (bs.y < B) { finish(rows.y, r1); }
    if (bs.z < B) { finish(rows.z, r2); }
    if (bs.w < B) { finish(rows.w, r3); }
  } else if (l.exists) {
    for (var i = 0u; i < 4u; i++) { if (bs[i] < B) { clearRow(rows[i]); } }
  }
}

// dPreds of the 4 rows: per candidate tile the scores (staged as above), dS, then a second staged
// pass over the channels adding dS · z. The first tile stores, later ones add (as rowsShared).
@compute @workgroup_size(WG)
fn rowsTiled(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let l = tiledLane(g, lid);
  let bs = vec4u(l.b0) + vec4u(0u, 1u, 2u, 3u);
  let ownsRow = (bs < vec4u(B)) & vec4<bool>(l.exists);
  let rows = tiledRows(l);
  let p = rows * C4;
  if (MODE == 0u && g / tiledGroupsPerStep() + 1u >= T) {
    for (var i = 0u; i < 4u; i++) {
      if (ownsRow[i]) { for (var c = 0u; c < C4; c++) { grad[p[i] + c] = vec4f(0.0); } }
    }
    return;
  }
  let posSlot = select(bs * T + vec4u(l.s), bs, MODE == 0u);
  let lse = vec4f(lseIn[rows.x], lseIn[rows.y], lseIn[rows.z], lseIn[rows.w]);
  let w = stepWeight(l.k);
  let nc = runtimeCandidates();
  let store = ownsRow & vec4<bool>(l.valid);
  for (var j0 = 0u; j0 < nc; j0 += 8u) {
    let a = tiledScores(lid, j0, l.s, p);
    let ja = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
    let jb = ja + vec4u(4u);
    let la = ja < vec4u(nc);
    let lb = jb < vec4u(nc);
    let gA0 = dScore(a[0], lse.x, w, la, ja == vec4u(posSlot.x)); let gB0 = dScore(a[4], lse.x, w, lb, jb == vec4u(posSlot.x));
    let gA1 = dScore(a[1], lse.y, w, la, ja == vec4u(posSlot.y)); let gB1 = dScore(a[5], lse.y, w, lb, jb == vec4u(posSlot.y));
    let gA2 = dScore(a[2], lse.z, w, la, ja == vec4u(posSlot.z)); let gB2 = dScore(a[6], lse.z, w, lb, jb == vec4u(posSlot.z));
    let gA3 = dScore(a[3], lse.w, w, la, ja == vec4u(posSlot.w)); let gB3 = dScore(a[7], lse.w, w, lb, jb == vec4u(posSlot.w));
    let first = j0 == 0u;
    for (var c0 = 0u; c0 < runtimeC4(); c0 += CQ) {
      let cn = min(CQ, C4 - c0);
      stageCandidates(lid, j0, l.s, c0, cn);
      workgroupBarrier();
      for (var c = 0u; c < cn; c++) {
        let z0 = sZ[c]; let z1 = sZ[CQ + c]; let z2 = sZ[2u * CQ + c]; let z3 = sZ[3u * CQ + c];
        let z4 = sZ[4u * CQ + c]; let z5 = sZ[5u * CQ + c]; let z6 = sZ[6u * CQ + c]; let z7 = sZ[7u * CQ + c];
        let o = c0 + c;
        if (store.x) {
          storeGrad(p.x + o, gA0.x * z0 + gA0.y * z1 + gA0.z * z2 + gA0.w * z3 + gB0.x * z4 + gB0.y * z5 + gB0.z * z6 + gB0.w * z7, first);
        }
        if (store.y) {
          storeGrad(p.y + o, gA1.x * z0 + gA1.y * z1 + gA1.z * z2 + gA1.w * z3 + gB1.x * z4 + gB1.y * z5 + gB1.z * z6 + gB1.w * z7, first);
        }
        if (store.z) {
          storeGrad(p.z + o, gA2.x * z0 + gA2.y * z1 + gA2.z * z2 + gA2.w * z3 + gB2.x * z4 + gB2.y * z5 + gB2.z * z6 + gB2.w * z7, first);
        }
        if (store.w) {
          storeGrad(p.w + o, gA3.x * z0 + gA3.y * z1 + gA3.z * z2 + gA3.w * z3 + gB3.x * z4 + gB3.y * z5 + gB3.z * z6 + gB3.w * z7, first);
        }
      }
      workgroupBarrier();
    }
  }
  // Batch-time rows without a target (their workgroup also holds rows with one).
  for (var i = 0u; i < 4u; i++) {
    if (ownsRow[i] && !l.valid) { for (var c = 0u; c < C4; c++) { grad[p[i] + c] = vec4f(0.0); } }
  }
}
