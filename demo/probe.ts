// "Probe accuracies" in the demo: the same linear-probe evaluation as `cpc-webgpu eval`
// (src/cpc/evaluate.ts) on the model being trained and on a randomly initialised model of the same
// config, which is the baseline the trained numbers must beat. Smaller caps than the CLI's defaults
// keep a probe run to seconds in a browser on a software GPU.
import type { GpuContext } from '../src/runtime/device.ts';
import type { Dataset } from '../src/cpc/data/dataset.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { evaluateProbes, type EvalOptions, type EvalReport } from '../src/cpc/evaluate.ts';
import type { ProbeReport } from './protocol.ts';

export const DEMO_EVAL_OPTIONS: EvalOptions = {
  maxWindows: { train: 160, test: 80 },
  maxPhoneFrames: { train: 8000, test: 4000 },
};

function rows(trained: EvalReport, random: EvalReport): ProbeReport['rows'] {
  const out: ProbeReport['rows'] = [];
  if (trained.phone) out.push({ task: 'phone (per frame)', trained: trained.phone.test_acc, random: random.phone?.test_acc ?? null, chance: trained.phone.majority });
  if (trained.speaker) out.push({ task: 'speaker (per window)', trained: trained.speaker.test_acc, random: random.speaker?.test_acc ?? null, chance: trained.speaker.majority });
  return out;
}

export async function runDemoProbe(ctx: GpuContext, trainer: CpcTrainer, dataset: Dataset, onProgress?: (m: string) => void): Promise<Omit<ProbeReport, 'seconds'>> {
  const opts: EvalOptions = { ...DEMO_EVAL_OPTIONS, onProgress };
  onProgress?.('probing the trained model');
  const trained = await evaluateProbes(trainer, dataset, opts);
  onProgress?.('probing a randomly initialised model');
  // Same config and seed → the same initial weights the trained model started from.
  const fresh = await CpcTrainer.create(ctx, trainer.config);
  try {
    const random = await evaluateProbes(fresh, dataset, opts);
    const r = rows(trained, random);
    return { rows: r, note: r.length ? undefined : 'no probe applies to this dataset (needs phone labels or ≥ 2 speakers)' };
  } finally {
    fresh.dispose();
  }
}
