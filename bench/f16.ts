// f16 activation storage vs f32 (README "f16 activations"): loss curves of the same seed and data,
// and step time measured interleaved in one run on one adapter. A measurement script, not a suite
// of `bench` (its loss curves take minutes):
//   node bench/f16.mjs [tinySteps=100] [smallSteps=50] [timedSteps=6] [rounds=3]
// On a device without shader-f16 (SwiftShader) it prints the f32 step times and the refusal.
import { resolveConfig, type ActivationsDType, type PresetName } from '../src/cpc/config.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { acquireNodeDevice } from '../src/node/device.ts';
import type { GpuContext } from '../src/runtime/device.ts';

const [tinySteps = 100, smallSteps = 50, timedSteps = 6, rounds = 3] = process.argv.slice(2).map(Number);

function batches(preset: PresetName, n: number): Float32Array[] {
  const cfg = resolveConfig(preset);
  const ds = createSyntheticDataset({ seed: 1, speakers: 4, utterancesPerSpeaker: 4 });
  const s = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 1 });
  return Array.from({ length: n }, () => s.next().signal);
}

async function curve(ctx: GpuContext, preset: PresetName, act: ActivationsDType, data: Float32Array[]): Promise<number[]> {
  const t = await CpcTrainer.create(ctx, resolveConfig(preset, { activations: act }), { metricsEvery: 1 });
  try {
    for (const x of data) await t.trainStep(x);
    return (await t.flush()).map((m) => m.loss);
  } finally {
    t.dispose();
  }
}

async function stepMs(t: CpcTrainer, data: Float32Array[], steps: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await t.trainStep(data[i % data.length]!);
  await t.flush();
  return (performance.now() - t0) / steps;
}

async function main(): Promise<void> {
  const ctx = await acquireNodeDevice({ label: 'bench-f16' });
  const f16 = ctx.has('shader-f16');
  console.log(`adapter: ${ctx.adapter.description} (${ctx.adapter.architecture}); shader-f16: ${f16}`);
  const acts: ActivationsDType[] = f16 ? ['f32', 'f16'] : ['f32'];
  if (!f16) {
    try {
      await CpcTrainer.create(ctx, resolveConfig('tiny', { activations: 'f16' }));
    } catch (e) {
      console.log(`f16 refused: ${(e as Error).message}`);
    }
  }
  try {
    for (const [preset, n] of [['tiny', tinySteps], ['small', smallSteps]] as const) {
      const data = batches(preset, Math.max(n, 4));
      // Step time: both trainers built and warmed up first, then rounds interleaved (f32, f16, f32, …).
      const trainers = new Map<ActivationsDType, CpcTrainer>();
      for (const a of acts) {
        const t = await CpcTrainer.create(ctx, resolveConfig(preset, { activations: a }), { metricsEvery: timedSteps });
        await stepMs(t, data, 2);
        trainers.set(a, t);
      }
      const ms = new Map<ActivationsDType, number[]>(acts.map((a) => [a, []]));
      for (let r = 0; r < rounds; r++) for (const a of acts) ms.get(a)!.push(await stepMs(trainers.get(a)!, data, timedSteps));
      // Per-op GPU time of one profiled step each (timestamp-query where available): where f16 wins or loses.
      const prof = new Map<ActivationsDType, Map<string, number>>();
      for (const a of acts) {
        const p = await trainers.get(a)!.profileStep(data[0]!);
        prof.set(a, new Map(p.ops.map((o) => [o.name, o.ms])));
        console.log(`${preset} ${a}: profiled ${p.totalMs.toFixed(1)} ms (${p.source})`);
      }
      if (f16) {
        const rows = [...prof.get('f32')!].filter(([n]) => n.startsWith('conv')).map(([n, v]) => `${n} ${v.toFixed(1)}→${(prof.get('f16')!.get(n) ?? NaN).toFixed(1)}`);
        console.log(`${preset} conv ops ms f32→f16: ${rows.join(', ')}`);
      }
      for (const t of trainers.values()) t.dispose();
      const med = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
      for (const a of acts) console.log(`${preset} ${a}: ms/step ${ms.get(a)!.map((v) => v.toFixed(1)).join(', ')} (median ${med(ms.get(a)!).toFixed(1)})`);
      if (f16) {
        // Per-round ratios (f32 and f16 measured back to back) are robust to load drifting between rounds.
        const ratios = ms.get('f16')!.map((v, r) => v / ms.get('f32')![r]!);
        console.log(`${preset}: f16/f32 step time: ratio of medians ${(med(ms.get('f16')!) / med(ms.get('f32')!)).toFixed(3)}, median per-round ratio ${med(ratios).toFixed(3)} (${ratios.filter((x) => x < 1).length}/${ratios.length} rounds f16 faster)`);
      }
      if (!f16 || n === 0) continue;
      const l32 = await curve(ctx, preset, 'f32', data.slice(0, n));
      const l16 = await curve(ctx, preset, 'f16', data.slice(0, n));
      let maxD = 0, at = 0;
      l32.forEach((v, i) => { const d = Math.abs(v - l16[i]!); if (d > maxD) { maxD = d; at = i + 1; } });
      const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
      const tail = Math.min(10, n);
      console.log(`${preset} ${n} steps: max |Δloss| ${maxD.toExponential(2)} at step ${at}; final loss f32 ${l32.at(-1)!.toFixed(4)} f16 ${l16.at(-1)!.toFixed(4)}; mean of last ${tail} f32 ${mean(l32.slice(-tail)).toFixed(4)} f16 ${mean(l16.slice(-tail)).toFixed(4)}`);
      console.log(`${preset} curve f32: ${l32.map((v) => v.toFixed(3)).join(' ')}`);
      console.log(`${preset} curve f16: ${l16.map((v) => v.toFixed(3)).join(' ')}`);
    }
  } finally {
    ctx.dispose();
  }
}

await main();
