// Fused InfoNCE, forward and backward (the backward is the second half of this file).
// Forward: scores z(f)·p of a row's candidates are computed 8 at a time in registers
// and folded into an online logsumexp (running max m, sum s rescaled whenever m grows), so the
// rows × candidates score matrix never exists in memory. Per row it writes the loss, the logsumexp
// (saved for the backward) and whether the positive scored highest; `metrics` then reduces those
// to the loss and per-step accuracies in a fixed order.
//
// Layouts (see infonce.ts): z [B, T, C], preds [K, B, T, C], row outputs [K, B, T], negIdx
// [K, B, T, N]. A row (k, b, t) exists when s = t + k < T; its positive is frame b·T + s.

override B: u32;
override T: u32;
override C4: u32;          // C / 4
override K: u32;
override MODE: u32 = 0u;   // shared-candidate modes: 0 = batch, 1 = batch-time
override N: u32 = 1u;      // sampled negatives per row
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> z: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> preds: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(3) var<storage, read_write> rowLse: array<f32>;
@group(0) @binding(4) var<storage, read_write> rowHit: array<u32>;
@group(0) @binding(5) var<storage, read_write> negIdx: array<u32>;

// Metrics pass bindings.
@group(0) @binding(0) var<storage, read_write> lossIn: array<f32>;
@group(0) @binding(1) var<storage, read_write> hitIn: array<u32>;
@group(0) @binding(2) var<storage, read_write> metrics: array<f32>;

// A finite "minus infinity": exp(NEG_BIG − m) is exactly 0 and NEG_BIG − NEG_BIG is 0, not NaN.
const NEG_BIG: f32 = -3.0e38;

fn flatId(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// Running state of one row: max, rescaled exp-sum, the positive's score, the best other score.
struct Row { m: f32, s: f32, pos: f32, other: f32 }

fn newRow() -> Row {
  return Row(NEG_BIG, 0.0, NEG_BIG, NEG_BIG);
}

fn hmax(v: vec4f) -> f32 {
  return max(max(v.x, v.y), max(v.z, v.w));
}

// Folds 4 scores into the row; `live` masks candidates past the end, `isPos` marks the positive.
fn absorb(r: ptr<function, Row>, a: vec4f, live: vec4<bool>, isPos: vec4<bool>) {
  let v = select(vec4f(NEG_BIG), a, live);
  let m = max((*r).m, hmax(v));
  let e = exp(v - vec4f(m));   // dead slots hold NEG_BIG: exp gives exactly 0
  (*r).s = (*r).s * exp((*r).m - m) + ((e.x + e.y) + (e.z + e.w));
  (*r).m = m;
  (*r).pos = max((*r).pos, hmax(select(vec4f(NEG_BIG), a, live & isPos)));
  (*r).other = max((*r).other, hmax(select(vec4f(NEG_BIG), a, live & !isPos)));
}

// loss = (m − pos) + log s rather than lse − pos: for scores ~1e4 the difference of two nearby
// scores is exact, while lse − pos would lose the ulp of lse (~1e-3) to cancellation.
fn finish(row: u32, r: Row) {
  rowLoss[row] = (r.m - r.pos) + log(r.s);
  rowLse[row] = r.m + log(r.s);
  rowHit[row] = select(0u, 1u, r.pos >= r.other);   // ties count as correct (the oracle's rule)
}

fn clearRow(row: u32) {
  rowLoss[row] = 0.0;
  rowLse[row] = 0.0;
  rowHit[row] = 0u;
}

// ---- batch and batch-time: 4 rows (k, b0..b0+3, t) share every candidate --------------------------
// Invocations run over (k, b-tile, t) with t fastest. Candidates: batch: j < B is frame j·T + s;
// batch-time: j < B·T is frame j. 4 rows × 8 candidates per register tile.

fn candidateCount() -> u32 {
  return select(B * T, B, MODE == 0u);
}

fn candidateFrame(j: u32, s: u32) -> u32 {
  let jc = min(j, candidateCount() - 1u);
  return select(jc, jc * T + s, MODE == 0u);
}

// 4 rows × 8 candidates from the rows' and candidates' vec4 offsets (8 rather than 4 candidates per
// pass halves the reloads of preds: measured 7.2 vs 3.3 GFLOP/s at C = 64 on lavapipe).
fn scores8(p: vec4u, f: vec4u, g: vec4u) -> array<vec4f, 8> {
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var b0 = vec4f(0.0); var b1 = vec4f(0.0); var b2 = vec4f(0.0); var b3 = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let p0 = preds[p.x + c]; let p1 = preds[p.y + c]; let p2 = preds[p.z + c]; let p3 = preds[p.w + c];
    let z0 = z[f.x + c]; let z1 = z[f.y + c]; let z2 = z[f.z + c]; let z3 = z[f.w + c];
    let z4 = z[g.x + c]; let z5 = z[g.y + c]; let z6 = z[g.z + c]; let z7 = z[g.w + c];
    a0 += vec4f(dot(p0, z0), dot(p0, z1), dot(p0, z2), dot(p0, z3));
    a1 += vec4f(dot(p1, z0), dot(p1, z1), dot(p1, z2), dot(p1, z3));
    a2 += vec4f(dot(p2, z0), dot(p2, z1), dot(p2, z2), dot(p2, z3));
    a3 += vec4f(dot(p3, z0), dot(p3, z1), dot(p3, z2), dot(p3, z3));
    b0 += vec4f(dot(p0, z4), dot(p0, z5), dot(p0, z6), dot(p0, z7));
    b1 += vec4f(dot(p1, z4), dot(p1, z5), dot(p1, z6), dot(p1, z7));
    b2 += vec4f(dot(p2, z4), dot(p2, z5), dot(p2, z6), dot(p2, z7));
    b3 += vec4f(dot(p3, z4), dot(p3, z5), dot(p3, z6), dot(p3, z7));
  }
  return array<vec4f, 8>(a0, a1, a2, a3, b0, b1, b2, b3);
}

