// `cpc-webgpu tune`: times every tunable op's kernel variants for a preset's shapes on this adapter
// and writes the choices to the tuning cache (src/node/tuneCache.ts), which `train` then uses. Also
// the variant summary `train` and `info --preset` print.
import { parseArgs } from 'node:util';
import { graphTunables, buildCpcGraph } from '../cpc/graph.ts';
import { CpcTrainer } from '../cpc/trainer.ts';
import { PRESET_NAMES, type CpcTrainConfig } from '../cpc/config.ts';
import { acquireNodeDevice, closeNodeDevice } from '../node/device.ts';
import { NodeTuneCache } from '../node/tuneCache.ts';
import type { GpuContext } from '../runtime/device.ts';
import { formatVerdict, resolveVariants, type VariantChoice } from '../runtime/tuner.ts';
import { configFromFlags } from './trainSetup.ts';
import { UsageError } from './usage.ts';

export const TUNE_USAGE = `usage: cpc-webgpu tune [--preset ${PRESET_NAMES.join('|')}] [--config FILE.json] [--ops a,b,…] [--json]
  times every kernel variant of each tunable op (encoder conv layers forward / backward, GRU
  forward / backward) for the preset's shapes on this adapter, keeps the default unless another is
  clearly faster (> 5 % and beyond the measured noise); then times whole steps with those picks and
  with the defaults, interleaved, and keeps the picks only if the step is significantly faster
  (else every op goes back to its default); writes the choices and that verdict to the tuning cache
  ($CPC_WEBGPU_CACHE_DIR/tune.json, default ~/.cache/cpc-webgpu/tune.json), keyed by adapter +
  driver, op, shapes and candidate list; \`train\` with the same shapes then uses them
  --preset NAME                model preset (default small)
  --config FILE.json           config fields over the preset, as for train
  --ops a,b,…                  tune only these ops (names as in the table, e.g. gru.fwd,conv1.bwd.input)
  --json                       stdout: one object {"adapter", "cache", "seconds", "ops": [{"op",
                               "variant", "default", "ms", "default_ms", "candidates": {id: ms}}],
                               "step_guard": {"kept", "picks", "tunedMs", "defaultMs", "speedup",
                               "lo", "hi", "wins", "rounds", "p", …} or null}
`;

/** `op=variant (source)` per tunable op, one line, for train's start-up line. */
export function variantSummary(choices: readonly VariantChoice[]): string {
  const sources = new Set(choices.map((c) => c.source));
  const nonDefault = choices.filter((c) => c.variant.id !== c.candidates[0]);
  const from = [...sources].join('/');
  if (nonDefault.length === 0) return `kernel variants: defaults (${from})`;
  return `kernel variants (${from}): ${nonDefault.map((c) => `${c.op}=${c.variant.id}`).join(' ')}; others default`;
}

/** A table: op, chosen variant, source, time vs the default's when measured. */
export function formatVariantTable(choices: readonly VariantChoice[]): string {
  const rows = choices.map((c) => [
    c.op, c.variant.id, c.source, c.candidates[0]!,
    c.ms !== undefined ? c.ms.toFixed(3) : '', c.defaultMs !== undefined ? c.defaultMs.toFixed(3) : '',
    c.ms !== undefined && c.defaultMs !== undefined && c.ms > 0 ? `${(c.defaultMs / c.ms).toFixed(2)}×` : '',
  ]);
  const head = ['op', 'variant', 'source', 'default', 'ms', 'default_ms', 'speedup'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

/** The variants a trainer of `config` would use on `ctx` now (cache or defaults), without allocating it. */
export async function cachedVariants(ctx: GpuContext, config: CpcTrainConfig, cache: NodeTuneCache): Promise<VariantChoice[]> {
  return resolveVariants(ctx, graphTunables(buildCpcGraph(config), ctx), { mode: 'cached', cache });
}

export async function tuneCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      preset: { type: 'string' },
      config: { type: 'string' },
      ops: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(TUNE_USAGE);
    return 0;
  }
  const { config, label } = await configFromFlags({ preset: values.preset, config: values.config });
  const tunable = buildCpcGraph(config).ops.filter((o) => o.tunable).map((o) => o.name);
  const ops = values.ops?.split(',').map((o) => o.trim()).filter(Boolean);
  const unknown = ops?.filter((o) => !tunable.includes(o)) ?? [];
  if (ops && (unknown.length || ops.length === 0)) {
    throw new UsageError('--ops', `${unknown.length ? `no tunable op ${unknown.map((o) => `'${o}'`).join(', ')}` : 'names no op'} (tunable ops: ${tunable.join(', ')})`);
  }
  const note = (msg: string) => process.stderr.write(`${msg}\n`);
  const cache = new NodeTuneCache({ notice: note });
  const ctx = await acquireNodeDevice({ label: 'tune' });
  let trainer: CpcTrainer | null = null;
  try {
    note(`tune ${label}: ${ctx.adapter.description || ctx.adapter.vendor}; cache ${cache.path}`);
    const t0 = performance.now();
    trainer = await CpcTrainer.create(ctx, config, {
      tune: 'measure', tuneCache: cache,
      ...(ops ? { tuneOps: ops } : {}),
      onTune: (r, done, total) => note(`  [${done}/${total}] ${r.op}: ${r.chosen}${r.chosen === r.defaultId ? ' (default)' : ''} ` +
        `${r.ms.toFixed(3)} ms vs default ${r.defaultMs.toFixed(3)} ms (${r.timings.length} candidates, ${r.source}; ` +
        `${(r.prepareMs / 1000).toFixed(1)} s preparing, ${(r.timingMs / 1000).toFixed(1)} s timing)` +
        (process.env.CPC_WEBGPU_TUNE_DEBUG ? ` ${r.timings.map((t) => `${t.id}:${t.ms.toFixed(2)}±${(100 * t.noise).toFixed(0)}%`).join(' ')}` : '')),
    });
    const seconds = (performance.now() - t0) / 1000;
    const choices = trainer.variantChoices;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({
        adapter: ctx.adapter, cache: cache.path, config: label, seconds: Number(seconds.toFixed(2)),
        ops: choices.map((c) => ({ op: c.op, variant: c.variant.id, default: c.candidates[0], source: c.source, ms: c.ms ?? null, default_ms: c.defaultMs ?? null,
          candidates: Object.fromEntries((c.timings ?? []).map((t) => [t.id, Number(t.ms.toFixed(4))])),
        })),
        step_guard: trainer.tuneVerdict,
      })}\n`);
    } else {
      process.stdout.write(`${formatVariantTable(choices)}\n${formatVerdict(trainer.tuneVerdict)}\ntuned in ${seconds.toFixed(1)} s; cache ${cache.path}\n`);
    }
    return 0;
  } finally {
    trainer?.dispose();
    await closeNodeDevice(ctx);
  }
}
