// Workgroup-memory tiled variants of the three conv GEMMs (conv1d.ts: Conv1dOptions.wgmem), the
// classic shared-tile SGEMM that desktop and mobile GPUs favour: a WY x WX workgroup computes a
// BM x BN = 4·WY x 4·WX output tile, each invocation a 4 x 4 register micro-tile (4 vec4
// accumulators); the K loop stages a BM x BK tile of A and a BK x BN tile of B in workgroup
// memory (every global element then feeds BN or BM multiply-adds instead of being re-read per
// lane) between two workgroupBarriers.
//   forward    y = ReLU(x ⊛ wT + bias) (RELU = false when a channel norm follows): row m = b·TR + t
//              reads the contiguous span A[b·A_BS + t·A_TS .. + RED) (conv1dGemm.wgsl's layout).
//   inputGrad  dx over the S phases (grid z = phase), A = du zero-padded in time, B = wdT[p].
//   dwPartial  partial[c, r, co] = Σ_{frames m of chunk c} A[m, r]·du[m, co] (row r = RED is the
//              bias row, A = 1): M' = RP rows r, N' = NP columns co, the chunk's frames the depth;
//              conv1dWeightGrad.wgsl's `reduce` sums the chunks in order (no atomics).
// Every output is ONE fma chain over its reduction index in ascending order (only the real
// indices: the last K step stops at the reduction's end), the same order as the register-tile
// kernels. Out-of-range A / B elements are staged as 0 and never read.
// Layout choices: A is staged row-major with a padded row (BK + 1 floats) so the staging stores
// (consecutive invocations → consecutive k of one row: a coalesced global read of the contiguous
// span) and the compute loads (4 rows of one depth) hit distinct banks; B is staged as vec4 along
// n, so each invocation's 4 columns are one 16-byte load. BK·4·(4·WY·(BK + 1)/4 + WX·4) bytes ≤
// 16 KiB for every tiling conv1d.ts offers (the launcher checks maxComputeWorkgroupStorageSize).
// Measured (bench/conv.ts variant rows, C = 64 encoder, interleaved): the best tiling per layer ran
// 2.3-15x slower than the register tiles for layers 2-5 on lavapipe (barriers make coroutines
// there, DESIGN.md §6) and 1.3-10x on SwiftShader, which takes 2-4 s to compile each pipeline.
// So they are never the default on software adapters; they are what GPUs are built for.

override NB: u32;     // batches
override TR: u32;     // rows (frames) per batch
override A_BS: u32;   // A elements between batches
override A_TS: u32;   // A elements between consecutive rows of a batch
override RED: u32;    // forward / dx: reduction length; dW: A's span length (K·Cin)
override NP: u32;     // B-slab / partial columns (real columns rounded up to 8)
// forward / dx
override N: u32 = 0u;        // real output columns
override O_BS: u32 = 0u;     // out offset of (b, t, p, n) = b·O_BS + t·O_TS + p·O_PS + n
override O_TS: u32 = 0u;
override O_PS: u32 = 0u;
override VS: u32 = 1u;       // row (b, t) of phase p exists iff t·VS + p < VLIM
override VLIM: u32 = 0u;
override RELU: bool = true;
// dW
override CH: u32 = 1u;       // frames per chunk
override D_BS: u32 = 0u;     // du offset of frame (b, t) = b·D_BS + t·D_TS + D_OFF
override D_TS: u32 = 0u;
override D_OFF: u32 = 0u;
override NCO: u32 = 0u;      // Cout
override RP: u32 = 0u;       // partial rows
// tiling
override WX: u32 = 16u;      // invocations along columns (BN = 4·WX)
override WY: u32 = 16u;      // invocations along rows (BM = 4·WY)

const BK = 16u;
const AS_STRIDE = 17u;       // BK + 1: see the header

