// Measures one JS peer alone: `npx tsx bench/peer/measure.ts [tiny|small ...] [--peer tfjs|jax] [--warmup N] [--steps N]`.
// Prints one JSON line per config on stdout; progress on stderr.
import { parseArgs } from 'node:util';
import { releaseNodeGpu } from '../../src/node/gpu.ts';
import { PEER_CONFIGS, type PeerConfig, type PeerTiming } from './common.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { peer: { type: 'string', default: 'tfjs' }, warmup: { type: 'string', default: '2' }, steps: { type: 'string', default: '5' } },
});
const TIMERS: Record<string, () => Promise<(cfg: PeerConfig, run: { warmup: number; steps: number }) => Promise<PeerTiming>>> = {
  tfjs: async () => (await import('./tfjsCpc.ts')).timePeerSteps,
  jax: async () => (await import('./jaxCpc.ts')).timeJaxPeerSteps,
};
const load = TIMERS[values.peer];
if (!load) throw new Error(`measure: unknown --peer '${values.peer}' (known: ${Object.keys(TIMERS).join(', ')})`);
const time = await load();
const names = positionals.length ? positionals : ['tiny', 'small'];
for (const name of names) {
  const cfg = PEER_CONFIGS[name as keyof typeof PEER_CONFIGS];
  if (!cfg) throw new Error(`measure: unknown config '${name}' (known: ${Object.keys(PEER_CONFIGS).join(', ')})`);
  const t0 = performance.now();
  const r = await time(cfg, { warmup: Number(values.warmup), steps: Number(values.steps) });
  process.stderr.write(`${values.peer} ${name}: ${r.msPerStep.toFixed(1)} ms/step on ${r.adapter} (total ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  process.stdout.write(`${JSON.stringify({ peer: values.peer, name, cfg, T: r.T, ms_per_step: r.msPerStep, step_ms: r.stepMs, ...('firstStepMs' in r ? { first_step_ms: r.firstStepMs } : {}), losses: r.losses, samples_per_s: (cfg.B * 1000) / r.msPerStep, adapter: r.adapter })}\n`);
}
// The peers leave the process-wide Dawn instance alive; dropping it lets Node exit.
releaseNodeGpu();