@compute @workgroup_size(WG)
fn forwardShared(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  let bTiles = (B + 3u) / 4u;
  if (id >= K * bTiles * T) { return; }
  let t = id % T;
  let b0 = ((id / T) % bTiles) * 4u;
  let k = id / (T * bTiles) + 1u;
  let bs = vec4u(b0) + vec4u(0u, 1u, 2u, 3u);
  let rows = (vec4u((k - 1u) * B) + min(bs, vec4u(B - 1u))) * T + vec4u(t);
  let s = t + k;
  if (s >= T) {
    for (var i = 0u; i < 4u; i++) { if (bs[i] < B) { clearRow(rows[i]); } }
    return;
  }
  let p = rows * C4;
  let posSlot = select(bs * T + vec4u(s), bs, MODE == 0u);   // the positive's candidate index per row
  let nc = candidateCount();
  var r0 = newRow(); var r1 = newRow(); var r2 = newRow(); var r3 = newRow();
  for (var j0 = 0u; j0 < nc; j0 += 8u) {
    let ja = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
    let jb = ja + vec4u(4u);
    let fa = vec4u(candidateFrame(ja.x, s), candidateFrame(ja.y, s), candidateFrame(ja.z, s), candidateFrame(ja.w, s)) * C4;
    let fb = vec4u(candidateFrame(jb.x, s), candidateFrame(jb.y, s), candidateFrame(jb.z, s), candidateFrame(jb.w, s)) * C4;
    let la = ja < vec4u(nc);
    let lb = jb < vec4u(nc);
    let a = scores8(p, fa, fb);
    absorb(&r0, a[0], la, ja == vec4u(posSlot.x)); absorb(&r0, a[4], lb, jb == vec4u(posSlot.x));
    absorb(&r1, a[1], la, ja == vec4u(posSlot.y)); absorb(&r1, a[5], lb, jb == vec4u(posSlot.y));
    absorb(&r2, a[2], la, ja == vec4u(posSlot.z)); absorb(&r2, a[6], lb, jb == vec4u(posSlot.z));
    absorb(&r3, a[3], la, ja == vec4u(posSlot.w)); absorb(&r3, a[7], lb, jb == vec4u(posSlot.w));
  }
  finish(rows.x, r0);
  if (bs.y < B) { finish(rows.y, r1); }
  if (bs.z < B) { finish(rows.z, r2); }
  if (bs.w < B) { finish(rows.w, r3); }
}

