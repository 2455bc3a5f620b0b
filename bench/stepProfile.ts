// Per-op GPU time of one training step of a preset (timestamp-query where available), grouped by op
// name prefix, plus dispatch / pass counts: where a step's time goes. A measurement script:
//   node bench/stepProfile.mjs [preset=small] [profiles=3] [timedSteps=4]   (profiles 0: step time only)
import { resolveConfig, type PresetName } from '../src/cpc/config.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { acquireNodeDevice } from '../src/node/device.ts';
import type { PreparedOp } from '../src/runtime/kernel.ts';
import { Profiler } from '../src/runtime/profiler.ts';

const preset = (process.argv[2] ?? 'small') as PresetName;
const profiles = Number(process.argv[3] ?? 3);
const timed = Number(process.argv[4] ?? 4);

async function main(): Promise<void> {
  const ctx = await acquireNodeDevice({ label: 'bench-stepProfile' });
  console.log(`adapter: ${ctx.adapter.description}`);
  const cfg = resolveConfig(preset);
  const ds = createSyntheticDataset({ seed: 1, speakers: 4, utterancesPerSpeaker: 3 });
  const s = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 1 });
  const data = Array.from({ length: 4 }, () => s.next().signal);
  const t = await CpcTrainer.create(ctx, cfg, { metricsEvery: 100, tune: 'off' });
  try {
    for (let i = 0; i < 2; i++) await t.trainStep(data[i % 4]!);
    await t.flush();
    const t0 = performance.now();
    for (let i = 0; i < timed; i++) await t.trainStep(data[i % 4]!);
    await t.flush();
    console.log(`${preset}: ${((performance.now() - t0) / timed).toFixed(1)} ms/step (${timed} steps pipelined)`);
    if (profiles === 0) return;
    const sums = new Map<string, number[]>();
    let total = 0;
    for (let p = 0; p < profiles; p++) {
      const r = await t.profileStep(data[0]!);
      total += r.totalMs / profiles;
      r.ops.forEach((o, i) => {
        const k = `${String(i).padStart(3)} ${o.name}`;
        (sums.get(k) ?? sums.set(k, []).get(k)!).push(o.ms);
      });
      if (p === 0) console.log(`ops (passes when profiled): ${r.ops.length}, source ${r.source}`);
    }
    // Min over the profiled steps: on a shared machine, preemption only ever adds time.
    const fastest = (v: number[]) => Math.min(...v);
    const rows = [...sums].map(([k, v]) => [k, fastest(v)] as const);
    const sumMin = rows.reduce((a, [, v]) => a + v, 0);
    console.log(`profiled total (mean) ${total.toFixed(1)} ms; sum of per-op minima ${sumMin.toFixed(1)} ms`);
    for (const [k, v] of [...rows].sort((a, b) => b[1] - a[1])) console.log(`${v.toFixed(2).padStart(8)} ms ${(100 * v / sumMin).toFixed(1).padStart(5)} %  ${k}`);
    // Per dispatch: each op's encode() replayed into a recorder, every dispatch then timed in its own pass.
    const ops = (t as unknown as { ops: { bySlot: [PreparedOp, PreparedOp] }[] }).ops.map((o) => o.bySlot[0]);
    const single: PreparedOp[] = [];
    for (const op of ops) {
      const calls: { p?: GPUComputePipeline; g?: GPUBindGroup; wg?: [number, number, number] }[] = [];
      let cur: { p?: GPUComputePipeline; g?: GPUBindGroup } = {};
      const rec = {
        setPipeline(p: GPUComputePipeline) { cur = { ...cur, p }; },
        setBindGroup(_i: number, g: GPUBindGroup) { cur = { ...cur, g }; },
        dispatchWorkgroups(x: number, y = 1, z = 1) { calls.push({ ...cur, wg: [x, y, z] }); },
      } as unknown as GPUComputePassEncoder;
      op.encode(rec);
      calls.forEach((c, i) => single.push({
        name: `${op.name}[${i}] wg ${c.wg!.join('x')}`, shapes: {}, flops: 0, bytes: 0,
        encode(pass) { pass.setPipeline(c.p!); pass.setBindGroup(0, c.g!); pass.dispatchWorkgroups(...c.wg!); },
      }));
    }
    console.log(`dispatches per step: ${single.length} (one compute pass in trainStep)`);
    const prof = new Profiler(ctx, single.length + 8);
    const ds2 = new Map<string, number[]>();
    for (let p = 0; p < profiles; p++) {
      await t.profileStep(data[0]!);
      const r = await prof.profile(single);
      r.ops.forEach((o, i) => { const k = `${String(i).padStart(3)} ${o.name}`; (ds2.get(k) ?? ds2.set(k, []).get(k)!).push(o.ms); });
    }
    const drows = [...ds2].map(([k, v]) => [k, fastest(v)] as const);
    const dsum = drows.reduce((a, [, v]) => a + v, 0);
    console.log(`per dispatch, sum of per-op minima ${dsum.toFixed(1)} ms`);
    for (const [k, v] of drows) console.log(`${v.toFixed(2).padStart(8)} ms ${(100 * v / dsum).toFixed(1).padStart(5)} %  ${k}`);
    console.log(`variants: ${JSON.stringify(t.variants())}`);
  } finally {
    t.dispose();
  }
}
await main();
process.exit(0);
