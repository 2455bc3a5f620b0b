// Trained-vs-random-init probe results, as a table for people and as the JSON of `eval --json`
// ({"phone_acc", "speaker_acc", "random_init": {…}, …}; phone keys only where frame labels exist).
import type { EvalReport, ProbeSummary } from '../cpc/evaluate.ts';

function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`;
}

export function formatProbeTable(trained: EvalReport, random: EvalReport): string {
  const rows: [string, ProbeSummary | null, ProbeSummary | null][] = [];
  if (trained.phone) rows.push([`phone per frame (${trained.phone.classes} classes)`, trained.phone, random.phone]);
  if (trained.speaker) rows.push([`speaker per window (${trained.speaker.classes} classes)`, trained.speaker, random.speaker]);
  if (rows.length === 0) return 'probes: nothing to probe (no phone labels and fewer than 2 speakers)';
  const head = ['linear probe (test accuracy)', 'trained', 'random init', 'majority class'];
  const body = rows.map(([name, t, r]) => [name, pct(t?.test_acc), pct(r?.test_acc), pct(t?.majority)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const sizes = `(${trained.windows.train} train / ${trained.windows.test} test windows` +
    (trained.phone ? `, ${trained.phone.train_rows} / ${trained.phone.test_rows} frames` : '') + ')';
  return [line(head), ...body.map(line), sizes].join('\n');
}

/** Accuracies and per-probe details; the phone keys are left out where there are no frame labels. */
function section(r: EvalReport): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.phone) out.phone_acc = r.phone.test_acc;
  out.speaker_acc = r.speaker_acc;
  if (r.phone) out.phone = r.phone;
  out.speaker = r.speaker;
  return out;
}

export function probeJson(trained: EvalReport, random: EvalReport): Record<string, unknown> {
  return { ...section(trained), random_init: section(random), windows: trained.windows };
}
