// Workgroup-memory tiled versions of gruGemm.wgsl's three GEMMs (appended to that module, whose
// overrides, operands, TileSums and epilogues they share): acc[i, j] = Σ_r A[r, i] · B[r, j].
//
// A workgroup of LI × LJ invocations owns a tile of LI·RQ quads of i × LJ·TM columns of j. The
// reduction runs in stages of KR rows: the workgroup copies the stage's A rows (LI·RQ vec4 each)
// and B rows (LJ·TM/4 vec4 each) into workgroup memory, one barrier, then every invocation
// accumulates its RQ quads × TM columns from there, and a second barrier before the next stage.
// Each global vec4 is thus loaded once per workgroup instead of once per invocation that uses it:
// A vec4s are reused by LJ·TM columns instead of TM, and every invocation reads B from workgroup
// memory instead of issuing its own (uniform-address) load. The classic GPU GEMM, which desktop and
// mobile GPUs favour because their caches do not hold a whole operand row per lane. On software
// Vulkan the barriers are expensive (DESIGN §6), so there the register tile stays the default.
// Rows past R and quads/columns past the operands stage as zeros (they add exactly 0 to sums that
// are stored, or feed sums that are never stored). Every accumulator sums r in increasing order,
// the same order as the register tile: deterministic.

override LI: u32 = 8;
override LJ: u32 = 8;
override KR: u32 = 8;
/** KR · LI · RQ and KR · LJ · TM / 4: the staged A and B vec4s. */
override SA_V4: u32 = 1;
override SB_V4: u32 = 1;

var<workgroup> stageA: array<vec4<f32>, SA_V4>;
var<workgroup> stageB: array<vec4<f32>, SB_V4>;

struct SharedOrigin { iq0: u32, j0: u32 }

fn sharedOrigin(lid: u32, wid: vec3<u32>) -> SharedOrigin {
  return SharedOrigin((wid.x * LI + lid % LI) * RQ, (wid.y * LJ + lid / LI) * TM);
}

fn tnTileShared(lid: u32, wid: vec3<u32>) -> TileSums {
  var t = TileSums();
  let li = lid % LI;
  let lj = lid / LI;
  let aw = LI * RQ;          // A vec4s per staged row
  let bw = LJ * (TM / 4u);   // B vec4s per staged row
  let aq0 = wid.x * aw;
  let bq0 = wid.y * bw;
  let nInv = LI * LJ;
  for (var r0 = 0u; r0 < R; r0 += KR) {
    for (var e = lid; e < KR * aw; e += nInv) {
      let r = r0 + e / aw;
      var v = vec4<f32>(0.0);
      if (r < R) { v = gA4[gemmARow(r) * AQ + gemmACol(aq0 + e % aw)]; }
      stageA[e] = v;
    }
    for (var e = lid; e < KR * bw; e += nInv) {
      let r = r0 + e / bw;
      var v = vec4<f32>(0.0);
      if (r < R) { v = gB4[r * BQ + min(bq0 + e % bw, BQ - 1u)]; }
      stageB[e] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KR; kk++) {
      var a = array<vec4<f32>, MAX_RQ>();
      for (var rr = 0u; rr < RQ; rr++) {
        a[rr] = stageA[kk * aw + li * RQ + rr];
        t.asum[rr] += a[rr];
      }
      for (var jj = 0u; jj < TM / 4u; jj++) {
        let v = stageB[kk * bw + lj * (TM / 4u) + jj];
        for (var rr = 0u; rr < RQ; rr++) {
          t.acc[(4u * jj) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.x), t.acc[(4u * jj) * MAX_RQ + rr]);
          t.acc[(4u * jj + 1u) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.y), t.acc[(4u * jj + 1u) * MAX_RQ + rr]);
          t.acc[(4u * jj + 2u) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.z), t.acc[(4u * jj + 2u) * MAX_RQ + rr]);
          t.acc[(4u * jj + 3u) * MAX_RQ + rr] = fma(a[rr], vec4<f32>(v.w), t.acc[(4u * jj + 3u) * MAX_RQ + rr]);
        }
      }
    }
    workgroupBarrier();
  }
  return t;
}

@compute @workgroup_size(WG)
fn inputProjectionShared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let o = sharedOrigin(lid, wid);
  storeProjection(o.iq0, o.j0, tnTileShared(lid, wid));
}

@compute @workgroup_size(WG)
fn weightGradShared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let o = sharedOrigin(lid, wid);
  storeWeightGrad(o.iq0, o.j0, tnTileShared(lid, wid));
}

@compute @workgroup_size(WG)
fn inputGradShared(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let o = sharedOrigin(lid, wid);
  storeInputGrad(o.iq0, o.j0, tnTileShared(lid, wid));
}
