// Global L2 norm of the flat gradient buffer for clip_grad_norm_, as a deterministic two-stage
// reduction (no atomics: the same gradients give the same bits on the same device).
//
// Stage 1 (`partialSums`): chunk c of the vec4 view covers vec4s [c·WG·ITEMS, (c+1)·WG·ITEMS);
// thread t of workgroup c sums the squares of vec4s c·WG·ITEMS + k·WG + t, k = 0..ITEMS−1
// (adjacent threads read adjacent vec4s), and writes its own partial — one per thread, so no
// workgroup barrier is needed (barriers are costly on software Vulkan, see DESIGN §6).
// Stage 2 (`finalize`): one workgroup sums the partials in a fixed strided order, then a fixed
// tree; thread 0 adds the ≤ 3 scalar tail elements (P mod 4) and writes the stats.
//
// Non-finite detection uses exponent bits, never float comparisons: WGSL lets implementations
// treat NaN/Inf arithmetic as indeterminate, but integer tests on the stored bits are exact. Each
// gradient is tested as loaded (on IEEE hardware the sum's own bits would already show a NaN/Inf,
// but WGSL does not promise that the sum propagates it), and every sum is tested for overflow.
// A partial holding a NaN/±Inf gradient (or whose sum overflowed) is written as −1, a value a sum
// of squares can never take.
//
// Every binding is read_write although `grads` is only read: the trainer's arena may place grads
// and the outputs in one GPUBuffer, and WebGPU rejects a buffer bound both read-only and writable
// in one dispatch ("includes writable usage and another usage in the same synchronization scope").

override P: u32;          // gradient elements
override P4: u32;         // P / 4, rounded down: the vec4 part
override WG: u32 = 64;    // stage-1 threads per workgroup
override ITEMS: u32 = 64; // vec4s per stage-1 thread
override NUM_PARTIALS: u32;
override FINAL_WG: u32 = 256; // must be a power of two (tree below)

const EXP_MASK: u32 = 0x7f800000u;
const NAN_BITS: u32 = 0x7fc00000u;

@group(0) @binding(0) var<storage, read_write> grads4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> partialsOut: array<f32>;

@compute @workgroup_size(WG)
fn partialSums(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  let chunk = wid.x + wid.y * nwg.x;
  let slot = chunk * WG + lid.x;
  if (slot >= NUM_PARTIALS) { return; }
  let base = chunk * WG * ITEMS + lid.x;
  var acc = vec4<f32>(0.0);
  var bad = false;
  for (var k = 0u; k < ITEMS; k++) {
    let i = base + k * WG;
    if (i < P4) {
      let g = grads4[i];
      bad = bad || any((bitcast<vec4<u32>>(g) & vec4<u32>(EXP_MASK)) == vec4<u32>(EXP_MASK));
      acc = fma(g, g, acc);
    }
  }
  let s = (acc.x + acc.y) + (acc.z + acc.w);
  bad = bad || (bitcast<u32>(s) & EXP_MASK) == EXP_MASK;
  partialsOut[slot] = select(s, -1.0, bad);
}

@group(0) @binding(0) var<storage, read_write> grads1: array<f32>;
@group(0) @binding(1) var<storage, read_write> partialsIn: array<f32>;
// stats: [0] ‖g‖₂, [1] non-finite flag (1.0 / 0.0), [2] Σg², [3] reserved 0; [0] and [2] are NaN
// when the flag is set (their value would be meaningless: the −1 markers were summed).
// Declared as u32 so a NaN can be stored as bits (a NaN f32 constant does not compile).
@group(0) @binding(2) var<storage, read_write> stats: array<u32>;

var<workgroup> sums: array<f32, FINAL_WG>;
var<workgroup> flags: array<u32, FINAL_WG>;

@compute @workgroup_size(FINAL_WG)
fn finalize(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  var s = 0.0;
  var bad = 0u;
  for (var i = t; i < NUM_PARTIALS; i += FINAL_WG) {
    let x = partialsIn[i];
    bad |= select(0u, 1u, bitcast<i32>(x) < 0); // sign bit: only the −1 marker is negative
    s += x;
  }
  sums[t] = s;
  flags[t] = bad;
  workgroupBarrier();
  for (var half = FINAL_WG / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      sums[t] = sums[t] + sums[t + half];
      flags[t] = flags[t] | flags[t + half];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    var total = sums[0];
    var flag = flags[0];
    for (var i = P4 * 4u; i < P; i++) {
      let g = grads1[i];
      flag |= select(0u, 1u, (bitcast<u32>(g) & EXP_MASK) == EXP_MASK);
      total = fma(g, g, total);
    }
    flag |= select(0u, 1u, (bitcast<u32>(total) & EXP_MASK) == EXP_MASK);
    stats[0] = select(bitcast<u32>(sqrt(total)), NAN_BITS, flag != 0u);
    stats[1] = bitcast<u32>(f32(flag));
    stats[2] = select(bitcast<u32>(total), NAN_BITS, flag != 0u);
    stats[3] = 0u;
  }
}
