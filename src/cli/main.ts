// The `cpc-webgpu` command. Each subcommand lives in its own module; this file only routes.
import { parseArgs } from 'node:util';
import { acquireNodeDevice } from '../node/device.ts';
import { PRESET_NAMES } from '../cpc/config.ts';
import { CpcError } from '../runtime/errors.ts';
import { batchesCommand } from './batches.ts';
import { benchCommand } from './bench.ts';
import { encodeCommand } from './encode.ts';
import { evalCommand } from './eval.ts';
import { gradsCommand } from './grads.ts';
import { trainCommand } from './train.ts';
import { cachedVariants, formatVariantTable, tuneCommand } from './tune.ts';
import { configFromFlags } from './trainSetup.ts';
import { NodeTuneCache } from '../node/tuneCache.ts';
import { formatVerdict, latestVerdict } from '../runtime/tuner.ts';
import { deviceInfo, formatDeviceInfo } from './info.ts';
import { UsageError } from './usage.ts';
import { packageVersion } from './version.ts';

/** Exit status of a usage error (bad or missing flag), as getopt-style tools use. */
const EXIT_USAGE = 2;

const USAGE = `usage: cpc-webgpu <command> [options]     (cpc-webgpu <command> --help for its options)

commands:
  info [--json] [--preset P] [--config FILE]
                         adapter, enabled features and the limits cpc-webgpu relies on; with a
                         preset/config also the kernel variants train would use (tuning cache or defaults)
  tune [--preset P] [--config FILE] [--json]
                         time the kernel variants for those shapes on this adapter; cache the choices
  train [--preset ${PRESET_NAMES.join('|')}] [--config FILE] [--data synthetic|DIR] [--steps N] [--seed S]
        [--out DIR] [--resume] [--probe] [--json] …
                         train CPC; checkpoint + metrics.jsonl in --out (train --help for all options)
  eval --checkpoint FILE [--data synthetic|DIR] [--json]
                         linear phone/speaker probes, trained vs random init vs MFCC, with 95 % intervals
  encode --checkpoint FILE --data DIR|FILE.wav --out DIR [--layer z|c] [--format safetensors|npy]
                         frozen features, one [frames, dim] matrix per .wav file (10 ms frames)
  grads --weights W.safetensors --batch X.safetensors --out G.safetensors [--config FILE] [--json]
                         loss and parameter gradients for given weights and batch (interop check)
  batches --out DIR --steps N [--resume] [--preset …] [--data …]
                         a run's training batch stream on stdout (for interop/pytorch/train_ddp.py)
  bench [--only conv,gru,infonce] [--e2e [--no-tune]] [--json] [--quick] [--no-paper]
                         kernel and end-to-end benchmarks
  --version              print the version
  --verbose              (with any command) also show Dawn's native start-up messages
`;

const INFO_USAGE = `usage: cpc-webgpu info [--json] [--preset ${PRESET_NAMES.join('|')}] [--config FILE.json]
  prints the WebGPU adapter, the enabled optional features and the limits cpc-webgpu relies on
  --preset NAME / --config F  also the kernel variant per tunable op that train would use for these
                              shapes: from the tuning cache (cpc-webgpu tune) or the adapter's defaults
  --json                      one JSON object: {"version", "adapter", "features", "limits"}, plus
                              "variants": {"op": {"id", "source", "candidates"}} and "step_guard" with a preset/config
`;

async function infoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false }, preset: { type: 'string' }, config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(INFO_USAGE);
    return 0;
  }
  const withVariants = values.preset !== undefined || values.config !== undefined;
  const config = withVariants ? (await configFromFlags({ preset: values.preset, config: values.config })).config : null;
  const ctx = await acquireNodeDevice();
  try {
    const info = deviceInfo(ctx);
    const choices = config ? await cachedVariants(ctx, config, new NodeTuneCache({ notice: (m) => process.stderr.write(`${m}\n`) })) : null;
    if (values.json) {
      const variants = choices ? {
        variants: Object.fromEntries(choices.map((c) => [c.op, { id: c.variant.id, source: c.source, candidates: c.candidates }])),
        step_guard: latestVerdict(choices),
      } : {};
      process.stdout.write(`${JSON.stringify({ version: packageVersion(), adapter: info.adapter, features: info.features, limits: info.limits, ...variants })}\n`);
    } else {
      process.stdout.write(`${formatDeviceInfo(info)}\n`);
      if (choices) {
        const v = latestVerdict(choices);
        process.stdout.write(`kernel variants (cpc-webgpu tune to measure):\n${formatVariantTable(choices).replace(/^/gm, '  ')}\n` +
          (v ? `  ${formatVerdict(v)}\n` : ''));
      }
    }
  } finally {
    ctx.dispose();
  }
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  info: infoCommand,
  bench: benchCommand,
  train: trainCommand,
  tune: tuneCommand,
  eval: evalCommand,
  encode: encodeCommand,
  grads: gradsCommand,
  batches: batchesCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : EXIT_USAGE;
  }
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`cpc-webgpu: unknown command '${cmd}'\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof CpcError) {
      // One line, no stack trace: these errors already name the operation and the shapes or file.
      process.stderr.write(`error: ${(e as Error).message}\n`);
      return e instanceof UsageError ? EXIT_USAGE : 1;
    }
    // `code` is not always a string: a child process's error carries its exit status there.
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(e as Error).message} (see cpc-webgpu ${cmd} --help)\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
