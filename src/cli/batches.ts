// `cpc-webgpu batches`: a run's training batch stream on stdout, for another trainer (PyTorch DDP,
// interop/pytorch/train_ddp.py) to consume. The stream is exactly the one `cpc-webgpu train` draws
// (same dataset loader, same seeded sampler, continued from the run's checkpoint), and every batch
// carries the sampler state after it, so the other trainer writes checkpoints `train --resume`
// continues bit for bit. Needs no GPU: only the dataset and the sampler run here.
//
// Without --resume it starts a run: DIR/checkpoint.safetensors at step 0 (the seeded init `train`
// starts from, zero Adam moments), then batches 1..N.
//
// Stream format (cpc-webgpu.batches.v1): one JSON header line {"format", "B", "L", "start_step",
// "target_step", "checkpoint"}, then per step one JSON line {"step", "sampler"} followed by B·L
// little-endian float32 samples ([B, L] row-major).
import { parseArgs } from 'node:util';
import { encodeCheckpoint } from '../cpc/checkpoint.ts';
import { initParams, packParams, paramLayout } from '../cpc/params.ts';
import { nodeCheckpointStore } from '../node/checkpointStore.ts';
import { DATA_META_KEY } from './data.ts';
import { openRunData, resolveTrainSetup, SAMPLER_META_KEY } from './trainSetup.ts';
import { intFlag, UsageError } from './usage.ts';

export const BATCHES_FORMAT = 'cpc-webgpu.batches.v1';

export const BATCHES_USAGE = `usage: cpc-webgpu batches --out DIR --steps N [--resume] [--preset …] [--config FILE] [--data synthetic|DIR] [--seed S] [--overwrite]
  Writes the training batch stream of the run in DIR to stdout (format ${BATCHES_FORMAT}: a JSON
  header line, then per step a JSON line {"step", "sampler"} and B·L float32 samples).
  --resume       continue from DIR/checkpoint.safetensors: batches step+1 .. N
  (no --resume)  start a run: write DIR/checkpoint.safetensors at step 0 (seeded init, zero
                 moments) from --preset/--config/--data/--seed, as \`train\` would, then batches 1 .. N
  --steps N      the step to stop at (0: only write the step-0 checkpoint)
`;

/** Resolves once the chunk is handed to the OS: memory stays bounded however slowly the reader reads. */
function writeOut(chunk: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (e) => (e ? reject(e) : resolve()));
  });
}

export async function batchesCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' }, steps: { type: 'string' }, resume: { type: 'boolean', default: false },
      preset: { type: 'string' }, config: { type: 'string' }, data: { type: 'string' }, seed: { type: 'string' },
      overwrite: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(BATCHES_USAGE);
    return 0;
  }
  if (!values.out) throw new UsageError('--out', `is required (the run folder)\n${BATCHES_USAGE}`);
  if (values.steps === undefined) throw new UsageError('--steps', `is required\n${BATCHES_USAGE}`);
  const steps = intFlag('--steps', values.steps, 0, 0);
  const seed = values.seed === undefined ? undefined : intFlag('--seed', values.seed, 0, 0, 0xffffffff);
  const setup = await resolveTrainSetup({
    preset: values.preset, config: values.config, data: values.data, steps, seed, out: values.out,
    resume: values.resume, overwrite: values.overwrite,
  });
  const note = (msg: string) => process.stderr.write(`${msg}\n`);
  const { config } = setup;
  const { sampler } = await openRunData(setup.data, config, note);
  if (setup.resume) sampler.setState(setup.resume.sampler);
  else {
    const layout = paramLayout(config);
    const params = packParams(layout, initParams(config, config.seed));
    const zeros = new Float32Array(layout.total);
    await nodeCheckpointStore.write(setup.checkpointPath, encodeCheckpoint(config, layout, 0, { params, m: zeros, v: zeros }, {
      [SAMPLER_META_KEY]: JSON.stringify(sampler.getState()), [DATA_META_KEY]: JSON.stringify(setup.data),
    }));
    note(`batches: wrote ${setup.checkpointPath} (step 0)`);
  }
  // A reader that stops early (it has the steps it needs) closes the pipe: that is not an error.
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
    else throw e;
  });
  const B = config.batchSize, L = config.window;
  try {
    await writeOut(`${JSON.stringify({ format: BATCHES_FORMAT, B, L, start_step: setup.startStep, target_step: setup.targetStep, checkpoint: setup.checkpointPath })}\n`);
    for (let step = setup.startStep + 1; step <= setup.targetStep && !closed; step++) {
      const batch = await sampler.next();
      await writeOut(`${JSON.stringify({ step, sampler: sampler.getState() })}\n`);
      await writeOut(new Uint8Array(batch.signal.buffer, batch.signal.byteOffset, batch.signal.byteLength));
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
  }
  return 0;
}