var<workgroup> As: array<f32, 4u * WY * AS_STRIDE>;
var<workgroup> Bs: array<vec4<f32>, BK * WX>;

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> bias: array<f32>;      // forward only
@group(0) @binding(1) var<storage, read_write> du: array<f32>;        // dwPartial
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;   // dwPartial

struct Acc { r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32> }

/** c[i][j] += av[i]·bv[j] for the 4 rows i and 4 columns j (same fma as conv1dTile.wgsl's acc). */
fn mma(c: ptr<function, Acc>, av: vec4<f32>, bv: vec4<f32>) {
  (*c).r0 = fma(vec4<f32>(av.x), bv, (*c).r0);
  (*c).r1 = fma(vec4<f32>(av.y), bv, (*c).r1);
  (*c).r2 = fma(vec4<f32>(av.z), bv, (*c).r2);
  (*c).r3 = fma(vec4<f32>(av.w), bv, (*c).r3);
}

fn aAt(i: u32) -> f32 { return select(0.0, a[min(i, arrayLength(&a) - 1u)], i < arrayLength(&a)); }

/** The staged A values of rows 4·ty .. 4·ty + 3 at depth k. */
fn aRows(ty: u32, k: u32) -> vec4<f32> {
  let i = 4u * ty * AS_STRIDE + k;
  return vec4<f32>(As[i], As[i + AS_STRIDE], As[i + 2u * AS_STRIDE], As[i + 3u * AS_STRIDE]);
}

/** Forward / dx tile: Σ_r A[m, r]·w[p, r, n] for the workgroup's BM rows and BN columns. */
fn gemmTile(wid: vec3<u32>, lid: vec3<u32>, li: u32) -> Acc {
  let BM = 4u * WY;
  let BN = 4u * WX;
  let NT = WX * WY;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let M = NB * TR;
  let wBase = wid.z * RED * NP;
  let wLen = arrayLength(&w);
  var c: Acc;
  for (var k0 = 0u; k0 < RED; k0 += BK) {
    for (var i = li; i < BM * BK; i += NT) {
      let row = i / BK;
      let k = i - row * BK;
      let m = m0 + row;
      let r = k0 + k;
      var v = 0.0;
      if (m < M && r < RED) {
        let b = m / TR;
        v = aAt(b * A_BS + (m - b * TR) * A_TS + r);
      }
      As[row * AS_STRIDE + k] = v;
    }
    for (var i = li; i < BK * BN; i += NT) {
      let k = i / BN;
      let col = i - k * BN;
      let r = k0 + k;
      let n = n0 + col;
      let wi = wBase + r * NP + n;
      Bs[k * WX + col / 4u][col % 4u] = select(0.0, w[min(wi, wLen - 1u)], r < RED && n < NP && wi < wLen);
    }
    workgroupBarrier();
    let kn = min(BK, RED - k0);
    for (var k = 0u; k < kn; k++) { mma(&c, aRows(lid.y, k), Bs[k * WX + lid.x]); }
    workgroupBarrier();
  }
  return c;
}

fn store1(o: u32, n: u32, v: f32, relu: bool) {
  if (n < N && o < arrayLength(&out)) { out[o] = select(v, max(v, 0.0), relu); }
}

/** Writes row m's 4 columns n .. n + 3 (those < N) plus `add`, if the row exists in phase p. */
fn storeRow(m: u32, p: u32, n: u32, v: vec4<f32>, add: vec4<f32>, relu: bool) {
  let b = m / TR;
  let t = m - b * TR;
  if (m >= NB * TR || t * VS + p >= VLIM) { return; }
  let o = b * O_BS + t * O_TS + p * O_PS + n;
  let s = v + add;
  store1(o, n, s.x, relu);
  store1(o + 1u, n + 1u, s.y, relu);
  store1(o + 2u, n + 2u, s.z, relu);
  store1(o + 3u, n + 3u, s.w, relu);
}

