// Probe results of the trained model beside its two baselines (same config at random init, and MFCC),
// as a table for people and as the JSON of `eval --json` / `train --probe --json`. Each accuracy has
// its 95 % interval; a verdict names a winner only where the intervals do not overlap.
import { compareProbe, type EvalReport, type ProbeSummary } from '../cpc/evaluate.ts';

export interface ProbeSet {
  trained: EvalReport;
  random: EvalReport;
  mfcc: EvalReport | null;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}`;
}

function cell(p: ProbeSummary | null | undefined): string {
  if (!p) return '—';
  return `${pct(p.test_acc)} [${pct(p.test_ci[0])}, ${pct(p.test_ci[1])}] (train ${pct(p.train_acc)})`;
}

function verdict(t: ProbeSummary | null, others: [string, ProbeSummary | null | undefined][]): string {
  if (!t) return '';
  const parts: string[] = [];
  for (const [name, o] of others) {
    const c = compareProbe(t, o ?? null);
    if (c === 'above') parts.push(`> ${name}`);
    else if (c === 'below') parts.push(`< ${name}`);
    else if (c === 'overlap') parts.push(`? ${name} (overlap)`);
  }
  return `trained ${parts.join(', ')}`;
}

export function formatProbeTable(set: ProbeSet): string {
  const { trained, random, mfcc } = set;
  const rows: [string, 'phone' | 'speaker'][] = [];
  if (trained.phone) rows.push([`phone per frame (${trained.phone.classes} classes)`, 'phone']);
  if (trained.speaker) rows.push([`speaker per window (${trained.speaker.classes} classes)`, 'speaker']);
  if (rows.length === 0) return 'probes: nothing to probe (no phone labels and fewer than 2 speakers)';
  // Named by layer when it is not the usual context c.
  const of = trained.features === 'c' ? '' : ` (${trained.features})`;
  const head = ['test accuracy % [95 % CI] (probe train %)', `trained${of}`, `random init${of}`, 'MFCC', 'majority', 'verdict'];
  const body = rows.map(([name, key]) => [
    name, cell(trained[key]), cell(random[key]), cell(mfcc?.[key]), trained[key] ? pct(trained[key]!.majority) : '—',
    verdict(trained[key], [['random', random[key]], ['MFCC', mfcc?.[key]]]),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const sizes = `(${trained.windows.train} train / ${trained.windows.test} test windows` +
    (trained.phone ? `, ${trained.phone.train_rows} / ${trained.phone.test_rows} frames` : '') +
    '; CI: Wilson over test rows ∪ bootstrap over test utterances; "?" = intervals overlap, no winner)';
  return [line(head), ...body.map(line), sizes].join('\n');
}

/** Accuracies and per-probe details; the phone keys are left out where there are no frame labels. */
function section(r: EvalReport): Record<string, unknown> {
  const out: Record<string, unknown> = { features: r.features };
  if (r.phone) out.phone_acc = r.phone.test_acc;
  out.speaker_acc = r.speaker_acc;
  if (r.phone) out.phone = r.phone;
  out.speaker = r.speaker;
  return out;
}

export function probeJson(set: ProbeSet): Record<string, unknown> {
  const { trained, random, mfcc } = set;
  const verdicts: Record<string, unknown> = {};
  for (const key of ['phone', 'speaker'] as const) {
    if (!trained[key]) continue;
    verdicts[key] = { vs_random: compareProbe(trained[key], random[key]), vs_mfcc: mfcc ? compareProbe(trained[key], mfcc[key]) : null };
  }
  return { ...section(trained), random_init: section(random), ...(mfcc ? { mfcc: section(mfcc) } : {}), verdicts, windows: trained.windows };
}
