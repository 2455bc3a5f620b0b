// The `cpc-webgpu` command. Each subcommand lives in its own module; this file only routes.
import { parseArgs } from 'node:util';
import { acquireNodeDevice } from '../node/device.ts';
import { CpcError } from '../runtime/errors.ts';
import { benchCommand } from './bench.ts';
import { encodeCommand } from './encode.ts';
import { evalCommand } from './eval.ts';
import { gradsCommand } from './grads.ts';
import { trainCommand } from './train.ts';
import { deviceInfo, formatDeviceInfo } from './info.ts';

const USAGE = `usage: cpc-webgpu <command> [options]

commands:
  info [--json]          adapter, enabled features and the limits cpc-webgpu relies on
  train [--preset tiny|small|paper] [--config FILE] [--data synthetic|DIR] [--steps N] [--seed S]
        [--out DIR] [--resume] [--probe] [--json] …
                         train CPC; checkpoint + metrics.jsonl in --out (train --help for all options)
  eval --checkpoint FILE [--data synthetic|DIR] [--json]
                         linear phone/speaker probes, trained vs random init vs MFCC, with 95 % intervals
  encode --checkpoint FILE --data DIR|FILE.wav --out DIR [--layer z|c] [--format safetensors|npy]
                         frozen features, one [frames, dim] matrix per .wav file (10 ms frames)
  grads --weights W.safetensors --batch X.safetensors --out G.safetensors [--config FILE] [--json]
                         loss and parameter gradients for given weights and batch (interop check)
  bench [--only conv,gru,infonce] [--e2e] [--json] [--quick] [--no-paper]
                         kernel and end-to-end benchmarks (JSON format: DESIGN.md §8)
`;

async function infoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } } });
  const ctx = await acquireNodeDevice();
  try {
    const info = deviceInfo(ctx);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ adapter: info.adapter, features: info.features, limits: info.limits })}\n`);
    } else {
      process.stdout.write(`${formatDeviceInfo(info)}\n`);
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
  eval: evalCommand,
  encode: encodeCommand,
  grads: gradsCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 1;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`cpc-webgpu: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof CpcError) {
      // One line, no stack trace: these errors already name the operation and the shapes or file.
      process.stderr.write(`error: ${(e as Error).message}\n`);
      return 1;
    }
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${(e as Error).message} (see cpc-webgpu ${cmd} --help)\n`);
      return 1;
    }
    throw e;
  }
}
