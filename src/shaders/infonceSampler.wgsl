// Negatives for InfoNCE's 'sampled' mode, and the inverse index its backward needs.
//
// sample: negIdx[row, j] = pcg(pcg(pcg(seed') ^ r) ^ j) % (B·T), seed' = pcg(seed ^ pcg(step)),
// bit-identical to the oracle's sampleNegatives(seed', ...) (tests/reference/infonce.ts): pure u32
// arithmetic, stateless, one invocation per entry. seed and step come from a u32 tensor [2] so the
// trainer can advance the step without rebuilding the pipeline. r = row, or with SHARED = 1 the
// row's position b·T + t (row mod B·T): every prediction step k of a position then scores the same n
// negatives, as CPC_audio draws them (one set per window position, reused for all k). The layout
// stays [K, B, T, n] either way so the loss kernels and the inverse index below have one code path;
// the K copies cost K·B·T·n u32 (4 MiB at small's 4·8·128·128) and no extra hashing per k.
//
// Inverse index (for dZ in infonce.wgsl framesSampled): for every frame f the entries row·N + j that
// drew it as a negative, in increasing order, as a counting sort without atomics:
//   countBlocks  per row block β: counts[β, f] = # entries of β's valid rows that drew f
//   scanBlocks   per frame f: counts[β, f] ← Σ_{β' < β} counts[β', f]; base[f] ← total of f
//   scanFrames   one workgroup: base ← exclusive prefix sum over frames, base[B·T] = total
//   fillLists    per row block β, in order: entries[base[f] + counts[β, f]++] = row·N + j
// Each block is walked by one invocation in order, so the lists come out in (row, slot) order and
// dZ sums them in the same order every run. Rows with t + k ≥ T are left out (no gradient).

override B: u32;
override T: u32;
override K: u32;
override N: u32;          // negatives per row
override NB: u32 = 1u;    // row blocks
override SHARED: u32 = 0u; // 1: negatives drawn per position (b, t), the same for every k
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read_write> seedStep: array<u32>;
@group(0) @binding(1) var<storage, read_write> negOut: array<u32>;

@group(0) @binding(0) var<storage, read_write> negIdx: array<u32>;
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;   // [NB, B·T]
@group(0) @binding(2) var<storage, read_write> base: array<u32>;     // [B·T + 1]
@group(0) @binding(3) var<storage, read_write> entriesOut: array<u32>;  // [K·B·T·N]
@group(0) @binding(0) var<storage, read_write> countsScan: array<u32>;  // scanBlocks
@group(0) @binding(1) var<storage, read_write> baseTotals: array<u32>;  // scanBlocks
@group(0) @binding(0) var<storage, read_write> baseScan: array<u32>;    // scanFrames

fn flatId(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// PCG-RXS-M-XS hash (Jarzynski & Olano 2020), as pcgHash in the oracle.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn sample(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flatId(gid, nwg);
  if (e >= K * B * T * N) { return; }
  let seed = pcg(seedStep[0] ^ pcg(seedStep[1]));
  let row = e / N;
  let r = select(row, row % (B * T), SHARED == 1u);
  negOut[e] = pcg(pcg(pcg(seed) ^ r) ^ (e % N)) % (B * T);
}

fn rowsPerBlock() -> u32 {
  return (K * B * T + NB - 1u) / NB;
}

fn rowIsValid(row: u32) -> bool {
  return row % T + row / (B * T) + 1u < T;
}

@compute @workgroup_size(WG)
fn countBlocks(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let blk = flatId(gid, nwg);
  if (blk >= NB) { return; }
  let frames = B * T;
  let c0 = blk * frames;
  for (var f = 0u; f < frames; f++) { counts[c0 + f] = 0u; }
  let r0 = blk * rowsPerBlock();
  let r1 = min(r0 + rowsPerBlock(), K * B * T);
  for (var row = r0; row < r1; row++) {
    if (!rowIsValid(row)) { continue; }
    for (var j = 0u; j < N; j++) {
      let f = negIdx[row * N + j];
      if (f < frames) { counts[c0 + f] += 1u; }   // out-of-range draws poison the loss instead
    }
  }
}

@compute @workgroup_size(WG)
fn scanBlocks(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let f = flatId(gid, nwg);
  let frames = B * T;
  if (f >= frames) { return; }
  var run = 0u;
  for (var blk = 0u; blk < NB; blk++) {
    let i = blk * frames + f;
    let v = countsScan[i];
    countsScan[i] = run;
    run += v;
  }
  baseTotals[f] = run;
}

const SWG: u32 = 256u;
var<workgroup> partial: array<u32, SWG>;

@compute @workgroup_size(SWG)
fn scanFrames(@builtin(local_invocation_index) lid: u32) {
  let frames = B * T;
  let chunk = (frames + SWG - 1u) / SWG;
  let lo = min(lid * chunk, frames);
  let hi = min(lo + chunk, frames);
  var sum = 0u;
  for (var f = lo; f < hi; f++) { sum += baseScan[f]; }
  partial[lid] = sum;
  workgroupBarrier();
  if (lid == 0u) {
    var run = 0u;
    for (var i = 0u; i < SWG; i++) {
      let v = partial[i];
      partial[i] = run;
      run += v;
    }
    baseScan[frames] = run;
  }
  workgroupBarrier();
  var run = partial[lid];
  for (var f = lo; f < hi; f++) {
    let v = baseScan[f];
    baseScan[f] = run;
    run += v;
  }
}

@compute @workgroup_size(WG)
fn fillLists(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let blk = flatId(gid, nwg);
  if (blk >= NB) { return; }
  let frames = B * T;
  let c0 = blk * frames;
  let r0 = blk * rowsPerBlock();
  let r1 = min(r0 + rowsPerBlock(), K * B * T);
  let cap = K * B * T * N;
  for (var row = r0; row < r1; row++) {
    if (!rowIsValid(row)) { continue; }
    for (var j = 0u; j < N; j++) {
      let f = negIdx[row * N + j];
      if (f >= frames) { continue; }
      let slot = base[f] + counts[c0 + f];
      counts[c0 + f] += 1u;
      if (slot < cap) { entriesOut[slot] = row * N + j; }
    }
  }
}
