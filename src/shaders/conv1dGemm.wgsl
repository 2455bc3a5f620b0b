// Conv1d as an implicit GEMM over channels-last activations, shared by the forward (y = conv(x))
// and the input gradient (dx = conv_transposed(du)). The launcher prepends conv1dLanes.*.wgsl
// (SHARED_SRC = w: `Lanes`, `lane8`, `fetch8`) and conv1dTile.wgsl (`Tile`, `acc`).
//
// Row m = b·TR + t of phase p (grid z) reads the CONTIGUOUS span A[b·A_BS + t·A_TS .. + RED) and
// the weight slab w[p, RED, NP] (r-major, output column fastest, zero-padded to NP = 8·k columns):
//   forward:  A = x [B, Tin, Cin], A_TS = stride·Cin, RED = K·Cin, one phase;
//   dx:       A = du zero-padded in time, A_TS = Cout, RED = ceil(K/s)·Cout, phase p = τ mod s.
// Each lane owns TM = 4 rows x 8 columns (8 vec4 accumulators); every lane of a workgroup uses the
// same 8 columns, so the weight row is shared (fetch8) and only the A values are per lane. No
// workgroup memory and no barriers: on llvmpipe those turn a kernel into coroutines (measured
// ~2-10x slower for register-tiled GEMMs here).
//
// Storage element types aT (A) and oT (out) are f32 or f16, aliased by the launcher's preamble
// (conv1d.ts storagePreamble, fixed identifiers only); loads widen to f32, every product and sum
// is f32, and only the stored result is narrowed.

override NB: u32;    // batches
override TR: u32;    // rows per batch
override A_BS: u32;  // A elements between batches
override A_TS: u32;  // A elements between consecutive rows of a batch
override RED: u32;   // reduction length
override N: u32;     // real output columns
override NP: u32;    // weight-slab columns (N rounded up to 8)
override O_BS: u32;  // out offset of (b, t, p, n) = b·O_BS + t·O_TS + p·O_PS + n
override O_TS: u32;
override O_PS: u32 = 0u;
override VS: u32 = 1u;  // row (b, t) of phase p exists iff t·VS + p < VLIM
override VLIM: u32;
override RELU: bool = true;  // forward epilogue: bias, then max(·, 0) unless a channel norm follows
override WG: u32 = 32;

const TM = 4u;

@group(0) @binding(0) var<storage, read_write> a4: array<vec4<aT>>;   // entry points *Vec4 (RED, A_BS, A_TS % 4 == 0)
@group(0) @binding(0) var<storage, read_write> a1: array<aT>;         // entry points *Scalar
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<oT>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4<oT>>;  // entry points *Out4 (N, O_BS, O_TS, O_PS % 4 == 0)
@group(0) @binding(3) var<storage, read_write> bias: array<f32>;       // forward only

fn firstRow(wid: vec3<u32>, l: Lanes) -> u32 { return (wid.y * WG + l.lid) * TM; }

/** Start of row m's span, clamped so that span lies inside `len` elements (rows past the end are computed, never stored). */
fn spanStart(m: u32, len: u32) -> u32 {
  let mc = min(m, NB * TR - 1u);
  let b = mc / TR;
  return min(b * A_BS + (mc - b * TR) * A_TS, len - RED);
}

fn tileVec4(wid: vec3<u32>, l: Lanes) -> Tile {
  let l8 = lane8(l);
  let m0 = firstRow(wid, l);
  let len = arrayLength(&a4) * 4u;
  let s0 = spanStart(m0, len) / 4u;
  let s1 = spanStart(m0 + 1u, len) / 4u;
  let s2 = spanStart(m0 + 2u, len) / 4u;
  let s3 = spanStart(m0 + 3u, len) / 4u;
  var wrow = wid.z * RED * NP + wid.x * 8u;
  var t: Tile;
  for (var r = 0u; r < RED / 4u; r++) {
    let x0 = vec4<f32>(a4[s0 + r]);
    let x1 = vec4<f32>(a4[s1 + r]);
    let x2 = vec4<f32>(a4[s2 + r]);
    let x3 = vec4<f32>(a4[s3 + r]);
    acc(&t, vec4<f32>(x0.x, x1.x, x2.x, x3.x), fetch8(wrow, 8u, l8));
    acc(&t, vec4<f32>(x0.y, x1.y, x2.y, x3.y), fetch8(wrow + NP, 8u, l8));
    acc(&t, vec4<f32>(x0.z, x1.z, x2.z, x3.z), fetch8(wrow + 2u * NP, 8u, l8));
    acc(&t, vec4<f32>(x0.w, x1.w, x2.w, x3.w), fetch8(wrow + 3u * NP, 8u, l8));
    wrow += 4u * NP;
  }
  return t;
}

fn tileScalar(wid: vec3<u32>, l: Lanes) -> Tile {
  let l8 = lane8(l);
  let m0 = firstRow(wid, l);
  let len = arrayLength(&a1);
  let s0 = spanStart(m0, len);
  let s1 = spanStart(m0 + 1u, len);
  let s2 = spanStart(m0 + 2u, len);
  let s3 = spanStart(m0 + 3u, len);
  var wrow = wid.z * RED * NP + wid.x * 8u;
  var t: Tile;
  for (var r = 0u; r < RED; r++) {
    acc(&t, vec4<f32>(f32(a1[s0 + r]), f32(a1[s1 + r]), f32(a1[s2 + r]), f32(a1[s3 + r])), fetch8(wrow, 8u, l8));
    wrow += NP;
  }
  return t;
}

