// Lane sharing without subgroups: every lane loads the 8 shared values itself (same results as
// conv1dLanes.subgroup.wgsl, bit for bit; slower on CPUs, fine where loads coalesce).
// SHARED_SRC may hold f16 (activation storage, conv1d.ts storagePreamble): every load widens to f32.
struct Lanes {
  @builtin(local_invocation_index) lid: u32,
}

fn lane8(l: Lanes) -> u32 { return 0u; }

/** SHARED_SRC[base + j] for j < count, else 0, for j in 0..7. */
fn fetch8(base: u32, count: u32, l8: u32) -> array<f32, 8> {
  let last = arrayLength(&SHARED_SRC) - 1u;
  return array<f32, 8>(
    select(0.0, f32(SHARED_SRC[min(base, last)]), 0u < count),
    select(0.0, f32(SHARED_SRC[min(base + 1u, last)]), 1u < count),
    select(0.0, f32(SHARED_SRC[min(base + 2u, last)]), 2u < count),
    select(0.0, f32(SHARED_SRC[min(base + 3u, last)]), 3u < count),
    select(0.0, f32(SHARED_SRC[min(base + 4u, last)]), 4u < count),
    select(0.0, f32(SHARED_SRC[min(base + 5u, last)]), 5u < count),
    select(0.0, f32(SHARED_SRC[min(base + 6u, last)]), 6u < count),
    select(0.0, f32(SHARED_SRC[min(base + 7u, last)]), 7u < count));
}