// ---- sampled: one row per invocation, candidates [positive, negIdx[row, 0..N−1]] ----------------
// No two rows share candidates, so the tile is 1 row × 8 gathered frames. An index ≥ B·T makes the
// row's loss NaN: it must not pass silently as some other frame.

fn sampledFrame(row: u32, slot: u32, pos: u32) -> u32 {
  if (slot == 0u) { return pos; }
  return negIdx[row * N + min(slot, N) - 1u];
}

fn dot8(p: u32, f: vec4u, g: vec4u) -> array<vec4f, 2> {
  var a = vec4f(0.0); var b = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let pv = preds[p + c];
    a += vec4f(dot(pv, z[f.x + c]), dot(pv, z[f.y + c]), dot(pv, z[f.z + c]), dot(pv, z[f.w + c]));
    b += vec4f(dot(pv, z[g.x + c]), dot(pv, z[g.y + c]), dot(pv, z[g.z + c]), dot(pv, z[g.w + c]));
  }
  return array<vec4f, 2>(a, b);
}

@compute @workgroup_size(WG)
fn forwardSampled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= K * B * T) { return; }
  let t = row % T;
  let b = (row / T) % B;
  let k = row / (B * T) + 1u;
  let s = t + k;
  if (s >= T) { clearRow(row); return; }
  let frames = B * T;
  let pos = b * T + s;
  var r = newRow();
  var bad = false;
  for (var j0 = 0u; j0 <= N; j0 += 8u) {
    let ja = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
    let jb = ja + vec4u(4u);
    let fa = vec4u(sampledFrame(row, ja.x, pos), sampledFrame(row, ja.y, pos), sampledFrame(row, ja.z, pos), sampledFrame(row, ja.w, pos));
    let fb = vec4u(sampledFrame(row, jb.x, pos), sampledFrame(row, jb.y, pos), sampledFrame(row, jb.z, pos), sampledFrame(row, jb.w, pos));
    let la = ja <= vec4u(N);
    let lb = jb <= vec4u(N);
    bad = bad || any(la & (fa >= vec4u(frames))) || any(lb & (fb >= vec4u(frames)));
    let a = dot8(row * C4, min(fa, vec4u(frames - 1u)) * C4, min(fb, vec4u(frames - 1u)) * C4);
    absorb(&r, a[0], la, ja == vec4u(0u));
    absorb(&r, a[1], lb, jb == vec4u(0u));
  }
  finish(row, r);
  if (bad) {
    // A NaN cannot be a WGSL constant; min(row, 0u) keeps the bit pattern a runtime value.
    let nan = bitcast<f32>(0x7fc00000u + min(row, 0u));
    rowLoss[row] = nan;
    rowLse[row] = nan;
  }
}

// ---- metrics: [loss, lossPerK[0..K−1], accPerK[0..K−1]] --------------------------------------------
// One workgroup; per step k every thread sums a strided slice of the B·(T−k) valid rows, then a
// fixed tree in workgroup memory. Same order every run, so the same bits every run.

const MWG: u32 = 256u;
var<workgroup> partLoss: array<f32, MWG>;
var<workgroup> partHit: array<u32, MWG>;

