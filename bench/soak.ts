// `cpc-webgpu bench --only soak`: 1000 `tiny` training steps while counting every GPU buffer the
// device creates and destroys — live buffer count and bytes must stay flat after the first step
// (the trainer allocates at plan time only). Also reports the host heap, which must not grow
// with the step count either (metrics are drained as they arrive).
import { resolveConfig } from '../src/cpc/config.ts';
import { createSyntheticDataset, WindowSampler } from '../src/cpc/data/index.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { makeResult, type BenchSuite } from './types.ts';

export const soakSuite: BenchSuite = {
  name: 'soak',
  async run(b) {
    const steps = b.quick ? 100 : 1000;
    const cfg = resolveConfig('tiny');
    const d = b.ctx.device as unknown as { createBuffer: (desc: GPUBufferDescriptor) => GPUBuffer };
    const orig = d.createBuffer.bind(b.ctx.device);
    const live = new Map<GPUBuffer, number>();
    let created = 0;
    d.createBuffer = (desc) => {
      const buf = orig(desc);
      created++;
      live.set(buf, desc.size);
      const destroy = buf.destroy.bind(buf);
      buf.destroy = () => { live.delete(buf); destroy(); };
      return buf;
    };
    const snapshot = (step: number) => ({
      step, live_buffers: live.size, live_bytes: [...live.values()].reduce((s, x) => s + x, 0), created, heap_mb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    });
    const ds = createSyntheticDataset({ seed: 2, speakers: 4, utterancesPerSpeaker: 3 });
    const sampler = new WindowSampler(ds, 'train', { B: cfg.batchSize, L: cfg.window, seed: 2 });
    const trainer = await CpcTrainer.create(b.ctx, cfg, { metricsEvery: 10 });
    const marks: ReturnType<typeof snapshot>[] = [];
    const t0 = performance.now();
    try {
      for (let s = 1; s <= steps; s++) {
        await trainer.trainStep(sampler.next().signal);
        trainer.takeMetrics();
        if (s === 1 || s === 10 || s % (steps / 4) === 0) {
          await trainer.flush();
          marks.push(snapshot(s));
          b.log(`soak: ${JSON.stringify(marks[marks.length - 1])}`);
        }
      }
      await trainer.flush();
    } finally {
      trainer.dispose();
      d.createBuffer = orig;
    }
    const ms = (performance.now() - t0) / steps;
    const first = marks[0]!, last = marks[marks.length - 1]!;
    return [makeResult({
      name: 'soak.tiny', shape: { steps, B: cfg.batchSize, L: cfg.window }, ms, peak: b.peak,
      buffers_created_after_step1: last.created - first.created,
      live_buffers_first: first.live_buffers, live_buffers_last: last.live_buffers,
      live_bytes_first: first.live_bytes, live_bytes_last: last.live_bytes,
      heap_mb: marks.map((m) => m.heap_mb),
    })];
  },
};
