// `cpc-webgpu grads`: loss and every parameter gradient for given weights and a given batch — the
// interop check against PyTorch or any other CPC implementation. Inputs and output are safetensors
// with PyTorch parameter names; the batch file holds `signal` [B, L] (F32 or F64).
import { parseArgs } from 'node:util';
import { readCheckpointInfo } from '../cpc/checkpoint.ts';
import { resolveConfig, type CpcTrainConfig } from '../cpc/config.ts';
import { CheckpointError, encodeSafetensors, parseSafetensors, type SafeTensor } from '../cpc/safetensors.ts';
import { CpcTrainer } from '../cpc/trainer.ts';
import { acquireNodeDevice } from '../node/device.ts';
import { MAX_CHECKPOINT_BYTES, nodeCheckpointStore } from '../node/checkpointStore.ts';
import { readFileLimited } from '../node/atomicFile.ts';
import { readConfigFile } from './configFile.ts';
import { CpcError } from '../runtime/errors.ts';
import { fsReason, InputFileError, UsageError } from './usage.ts';

/** The loss or a gradient came out NaN/±Inf: nothing is written (a caller comparing against PyTorch
 * would otherwise diff garbage, and `train` likewise refuses to save a non-finite step). */
class NonFiniteGradientError extends CpcError {}

const HELP = `usage: cpc-webgpu grads --weights W.safetensors --batch X.safetensors --out G.safetensors [--config FILE] [--json]

Computes the CPC loss and dLoss/dθ for every parameter (no update). The config comes from --config
(JSON: {"preset": …, overrides…}) or else from the weights' metadata; B and L are taken from the
batch's \`signal\` tensor [B, L]. In 'sampled' mode the negatives are those of optimizer step 1 for
the config's seed. The output holds one F32 tensor per parameter (same names and shapes) and the
loss, per-k loss and per-k accuracy in its metadata; --json prints them on stdout.
`;

/** Weights and batches are checkpoint-sized at most: the same bound and file-type checks as checkpoints. */
async function readBytes(flag: string, path: string): Promise<Uint8Array> {
  try {
    return await readFileLimited(path, MAX_CHECKPOINT_BYTES);
  } catch (e) {
    throw new InputFileError(flag, `cannot read '${path}': ${fsReason(e)}`);
  }
}

function batchSignal(bytes: Uint8Array, source: string): { signal: Float32Array; B: number; L: number } {
  const { tensors } = parseSafetensors(bytes, source);
  const t = tensors.get('signal');
  if (!t) throw new CheckpointError('grads', `${source}: no tensor 'signal' [B, L] (found: ${[...tensors.keys()].join(', ') || 'none'})`);
  if (t.shape.length !== 2 || t.shape[0]! < 1 || t.shape[1]! < 1) throw new CheckpointError('grads', `${source}: 'signal' must be [B, L], got [${t.shape.join(', ')}]`);
  if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new CheckpointError('grads', `${source}: 'signal' must be F32 or F64, got ${t.dtype}`);
  return { signal: Float32Array.from(t.data as Float32Array | Float64Array), B: t.shape[0]!, L: t.shape[1]! };
}

/** Where the first NaN/±Inf is (the loss, else the first gradient in parameter order), or null. */
function firstNonFinite(loss: number, names: readonly string[], grads: ReadonlyMap<string, Float32Array>): string | null {
  if (!Number.isFinite(loss)) return `the loss is ${loss}`;
  let count = 0;
  let first: string | null = null;
  for (const name of names) {
    const g = grads.get(name)!;
    for (let i = 0; i < g.length; i++) {
      if (Number.isFinite(g[i]!)) continue;
      count++;
      first ??= `gradient '${name}' holds ${g[i]} at index ${i}`;
    }
  }
  return first && `${first} (${count} non-finite gradient values in all)`;
}

export async function gradsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      weights: { type: 'string' }, batch: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' },
      json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  for (const f of ['weights', 'batch', 'out'] as const) {
    if (!values[f]) throw new UsageError(`--${f}`, `is required\n${HELP}`);
  }
  const weights = await readBytes('--weights', values.weights!);
  const batch = batchSignal(await readBytes('--batch', values.batch!), values.batch!);
  let base: CpcTrainConfig;
  if (values.config) {
    base = await readConfigFile(values.config);
  } else {
    base = readCheckpointInfo(weights, values.weights!).config;
  }
  const config = resolveConfig(base, { batchSize: batch.B, window: batch.L });
  const ctx = await acquireNodeDevice({ label: 'grads' });
  try {
    const trainer = await CpcTrainer.create(ctx, config, { store: nodeCheckpointStore });
    try {
      await trainer.loadCheckpoint(weights, values.weights!);
      const r = await trainer.lossAndGrads(batch.signal);
      const bad = firstNonFinite(r.loss, trainer.paramNames, r.grads);
      if (bad) {
        throw new NonFiniteGradientError('grads', `${bad} for weights ${values.weights} and batch ${values.batch} ` +
          `[${batch.B}, ${batch.L}] (loss ${r.loss}); nothing written to ${values.out}`);
      }
      const out = new Map<string, SafeTensor>();
      for (const name of trainer.paramNames) {
        const shape = trainer.graph.layout.byName.get(name)!.shape;
        out.set(name, { dtype: 'F32', shape, data: r.grads.get(name)! });
      }
      const summary = { loss: r.loss, loss_per_k: r.lossPerK, acc_per_k: r.accPerK, B: batch.B, L: batch.L, frames: trainer.frames };
      await nodeCheckpointStore.write(values.out!, encodeSafetensors(out, {
        loss: String(r.loss), loss_per_k: JSON.stringify(r.lossPerK), acc_per_k: JSON.stringify(r.accPerK), config: JSON.stringify(config),
      }));
      if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, out: values.out })}\n`);
      else process.stdout.write(`loss ${r.loss.toFixed(6)}  (per k: ${r.lossPerK.map((x) => x.toFixed(4)).join(', ')})  gradients → ${values.out}\n`);
    } finally {
      trainer.dispose();
    }
  } finally {
    ctx.dispose();
  }
  return 0;
}