fn storeTile(wid: vec3<u32>, lid: vec3<u32>, c: Acc, add: vec4<f32>, relu: bool) {
  let m = wid.y * 4u * WY + 4u * lid.y;
  let n = wid.x * 4u * WX + 4u * lid.x;
  storeRow(m, wid.z, n, c.r0, add, relu);
  storeRow(m + 1u, wid.z, n, c.r1, add, relu);
  storeRow(m + 2u, wid.z, n, c.r2, add, relu);
  storeRow(m + 3u, wid.z, n, c.r3, add, relu);
}

fn bias1(n: u32) -> f32 { return select(0.0, bias[min(n, arrayLength(&bias) - 1u)], n < N); }

@compute @workgroup_size(WX, WY)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let c = gemmTile(wid, lid, li);
  let n = wid.x * 4u * WX + 4u * lid.x;
  // Bias is added after the whole sum, as in conv1dGemm.wgsl, so the rounding is the same.
  storeTile(wid, lid, c, vec4<f32>(bias1(n), bias1(n + 1u), bias1(n + 2u), bias1(n + 3u)), RELU);
}

@compute @workgroup_size(WX, WY)
fn inputGrad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  storeTile(wid, lid, gemmTile(wid, lid, li), vec4<f32>(0.0), false);
}

fn duAt(i: u32) -> f32 { return select(0.0, du[min(i, arrayLength(&du) - 1u)], i < arrayLength(&du)); }

fn storePartial(o: u32, r: u32, co: u32, v: vec4<f32>) {
  if (r >= RP) { return; }
  let len = arrayLength(&partial);
  if (co < NP && o < len) { partial[o] = v.x; }
  if (co + 1u < NP && o + 1u < len) { partial[o + 1u] = v.y; }
  if (co + 2u < NP && o + 2u < len) { partial[o + 2u] = v.z; }
  if (co + 3u < NP && o + 3u < len) { partial[o + 3u] = v.w; }
}

@compute @workgroup_size(WX, WY)
fn dwPartial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let BM = 4u * WY;
  let BN = 4u * WX;
  let NT = WX * WY;
  let r0 = wid.y * BM;
  let co0 = wid.x * BN;
  let mStart = wid.z * CH;
  let mEnd = min(mStart + CH, NB * TR);
  var c: Acc;
  for (var f0 = mStart; f0 < mEnd; f0 += BK) {
    // A^T tile [BM rows r][BK frames]: consecutive invocations take consecutive r of one frame's
    // contiguous span (coalesced), stored with the padded row stride (distinct banks).
    for (var i = li; i < BM * BK; i += NT) {
      let k = i / BM;
      let row = i - k * BM;
      let m = f0 + k;
      let r = r0 + row;
      var v = 0.0;
      if (m < mEnd) {
        let b = m / TR;
        if (r < RED) {
          v = aAt(b * A_BS + (m - b * TR) * A_TS + r);
        } else if (r == RED) {
          v = 1.0;
        }
      }
      As[row * AS_STRIDE + k] = v;
    }
    for (var i = li; i < BK * BN; i += NT) {
      let k = i / BN;
      let col = i - k * BN;
      let m = f0 + k;
      let co = co0 + col;
      var v = 0.0;
      if (m < mEnd && co < NCO) {
        let b = m / TR;
        v = duAt(b * D_BS + (m - b * TR) * D_TS + D_OFF + co);
      }
      Bs[k * WX + col / 4u][col % 4u] = v;
    }
    workgroupBarrier();
    let kn = min(BK, mEnd - f0);
    for (var k = 0u; k < kn; k++) { mma(&c, aRows(lid.y, k), Bs[k * WX + lid.x]); }
    workgroupBarrier();
  }
  let r = r0 + 4u * lid.y;
  let co = co0 + 4u * lid.x;
  let o = (wid.z * RP + r) * NP + co;
  storePartial(o, r, co, c.r0);
  storePartial(o + NP, r + 1u, co, c.r1);
  storePartial(o + 2u * NP, r + 2u, co, c.r2);
  storePartial(o + 3u * NP, r + 3u, co, c.r3);
}
