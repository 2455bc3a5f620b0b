// "Probe accuracies" in the demo: the same linear-probe evaluation as `cpc-webgpu eval`
// (src/cpc/evaluate.ts) on the model being trained and on a randomly initialised model of the same
// config, which is the baseline the trained numbers must beat. Smaller caps than the CLI's defaults
// keep a probe run to seconds in a browser on a software GPU.
import type { GpuContext } from '../src/runtime/device.ts';
import type { Dataset } from '../src/cpc/data/dataset.ts';
import { CpcTrainer } from '../src/cpc/trainer.ts';
import { evaluateProbes, mfccEncoder, type EvalOptions, type EvalReport } from '../src/cpc/evaluate.ts';
import type { ProbeCell, ProbeReport } from './protocol.ts';

export const DEMO_EVAL_OPTIONS: EvalOptions = {
  maxWindows: { train: 160, test: 80 },
  maxPhoneFrames: { train: 8000, test: 4000 },
};

type Summary = NonNullable<EvalReport['phone']>;

/** A summary's test accuracy and, where the evaluation gives one, its 95 % interval (`test_ci`). */
function cell(r: Summary | null | undefined): ProbeCell {
  const ci = (r as (Summary & { test_ci?: [number, number] }) | null | undefined)?.test_ci;
  return { acc: r?.test_acc ?? null, ci: ci ? [ci[0], ci[1]] : null };
}

/**
 * One column per evaluated feature set (trained model first, then the baselines), then the
 * majority-class rate of the test rows. A baseline is one more entry of `reports`.
 */
function table(reports: { name: string; report: EvalReport }[]): Pick<ProbeReport, 'columns' | 'rows'> {
  const first = reports[0]!.report;
  const rows: ProbeReport['rows'] = [];
  for (const [task, key] of [['phone (per frame)', 'phone'], ['speaker (per window)', 'speaker']] as const) {
    const own = first[key];
    if (!own) continue;
    rows.push({ task, cells: [...reports.map((r) => cell(r.report[key])), { acc: own.majority, ci: null }] });
  }
  return { columns: [...reports.map((r) => r.name), 'majority class'], rows };
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
    onProgress?.('probing the MFCC baseline');
    const mfcc = await evaluateProbes(mfccEncoder(trainer.config), dataset, opts);
    const t = table([{ name: 'trained', report: trained }, { name: 'random init', report: random }, { name: 'MFCC', report: mfcc }]);
    return { ...t, note: t.rows.length ? undefined : 'no probe applies to this dataset (needs phone labels or ≥ 2 speakers)' };
  } finally {
    fresh.dispose();
  }
}