@compute @workgroup_size(MWG)
fn reduceMetrics(@builtin(local_invocation_index) lid: u32) {
  var total = 0.0;
  for (var k = 1u; k <= K; k++) {
    let steps = T - k;
    let count = B * steps;
    var acc = 0.0;
    var hits = 0u;
    for (var q = lid; q < count; q += MWG) {
      let row = ((k - 1u) * B + q / steps) * T + q % steps;
      acc += lossIn[row];
      hits += hitIn[row];
    }
    partLoss[lid] = acc;
    partHit[lid] = hits;
    workgroupBarrier();
    for (var stride = MWG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) {
        partLoss[lid] += partLoss[lid + stride];
        partHit[lid] += partHit[lid + stride];
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      let lossK = partLoss[0] / f32(count);
      metrics[k] = lossK;
      metrics[K + k] = f32(partHit[0]) / f32(count);
      total += lossK;
    }
    workgroupBarrier();
  }
  if (lid == 0u) { metrics[0] = total / f32(K); }
}

// =====================================================================================================
// Fused backward. dScore(row, slot) = w_k (exp(score − lse_row) − [slot is the positive]) with
// w_k = 1 / (K·B·(T − k)) (dLoss = 1). Scores are recomputed tile by tile from the saved lse, so the
// rows × candidates matrix never exists. Two passes, each output owned by one invocation and summed
// in a fixed order (deterministic, no atomics):
//   rows*   : dPreds[row] = Σ_slot dScore · z(frame)      — an invocation owns 4 rows (1 if sampled)
//   frames* : dZ[frame]   = Σ_(row,slot)→frame dScore · preds[row] — an invocation owns 4 frames (1)
// The first candidate/row tile stores, later tiles add, so outputs need no clearing beforehand.

@group(0) @binding(2) var<storage, read_write> lseIn: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> negIdxB: array<u32>;
@group(0) @binding(4) var<storage, read_write> listBase: array<u32>;
@group(0) @binding(5) var<storage, read_write> listEntries: array<u32>;

fn stepWeight(k: u32) -> f32 {
  return 1.0 / f32(K * B * (T - k));
}

fn storeGrad(i: u32, v: vec4f, first: bool) {
  if (first) { grad[i] = v; } else { grad[i] += v; }
}

fn dScore(a: vec4f, lse: f32, w: f32, live: vec4<bool>, isPos: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), w * (exp(a - vec4f(lse)) - select(vec4f(0.0), vec4f(1.0), isPos)), live);
}

