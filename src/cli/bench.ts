// `cpc-webgpu bench`: kernel microbenchmarks (DESIGN.md §8). With --json, stdout carries exactly
// one JSON object and everything else goes to stderr.
import { parseArgs } from 'node:util';
import { measurePeak } from '../../bench/peak.ts';
import { SUITES } from '../../bench/suites.ts';
import type { BenchResult } from '../../bench/types.ts';
import { acquireNodeDevice } from '../node/device.ts';
import { UsageError } from './usage.ts';

function table(rows: BenchResult[]): string {
  const head = ['name', 'ms', 'GFLOP/s', 'GB/s', '%peak', 'baseline_ms', 'speedup'];
  const body = rows.map((r) => [r.name, r.ms, r.gflops ?? '', r.gbps ?? '', r.pct_of_peak ?? '', r.baseline_ms ?? '', r.speedup ?? ''].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(head), ...body.map(fmt)].join('\n');
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'no-paper': { type: 'boolean', default: false },
      e2e: { type: 'boolean', default: false },
    },
  });
  const names = values.e2e ? ['e2e'] : values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SUITES).filter((n) => n !== 'e2e' && n !== 'soak');
  for (const n of names) {
    if (!SUITES[n]) throw new UsageError('--only', `unknown suite '${n}' (known: ${Object.keys(SUITES).join(', ')})`);
  }
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  const ctx = await acquireNodeDevice({ label: 'bench' });
  try {
    log(`adapter: ${ctx.adapter.description}`);
    const peak = await measurePeak(ctx, values.quick);
    log(`peak: ${peak.fma_gflops} GFLOP/s FMA, ${peak.copy_gbps} GB/s copy`);
    const results: BenchResult[] = [];
    for (const n of names) {
      const suite = await SUITES[n]!();
      log(`-- ${n}`);
      const rows = await suite.run({ ctx, peak, quick: values.quick, paper: !values.quick && !values['no-paper'], log });
      results.push(...rows);
      log(table(rows));
    }
    const { vendor, architecture, description } = ctx.adapter;
    const out = { adapter: { vendor, architecture, description }, peak, results };
    if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else process.stdout.write(`${table(results)}\n`);
  } finally {
    ctx.dispose();
  }
  return 0;
}
