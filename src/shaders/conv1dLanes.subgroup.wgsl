// Lane sharing through subgroups. On llvmpipe a storage load costs about the same per lane whether
// or not its address is uniform (each lane's element is bounds-checked and fetched separately), so
// loading the 8 shared operand values once per 8 lanes and broadcasting them (a register
// extract + splat) took the conv forward from ~35 % to ~85-95 % of the measured FMA peak (same
// run, same load). Needs subgroupMinSize >= 8: lanes 0..7 of every subgroup load the 8 values,
// every lane of the subgroup reads them.
// SHARED_SRC may hold f16 (activation storage): the load widens to f32 before the broadcast.
enable subgroups;

struct Lanes {
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sl: u32,
}

fn lane8(l: Lanes) -> u32 { return l.sl & 7u; }

/** SHARED_SRC[base + j] for j < count, else 0, for j in 0..7, identical in every lane. */
fn fetch8(base: u32, count: u32, l8: u32) -> array<f32, 8> {
  let last = arrayLength(&SHARED_SRC) - 1u;
  let v = select(0.0, f32(SHARED_SRC[min(base + l8, last)]), l8 < count);
  return array<f32, 8>(
    subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
    subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}