fn store1(o: u32, n: u32, v: f32, relu: bool) {
  if (n < N && o < arrayLength(&out)) { out[o] = oT(select(v, max(v, 0.0), relu)); }
}

/** Writes one row's 8 columns (those < N) plus `add`, optionally ReLU'd, if the row exists. */
fn storeRow(m: u32, p: u32, n0: u32, va: vec4<f32>, vb: vec4<f32>, add: array<f32, 8>, relu: bool) {
  let b = m / TR;
  let t = m - b * TR;
  if (m >= NB * TR || t * VS + p >= VLIM) { return; }
  let o = b * O_BS + t * O_TS + p * O_PS + n0;
  // Unrolled by hand: a loop indexing v[j] would keep v in per-lane memory on llvmpipe.
  store1(o, n0, va.x + add[0], relu);
  store1(o + 1u, n0 + 1u, va.y + add[1], relu);
  store1(o + 2u, n0 + 2u, va.z + add[2], relu);
  store1(o + 3u, n0 + 3u, va.w + add[3], relu);
  store1(o + 4u, n0 + 4u, vb.x + add[4], relu);
  store1(o + 5u, n0 + 5u, vb.y + add[5], relu);
  store1(o + 6u, n0 + 6u, vb.z + add[6], relu);
  store1(o + 7u, n0 + 7u, vb.w + add[7], relu);
}

fn storeTile(wid: vec3<u32>, l: Lanes, t: Tile, add: array<f32, 8>, relu: bool) {
  let m0 = firstRow(wid, l);
  let n0 = wid.x * 8u;
  let p = wid.z;
  storeRow(m0, p, n0, t.c0a, t.c0b, add, relu);
  storeRow(m0 + 1u, p, n0, t.c1a, t.c1b, add, relu);
  storeRow(m0 + 2u, p, n0, t.c2a, t.c2b, add, relu);
  storeRow(m0 + 3u, p, n0, t.c3a, t.c3b, add, relu);
}

// The same stores 4 columns at a time (N and every out offset a multiple of 4, so a column quad is
// either wholly < N or wholly ≥ N): 8 instead of 32 store instructions per lane, and the same
// values (same adds, same ReLU). The waveform layer's forward (10 multiply-adds per output) is
// store-bound, so this is most of its time; GPUs' store units likewise prefer 16-byte stores.
fn store4(o4: u32, n: u32, v: vec4<f32>, relu: bool) {
  if (n < N && o4 < arrayLength(&out4)) { out4[o4] = vec4<oT>(select(v, max(v, vec4<f32>(0.0)), relu)); }
}

fn storeRow4(m: u32, p: u32, n0: u32, va: vec4<f32>, vb: vec4<f32>, add: array<f32, 8>, relu: bool) {
  let b = m / TR;
  let t = m - b * TR;
  if (m >= NB * TR || t * VS + p >= VLIM) { return; }
  let o4 = (b * O_BS + t * O_TS + p * O_PS + n0) / 4u;
  store4(o4, n0, va + vec4<f32>(add[0], add[1], add[2], add[3]), relu);
  store4(o4 + 1u, n0 + 4u, vb + vec4<f32>(add[4], add[5], add[6], add[7]), relu);
}

fn storeTile4(wid: vec3<u32>, l: Lanes, t: Tile, add: array<f32, 8>, relu: bool) {
  let m0 = firstRow(wid, l);
  let n0 = wid.x * 8u;
  let p = wid.z;
  storeRow4(m0, p, n0, t.c0a, t.c0b, add, relu);
  storeRow4(m0 + 1u, p, n0, t.c1a, t.c1b, add, relu);
  storeRow4(m0 + 2u, p, n0, t.c2a, t.c2b, add, relu);
  storeRow4(m0 + 3u, p, n0, t.c3a, t.c3b, add, relu);
}

fn bias1(n: u32) -> f32 { return select(0.0, bias[min(n, arrayLength(&bias) - 1u)], n < N); }

fn bias8(wid: vec3<u32>) -> array<f32, 8> {
  let n0 = wid.x * 8u;
  return array<f32, 8>(bias1(n0), bias1(n0 + 1u), bias1(n0 + 2u), bias1(n0 + 3u),
                       bias1(n0 + 4u), bias1(n0 + 5u), bias1(n0 + 6u), bias1(n0 + 7u));
}

const NO_ADD = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);

@compute @workgroup_size(WG)
fn forwardVec4(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile(wid, l, tileVec4(wid, l), bias8(wid), RELU); }

@compute @workgroup_size(WG)
fn forwardScalar(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile(wid, l, tileScalar(wid, l), bias8(wid), RELU); }

@compute @workgroup_size(WG)
fn inputGradVec4(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile(wid, l, tileVec4(wid, l), NO_ADD, false); }

@compute @workgroup_size(WG)
fn inputGradScalar(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile(wid, l, tileScalar(wid, l), NO_ADD, false); }

@compute @workgroup_size(WG)
fn forwardVec4Out4(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile4(wid, l, tileVec4(wid, l), bias8(wid), RELU); }

@compute @workgroup_size(WG)
fn forwardScalarOut4(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile4(wid, l, tileScalar(wid, l), bias8(wid), RELU); }

@compute @workgroup_size(WG)
fn inputGradVec4Out4(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile4(wid, l, tileVec4(wid, l), NO_ADD, false); }

@compute @workgroup_size(WG)
fn inputGradScalarOut4(@builtin(workgroup_id) wid: vec3<u32>, l: Lanes) { storeTile4(wid, l, tileScalar(wid, l), NO_ADD, false); }