// ---- dPreds, batch / batch-time: the forward's 4-row × 8-candidate tiles, then dS · Z ---------------
@compute @workgroup_size(WG)
fn rowsShared(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  let bTiles = (B + 3u) / 4u;
  if (id >= K * bTiles * T) { return; }
  let t = id % T;
  let b0 = ((id / T) % bTiles) * 4u;
  let k = id / (T * bTiles) + 1u;
  let bs = vec4u(b0) + vec4u(0u, 1u, 2u, 3u);
  let ownsRow = bs < vec4u(B);   // rows past B are clamped duplicates: computed, never stored
  let rows = (vec4u((k - 1u) * B) + min(bs, vec4u(B - 1u))) * T + vec4u(t);
  let p = rows * C4;
  let s = t + k;
  if (s >= T) {
    for (var i = 0u; i < 4u; i++) {
      if (ownsRow[i]) { for (var c = 0u; c < C4; c++) { grad[p[i] + c] = vec4f(0.0); } }
    }
    return;
  }
  let posSlot = select(bs * T + vec4u(s), bs, MODE == 0u);
  let lse = vec4f(lseIn[rows.x], lseIn[rows.y], lseIn[rows.z], lseIn[rows.w]);
  let w = stepWeight(k);
  let nc = candidateCount();
  for (var j0 = 0u; j0 < nc; j0 += 8u) {
    let ja = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
    let jb = ja + vec4u(4u);
    let fa = vec4u(candidateFrame(ja.x, s), candidateFrame(ja.y, s), candidateFrame(ja.z, s), candidateFrame(ja.w, s)) * C4;
    let fb = vec4u(candidateFrame(jb.x, s), candidateFrame(jb.y, s), candidateFrame(jb.z, s), candidateFrame(jb.w, s)) * C4;
    let la = ja < vec4u(nc);
    let lb = jb < vec4u(nc);
    let a = scores8(p, fa, fb);
    let gA0 = dScore(a[0], lse.x, w, la, ja == vec4u(posSlot.x)); let gB0 = dScore(a[4], lse.x, w, lb, jb == vec4u(posSlot.x));
    let gA1 = dScore(a[1], lse.y, w, la, ja == vec4u(posSlot.y)); let gB1 = dScore(a[5], lse.y, w, lb, jb == vec4u(posSlot.y));
    let gA2 = dScore(a[2], lse.z, w, la, ja == vec4u(posSlot.z)); let gB2 = dScore(a[6], lse.z, w, lb, jb == vec4u(posSlot.z));
    let gA3 = dScore(a[3], lse.w, w, la, ja == vec4u(posSlot.w)); let gB3 = dScore(a[7], lse.w, w, lb, jb == vec4u(posSlot.w));
    let first = j0 == 0u;
    for (var c = 0u; c < C4; c++) {
      let z0 = z[fa.x + c]; let z1 = z[fa.y + c]; let z2 = z[fa.z + c]; let z3 = z[fa.w + c];
      let z4 = z[fb.x + c]; let z5 = z[fb.y + c]; let z6 = z[fb.z + c]; let z7 = z[fb.w + c];
      storeGrad(p.x + c, gA0.x * z0 + gA0.y * z1 + gA0.z * z2 + gA0.w * z3 + gB0.x * z4 + gB0.y * z5 + gB0.z * z6 + gB0.w * z7, first);
      if (ownsRow.y) {
        storeGrad(p.y + c, gA1.x * z0 + gA1.y * z1 + gA1.z * z2 + gA1.w * z3 + gB1.x * z4 + gB1.y * z5 + gB1.z * z6 + gB1.w * z7, first);
      }
      if (ownsRow.z) {
        storeGrad(p.z + c, gA2.x * z0 + gA2.y * z1 + gA2.z * z2 + gA2.w * z3 + gB2.x * z4 + gB2.y * z5 + gB2.z * z6 + gB2.w * z7, first);
      }
      if (ownsRow.w) {
        storeGrad(p.w + c, gA3.x * z0 + gA3.y * z1 + gA3.z * z2 + gA3.w * z3 + gB3.x * z4 + gB3.y * z5 + gB3.z * z6 + gB3.w * z7, first);
      }
    }
  }
}

// ---- dPreds, sampled: one row × 8 gathered candidates per tile -------------------------------------
fn sampledFrameB(row: u32, slot: u32, pos: u32) -> u32 {
  if (slot == 0u) { return pos; }
  return negIdxB[row * N + min(slot, N) - 1u];
}

@compute @workgroup_size(WG)
fn rowsSampled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= K * B * T) { return; }
  let t = row % T;
  let b = (row / T) % B;
  let k = row / (B * T) + 1u;
  let s = t + k;
  let p = row * C4;
  if (s >= T) {
    for (var c = 0u; c < C4; c++) { grad[p + c] = vec4f(0.0); }
    return;
  }
  let last = B * T - 1u;   // out-of-range indices already made the loss NaN; clamp the reads
  let pos = b * T + s;
  let lse = lseIn[row];
  let w = stepWeight(k);
  for (var j0 = 0u; j0 <= N; j0 += 8u) {
    let ja = vec4u(j0) + vec4u(0u, 1u, 2u, 3u);
    let jb = ja + vec4u(4u);
    let fa = min(vec4u(sampledFrameB(row, ja.x, pos), sampledFrameB(row, ja.y, pos), sampledFrameB(row, ja.z, pos), sampledFrameB(row, ja.w, pos)), vec4u(last)) * C4;
    let fb = min(vec4u(sampledFrameB(row, jb.x, pos), sampledFrameB(row, jb.y, pos), sampledFrameB(row, jb.z, pos), sampledFrameB(row, jb.w, pos)), vec4u(last)) * C4;
    let a = dot8(p, fa, fb);
    let gA = dScore(a[0], lse, w, ja <= vec4u(N), ja == vec4u(0u));
    let gB = dScore(a[1], lse, w, jb <= vec4u(N), jb == vec4u(0u));
    let first = j0 == 0u;
    for (var c = 0u; c < C4; c++) {
      storeGrad(p + c, gA.x * z[fa.x + c] + gA.y * z[fa.y + c] + gA.z * z[fa.z + c] + gA.w * z[fa.w + c]
        + gB.x * z[fb.x + c] + gB.y * z[fb.y + c] + gB.z * z[fb.z + c] + gB.w * z[fb.w + c], first);
    }
  }
}

