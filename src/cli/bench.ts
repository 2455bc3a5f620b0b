// `cpc-webgpu bench`: kernel and end-to-end benchmarks. With --json, stdout carries exactly one JSON
// object and everything else goes to stderr. The suites (bench/) ship compiled inside dist/cli; the
// e2e suite's tfjs peer is an optional peer dependency, so a missing one is reported with the install
// line before any GPU work starts.
import { parseArgs } from 'node:util';
import { runBench } from '../../bench/run.ts';
import { SUITES } from '../../bench/suites.ts';
import type { BenchResult, BenchSuite } from '../../bench/types.ts';
import { PRESET_NAMES } from '../cpc/config.ts';
import { acquireNodeDevice } from '../node/device.ts';
import { CpcError } from '../runtime/errors.ts';
import { UsageError } from './usage.ts';

export const BENCH_USAGE = `usage: cpc-webgpu bench [options]
  --only a,b,…                suites to run: ${Object.keys(SUITES).join(', ')} (default: all but e2e, tuned and soak)
  --e2e                       end-to-end training step vs the same model in tfjs-backend-webgpu
                              (needs the optional peers: npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0),
                              in jax-js (jit) where installed (npm install @jax-js/jax@0.1.25), and in PyTorch
                              on the CPU where /usr/bin/python3 imports torch
  --no-tune                   with --e2e: skip the tuned-vs-fixed rows (the tuner takes minutes per preset)
  --presets tiny,small,paper  the e2e suite's presets (default tiny and small, plus paper unless --quick/--no-paper)
  --quick                     fewer repetitions, no paper-size shapes (smoke runs)
  --no-paper                  skip the paper-size shapes
  --json                      stdout: one object {"adapter", "peak": {"fma_gflops", "copy_gbps"},
                              "results": [{"name", "shape", "ms", "gflops", "gbps", "pct_of_peak",
                              "baseline", "baseline_ms", "speedup", …}]}
`;

/** Loads a suite; the e2e suite's missing tfjs peer becomes one line naming the install command. */
async function loadSuite(name: string, noTune: boolean): Promise<BenchSuite> {
  try {
    if (name === 'e2e' && noTune) return (await import('../../bench/e2e.ts')).e2ePeersSuite;
    return await SUITES[name]!();
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && /@tensorflow\//.test(err.message ?? '')) {
      throw new CpcError('bench', `suite '${name}' compares against tfjs, which is not installed; ` +
        'install the peers with: npm install @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0');
    }
    throw e;
  }
}

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
      presets: { type: 'string' },
      'no-tune': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const names = values.e2e ? ['e2e'] : values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SUITES).filter((n) => n !== 'e2e' && n !== 'soak' && n !== 'tuned');
  for (const n of names) {
    if (!SUITES[n]) throw new UsageError('--only', `unknown suite '${n}' (known: ${Object.keys(SUITES).join(', ')})`);
  }
  if (values['no-tune'] && !names.includes('e2e')) throw new UsageError('--no-tune', 'applies only to the e2e suite (add --e2e)');
  const presets = values.presets?.split(',').map((s) => s.trim());
  const unknownPreset = presets?.find((p) => !(PRESET_NAMES as readonly string[]).includes(p));
  if (unknownPreset !== undefined) throw new UsageError('--presets', `unknown preset '${unknownPreset}' (known: ${PRESET_NAMES.join(', ')})`);
  const suites = new Map<string, BenchSuite>();
  for (const n of names) suites.set(n, await loadSuite(n, values['no-tune']));
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  const ctx = await acquireNodeDevice({ label: 'bench' });
  try {
    const out = await runBench(ctx, suites, { quick: values.quick, paper: !values.quick && !values['no-paper'], presets, log, onSuite: (_, rows) => log(table(rows)) });
    if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else process.stdout.write(`${table(out.results)}\n`);
  } finally {
    ctx.dispose();
  }
  return 0;
}
