// `cpc-webgpu eval --checkpoint FILE`: linear probes (phone per frame, speaker per window) on the frozen
// features of a trained checkpoint and, as the baseline, of a randomly initialised model of the same
// config (the seeded init the trainer starts from). The config comes from the checkpoint; the data
// from --data, else the checkpoint's dataset spec, else the synthetic set.
import { parseArgs } from 'node:util';
import { checkpointStep, decodeCheckpoint, parseCheckpoint, readCheckpointInfo } from '../cpc/checkpoint.ts';
import { paramLayout } from '../cpc/params.ts';
import { evaluateProbes, layerEncoder, mfccEncoder } from '../cpc/evaluate.ts';
import { CpcTrainer } from '../cpc/trainer.ts';
import { nodeCheckpointStore } from '../node/checkpointStore.ts';
import { acquireNodeDevice } from '../node/device.ts';
import { readConfigFile } from './configFile.ts';
import { dataSpecFromMetadata, describeDataSpec, loadDataset, parseDataArg, parseDataFlags } from './data.ts';
import { formatProbeTable, probeJson } from './probeReport.ts';
import { intFlag, layerFlag, UsageError } from './usage.ts';

export const EVAL_USAGE = `usage: cpc-webgpu eval --checkpoint FILE [options]
  --checkpoint FILE           a checkpoint written by \`cpc-webgpu train\` (config read from it)
  --data synthetic|DIR        data to probe on (default: the checkpoint's training data); a corpus
                              folder of .wav/.flac files as in \`train --data\`
  --split, --train-list, --val-list, --data-memory   as for train (with --data DIR)
  --config FILE.json          the model config, for weights-only files (default: the checkpoint's)
  --max-windows N             cap on train windows fed to the encoder (default 2000; test: all windows)
  --layer z|c                 probe the GRU context c (default, as the CPC paper) or the encoder output z
  --json                      print one JSON object: {"phone_acc", "speaker_acc", "random_init": {…}, "mfcc": {…}, "verdicts", …}
`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoint: { type: 'string' },
      data: { type: 'string' },
      split: { type: 'string' },
      'train-list': { type: 'string' },
      'val-list': { type: 'string' },
      'data-memory': { type: 'string' },
      config: { type: 'string' },
      'max-windows': { type: 'string' },
      layer: { type: 'string', default: 'c' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(EVAL_USAGE);
    return 0;
  }
  if (!values.checkpoint) throw new UsageError('eval', `--checkpoint FILE is required\n${EVAL_USAGE}`);
  const maxWindows = values['max-windows'] === undefined ? undefined : intFlag('--max-windows', values['max-windows'], 0);
  const layer = layerFlag('eval', values.layer);
  const note = (msg: string) => process.stderr.write(`${msg}\n`);

  // Everything about the checkpoint is validated before a device is acquired.
  const path = values.checkpoint;
  // Parsed once (the header decode is the costly part of a forged file); the bytes are not kept.
  const checkpoint = parseCheckpoint(await nodeCheckpointStore.read(path), path);
  // Weights-only files (e.g. converted from PyTorch) carry no config: --config supplies it, and the
  // trainer's loadCheckpoint then checks every tensor against it.
  let info: ReturnType<typeof readCheckpointInfo>;
  if (values.config !== undefined) {
    const { metadata } = checkpoint;
    info = { config: await readConfigFile(values.config), step: checkpointStep(metadata, path), metadata };
  } else {
    info = readCheckpointInfo(checkpoint, path);
  }
  // Every tensor against the config, now rather than after the random-init probes.
  decodeCheckpoint(checkpoint, info.config, paramLayout(info.config), path);
  const dataFlags = { data: values.data, split: values.split, trainList: values['train-list'], valList: values['val-list'], dataMemory: values['data-memory'] };
  const spec = values.data !== undefined || Object.values(dataFlags).some((v) => v !== undefined) ? parseDataFlags(dataFlags) : dataSpecFromMetadata(info.metadata, path) ?? parseDataArg('synthetic');
  const dataset = await loadDataset(spec, note);
  // The cap is on train windows only: the test split is always used whole, so intervals are as narrow as the data allows.
  const caps = maxWindows === undefined ? undefined : { train: maxWindows };

  const ctx = await acquireNodeDevice({ label: 'eval' });
  let trainer: CpcTrainer | null = null;
  try {
    // A fresh trainer holds the seeded random init: probe it first, then load the trained weights.
    trainer = await CpcTrainer.create(ctx, info.config);
    const features = layerEncoder(trainer, layer);
    note(`eval ${path} (step ${info.step}) on ${describeDataSpec(spec)}, probing ${layer}`);
    note('probes: random init …');
    const random = await evaluateProbes(features, dataset, { maxWindows: caps, onProgress: note });
    await trainer.loadCheckpoint(checkpoint, path);
    note('probes: trained …');
    const trained = await evaluateProbes(features, dataset, { maxWindows: caps, onProgress: note });
    note('probes: MFCC baseline …');
    const mfcc = await evaluateProbes(mfccEncoder(info.config), dataset, { maxWindows: caps, onProgress: note });
    const set = { trained, random, mfcc };
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...probeJson(set), checkpoint: path, step: info.step, data: describeDataSpec(spec) })}\n`);
    } else {
      process.stdout.write(`${formatProbeTable(set)}\n`);
    }
    return 0;
  } finally {
    trainer?.dispose();
    ctx.dispose();
  }
}