// ---- dZ: frames own their gradient and walk the rows that score them ---------------------------------
// Row bookkeeping is vec4-wide (4 rows per vector, two per tile): private arrays indexed in a loop
// become per-lane scratch memory on lavapipe, which measured several times slower.

// 4 rows: flat index (0 when dead, a safe address), positive frame (never matches when dead), lse, w.
struct Rows4 { row: vec4u, pos: vec4u, lse: vec4f, w: vec4f, live: vec4<bool> }

fn rows4(k: vec4u, b: vec4u, t: vec4u, live: vec4<bool>) -> Rows4 {
  let kk = select(vec4u(1u), k, live);
  let row = select(vec4u(0u), ((kk - 1u) * B + b) * T + t, live);
  let lse = vec4f(lseIn[row.x], lseIn[row.y], lseIn[row.z], lseIn[row.w]);
  let w = select(vec4f(0.0), vec4f(1.0) / vec4f(vec4u(K * B) * (vec4u(T) - kk)), live);
  return Rows4(row, select(vec4u(0xffffffffu), b * T + t + kk, live), lse, w, live);
}

fn dScoreRows(a: vec4f, f: u32, r: Rows4) -> vec4f {
  return select(vec4f(0.0), r.w * (exp(a - r.lse) - select(vec4f(0.0), vec4f(1.0), r.pos == vec4u(f))), r.live);
}

// 4 frames × 8 rows: scores, dS, then dZ of the 4 frames (+)= dS · preds.
fn framesTile(fr: vec4u, owns: vec4<bool>, lo: Rows4, hi: Rows4, first: bool) {
  let f = fr * C4;
  let q = lo.row * C4;
  let r = hi.row * C4;
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var b0 = vec4f(0.0); var b1 = vec4f(0.0); var b2 = vec4f(0.0); var b3 = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let z0 = z[f.x + c]; let z1 = z[f.y + c]; let z2 = z[f.z + c]; let z3 = z[f.w + c];
    let p0 = preds[q.x + c]; let p1 = preds[q.y + c]; let p2 = preds[q.z + c]; let p3 = preds[q.w + c];
    let p4 = preds[r.x + c]; let p5 = preds[r.y + c]; let p6 = preds[r.z + c]; let p7 = preds[r.w + c];
    a0 += vec4f(dot(z0, p0), dot(z0, p1), dot(z0, p2), dot(z0, p3));
    a1 += vec4f(dot(z1, p0), dot(z1, p1), dot(z1, p2), dot(z1, p3));
    a2 += vec4f(dot(z2, p0), dot(z2, p1), dot(z2, p2), dot(z2, p3));
    a3 += vec4f(dot(z3, p0), dot(z3, p1), dot(z3, p2), dot(z3, p3));
    b0 += vec4f(dot(z0, p4), dot(z0, p5), dot(z0, p6), dot(z0, p7));
    b1 += vec4f(dot(z1, p4), dot(z1, p5), dot(z1, p6), dot(z1, p7));
    b2 += vec4f(dot(z2, p4), dot(z2, p5), dot(z2, p6), dot(z2, p7));
    b3 += vec4f(dot(z3, p4), dot(z3, p5), dot(z3, p6), dot(z3, p7));
  }
  let gA0 = dScoreRows(a0, fr.x, lo); let gB0 = dScoreRows(b0, fr.x, hi);
  let gA1 = dScoreRows(a1, fr.y, lo); let gB1 = dScoreRows(b1, fr.y, hi);
  let gA2 = dScoreRows(a2, fr.z, lo); let gB2 = dScoreRows(b2, fr.z, hi);
  let gA3 = dScoreRows(a3, fr.w, lo); let gB3 = dScoreRows(b3, fr.w, hi);
  for (var c = 0u; c < C4; c++) {
    let p0 = preds[q.x + c]; let p1 = preds[q.y + c]; let p2 = preds[q.z + c]; let p3 = preds[q.w + c];
    let p4 = preds[r.x + c]; let p5 = preds[r.y + c]; let p6 = preds[r.z + c]; let p7 = preds[r.w + c];
    storeGrad(f.x + c, gA0.x * p0 + gA0.y * p1 + gA0.z * p2 + gA0.w * p3 + gB0.x * p4 + gB0.y * p5 + gB0.z * p6 + gB0.w * p7, first);
    if (owns.y) {
      storeGrad(f.y + c, gA1.x * p0 + gA1.y * p1 + gA1.z * p2 + gA1.w * p3 + gB1.x * p4 + gB1.y * p5 + gB1.z * p6 + gB1.w * p7, first);
    }
    if (owns.z) {
      storeGrad(f.z + c, gA2.x * p0 + gA2.y * p1 + gA2.z * p2 + gA2.w * p3 + gB2.x * p4 + gB2.y * p5 + gB2.z * p6 + gB2.w * p7, first);
    }
    if (owns.w) {
      storeGrad(f.w + c, gA3.x * p0 + gA3.y * p1 + gA3.z * p2 + gA3.w * p3 + gB3.x * p4 + gB3.y * p5 + gB3.z * p6 + gB3.w * p7, first);
    }
  }
}

// 1 frame × 8 rows (sampled mode, where no two frames share their rows).
fn frameTile(f: u32, lo: Rows4, hi: Rows4, first: bool) {
  let o = f * C4;
  let q = lo.row * C4;
  let r = hi.row * C4;
  var a = vec4f(0.0); var b = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let zf = z[o + c];
    a += vec4f(dot(zf, preds[q.x + c]), dot(zf, preds[q.y + c]), dot(zf, preds[q.z + c]), dot(zf, preds[q.w + c]));
    b += vec4f(dot(zf, preds[r.x + c]), dot(zf, preds[r.y + c]), dot(zf, preds[r.z + c]), dot(zf, preds[r.w + c]));
  }
  let gA = dScoreRows(a, f, lo);
  let gB = dScoreRows(b, f, hi);
  for (var c = 0u; c < C4; c++) {
    storeGrad(o + c, gA.x * preds[q.x + c] + gA.y * preds[q.y + c] + gA.z * preds[q.z + c] + gA.w * preds[q.w + c]
      + gB.x * preds[r.x + c] + gB.y * preds[r.y + c] + gB.z * preds[r.z + c] + gB.w * preds[r.w + c], first);
  }
}

fn zeroFrame(f: u32) {
  for (var c = 0u; c < C4; c++) { grad[f * C4 + c] = vec4f(0.0); }
}

// Rows q..q+3 of the frames' row list: batch: q ∈ [0, K·B) is (k, b, s − k), scoring frames at s;
// batch-time: q ∈ [0, K·B·T) is every row.
fn sharedRows(q: vec4u, s: u32, nq: u32) -> Rows4 {
  if (MODE == 0u) {
    let k = q / B + 1u;
    let live = (q < vec4u(nq)) & (k <= vec4u(s));
    return rows4(k, q % B, select(vec4u(0u), vec4u(s) - k, live), live);
  }
  let k = q / (B * T) + 1u;
  let t = q % T;
  return rows4(k, (q / T) % B, t, (q < vec4u(nq)) & (t + k < vec4u(T)));
}

// batch: frames (b'0..b'0+3, s) are scored by the K·B rows (k, b, s − k), k ≤ s.
// batch-time: every frame is scored by every valid row; tiles of 8 invalid rows are skipped.
@compute @workgroup_size(WG)
fn framesShared(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatId(gid, nwg);
  let bTiles = (B + 3u) / 4u;
  if (id >= bTiles * T) { return; }
  let s = id % T;
  let bs = vec4u((id / T) * 4u) + vec4u(0u, 1u, 2u, 3u);
  let owns = bs < vec4u(B);
  let fr = min(bs, vec4u(B - 1u)) * T + vec4u(s);
  let nq = select(K * B * T, K * B, MODE == 0u);
  var first = true;
  for (var q0 = 0u; q0 < nq; q0 += 8u) {
    let qa = vec4u(q0) + vec4u(0u, 1u, 2u, 3u);
    let lo = sharedRows(qa, s, nq);
    let hi = sharedRows(qa + 4u, s, nq);
    if (!any(lo.live) && !any(hi.live)) { continue; }
    framesTile(fr, owns, lo, hi, first);
    first = false;
  }
  if (first) {   // frames no row scores (batch: s = 0)
    for (var i = 0u; i < 4u; i++) { if (owns[i]) { zeroFrame(fr[i]); } }
  }
}

// sampled: frame f = b·T + s is the positive of rows (k, b, s − k), k ≤ min(K, s), and a negative
// of the entries row·N + slot listed in listEntries[listBase[f] .. listBase[f+1]) (built by
// infonceSampler.wgsl, in increasing order). One frame per invocation, 8 rows per tile.
@compute @workgroup_size(WG)
fn framesSampled(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let f = flatId(gid, nwg);
  if (f >= B * T) { return; }
  let b = vec4u(f / T);
  let s = f % T;
  var first = true;
  let kMax = min(K, s);
  for (var k0 = 1u; k0 <= kMax; k0 += 8u) {
    let ka = vec4u(k0) + vec4u(0u, 1u, 2u, 3u);
    let kb = ka + 4u;
    let la = ka <= vec4u(kMax);
    let lb = kb <= vec4u(kMax);
    frameTile(f, rows4(ka, b, select(vec4u(0u), vec4u(s) - ka, la), la),
      rows4(kb, b, select(vec4u(0u), vec4u(s) - kb, lb), lb), first);
    first = false;
  }
  let e1 = listBase[f + 1u];
  for (var e0 = listBase[f]; e0 < e1; e0 += 8u) {
    let ea = vec4u(e0) + vec4u(0u, 1u, 2u, 3u);
    let eb = ea + 4u;
    let ca = min(ea, vec4u(e1 - 1u));
    let cb = min(eb, vec4u(e1 - 1u));
    let ra = vec4u(listEntries[ca.x], listEntries[ca.y], listEntries[ca.z], listEntries[ca.w]) / N;
    let rb = vec4u(listEntries[cb.x], listEntries[cb.y], listEntries[cb.z], listEntries[cb.w]) / N;
    var lo = rows4(ra / (B * T) + 1u, (ra / T) % B, ra % T, ea < vec4u(e1));
    var hi = rows4(rb / (B * T) + 1u, (rb / T) % B, rb % T, eb < vec4u(e1));
    // A negative slot is never the positive, even when it drew the positive's frame.
    lo.pos = vec4u(0xffffffffu);
    hi.pos = vec4u(0xffffffffu);
    frameTile(f, lo, hi, first);
    first = false;
  }
  if (first) { zeroFrame(f); }
}
