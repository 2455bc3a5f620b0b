// Everything `cpc-webgpu train` decides before it touches the GPU: the config (a preset, a --config
// file, --seed, the LR horizon), or — with --resume — the config, data spec and sampler state stored in
// the run's checkpoint. Bad flags, bad configs and bad checkpoints are refused here, in milliseconds,
// rather than after a device and a few hundred pipelines have been created.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, configFromObject, PRESET_NAMES, resolveConfig, type CpcTrainConfig, type PresetName } from '../cpc/config.ts';
import { readCheckpointInfo } from '../cpc/checkpoint.ts';
import { CheckpointError } from '../cpc/safetensors.ts';
import type { WindowSamplerState } from '../cpc/data/batcher.ts';
import type { PackSamplerState } from '../cpc/data/packSampler.ts';
import { subSeed } from '../cpc/data/rng.ts';
import { nodeCheckpointStore } from '../node/checkpointStore.ts';
import { DATA_META_KEY, dataSpecFromMetadata, describeDataSpec, openTrainData, parseDataFlags, sameDataSpec, type DataSpec, type TrainData } from './data.ts';
import { configFromFileObject, readConfigObject } from './configFile.ts';
import { UsageError } from './usage.ts';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const METRICS_FILE = 'metrics.jsonl';
/** Checkpoint metadata key holding the WindowSampler state after the checkpoint's last step. */
export const SAMPLER_META_KEY = 'cpc.sampler';

/** Seed tag of the training batch stream (distinct from the model init's use of config.seed). */
const SAMPLER_SEED_TAG = 0xda7a;

/** The training batch stream of a run (`train` consumes it; `batches` hands it to other trainers). */
export function openRunData(spec: DataSpec, config: CpcTrainConfig, log: (msg: string) => void): Promise<TrainData> {
  return openTrainData(spec, { B: config.batchSize, L: config.window, seed: subSeed(config.seed, SAMPLER_SEED_TAG), sampling: config.sampling }, log);
}

export interface TrainFlags {
  preset?: string;
  config?: string;
  data?: string;
  split?: string;
  trainList?: string;
  valList?: string;
  dataMemory?: string;
  steps?: number;
  seed?: number;
  out?: string;
  resume: boolean;
  overwrite: boolean;
}

export interface TrainSetup {
  config: CpcTrainConfig;
  /** Preset name, or 'custom' for a --config file, or 'checkpoint' on resume (for messages). */
  label: string;
  data: DataSpec;
  outDir: string;
  checkpointPath: string;
  metricsPath: string;
  /** Step the run starts from (0, or the checkpoint's step). */
  startStep: number;
  /** Step to stop at. */
  targetStep: number;
  /** On resume: the checkpoint bytes (to load into the trainer) and the sampler state. */
  resume: { bytes: Uint8Array; sampler: WindowSamplerState | PackSamplerState } | null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function checkPresetFlag(preset: string | undefined): asserts preset is PresetName | undefined {
  if (preset !== undefined && !(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new ConfigError('--preset', `unknown preset '${preset}' (choose ${PRESET_NAMES.join(', ')})`);
  }
}

/** The config of a fresh run: --preset, then the --config file's fields, then --seed; LR horizon = --steps unless set. */
async function freshConfig(flags: TrainFlags): Promise<{ config: CpcTrainConfig; label: string }> {
  checkPresetFlag(flags.preset);
  let raw: Record<string, unknown> = {};
  if (flags.config !== undefined) {
    raw = await readConfigObject(flags.config);
    if (flags.preset !== undefined && raw.preset !== undefined && raw.preset !== flags.preset) {
      throw new ConfigError('--preset', `'${flags.preset}' contradicts "preset": ${JSON.stringify(raw.preset)} in ${flags.config}`);
    }
  }
  const merged: Record<string, unknown> = { ...raw, preset: raw.preset ?? flags.preset ?? 'small' };
  if (flags.seed !== undefined) merged.seed = flags.seed;
  // The cosine LR horizon follows the run length, unless the config pins it. It is fixed at the start
  // (stored in the checkpoint's config), so a resumed run keeps the schedule it started with.
  // Only an absent or object "optimizer" gets the horizon; anything else (5, null, [], true) is left
  // as written for resolveConfig to refuse by name.
  const opt = raw.optimizer;
  const isObject = typeof opt === 'object' && opt !== null && !Array.isArray(opt);
  if (flags.steps !== undefined && (opt === undefined || isObject) && (opt as Record<string, unknown> | undefined)?.totalSteps === undefined) {
    merged.optimizer = { ...(opt as Record<string, unknown> | undefined), totalSteps: flags.steps };
  }
  const config = flags.config !== undefined ? configFromFileObject(merged, flags.config) : configFromObject(merged);
  const label = flags.config !== undefined ? 'custom' : String(merged.preset);
  return { config, label };
}

/** The config `train` would start from for --preset / --config (used by `tune` and `info --preset`). */
export async function configFromFlags(flags: { preset?: string; config?: string }): Promise<{ config: CpcTrainConfig; label: string }> {
  return freshConfig({ ...flags, resume: false, overwrite: false });
}

/** JSON with object keys sorted, so two configs built along different paths compare by content. */
function sortedJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${sortedJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Whether a checkpoint's config is `preset` as `train` would have built it: the preset with the two
 * fields train's own flags set (--seed, and --steps as the LR horizon) taken from the checkpoint.
 */
function isPresetConfig(config: CpcTrainConfig, preset: PresetName): boolean {
  const expected = resolveConfig(preset, { seed: config.seed, optimizer: { totalSteps: config.optimizer.totalSteps } });
  return sortedJson(expected) === sortedJson(config);
}

/** JSON for messages, except numbers (JSON would print Infinity as null). */
const shownValue = (v: unknown): string => (typeof v === 'number' ? String(v) : String(JSON.stringify(v)));

function samplerStateFrom(meta: Record<string, string>, source: string): WindowSamplerState | PackSamplerState {
  const text = meta[SAMPLER_META_KEY];
  const fail = (why: string): never => {
    throw new CheckpointError('resume', `${source}: ${why}; it was not written by \`cpc-webgpu train\`, so the batch stream cannot be resumed`);
  };
  if (text === undefined) fail(`no '${SAMPLER_META_KEY}' metadata (data sampler state)`);
  let s: Partial<PackSamplerState>;
  try {
    s = JSON.parse(text!) as Partial<PackSamplerState>;
  } catch {
    return fail(`'${SAMPLER_META_KEY}' metadata is not valid JSON`);
  }
  if (!s || typeof s !== 'object' || Array.isArray(s)) return fail(`'${SAMPLER_META_KEY}' metadata is not a sampler state {rng, batches}`);
  // The generator's whole state is one uint32 (data/rng.ts); JSON turns 1e400 into Infinity.
  if (!Number.isInteger(s.rng) || s.rng! < 0 || s.rng! > 0xffffffff) fail(`'${SAMPLER_META_KEY}' rng must be a uint32, got ${shownValue(s.rng)}`);
  if (!Number.isSafeInteger(s.batches) || s.batches! < 0) fail(`'${SAMPLER_META_KEY}' batches must be an integer ≥ 0, got ${shownValue(s.batches)}`);
  // A corpus run's sampler also records its pack position (checked against the packs once they are planned).
  if (s.pack !== undefined || s.packBatch !== undefined) {
    if (!Number.isInteger(s.pack) || s.pack! < 0 || !Number.isInteger(s.packBatch) || s.packBatch! < 0) fail(`'${SAMPLER_META_KEY}' metadata has an invalid pack position`);
    return { rng: s.rng!, batches: s.batches!, pack: s.pack!, packBatch: s.packBatch! };
  }
  return { rng: s.rng!, batches: s.batches! };
}

export async function resolveTrainSetup(flags: TrainFlags): Promise<TrainSetup> {
  const outDir = flags.out ?? join('runs', flags.config !== undefined ? 'custom' : flags.preset ?? 'small');
  const checkpointPath = join(outDir, CHECKPOINT_FILE);
  const metricsPath = join(outDir, METRICS_FILE);

  if (flags.resume) {
    if (flags.overwrite) throw new UsageError('--resume', 'cannot be combined with --overwrite');
    checkPresetFlag(flags.preset);
    // --preset is allowed when it names the checkpoint's own preset (it also picks the default --out).
    for (const [name, v] of [['--config', flags.config], ['--seed', flags.seed]] as const) {
      if (v !== undefined) throw new UsageError(name, `cannot be combined with --resume: the run's config comes from its checkpoint (${checkpointPath})`);
    }
    if (!(await exists(checkpointPath))) throw new UsageError('--resume', `nothing to resume: ${checkpointPath} does not exist`);
    const bytes = await nodeCheckpointStore.read(checkpointPath);
    const info = readCheckpointInfo(bytes, checkpointPath);
    if (flags.preset !== undefined && !isPresetConfig(info.config, flags.preset)) {
      throw new UsageError('--preset', `'${flags.preset}' is not the config of ${checkpointPath}; drop --preset to resume with the checkpoint's config`);
    }
    const sampler = samplerStateFrom(info.metadata, checkpointPath);
    if (sampler.batches !== info.step) {
      throw new CheckpointError('resume', `${checkpointPath}: the sampler state has drawn ${sampler.batches} batches but the checkpoint is at step ${info.step}`);
    }
    const saved = dataSpecFromMetadata(info.metadata, checkpointPath);
    if (!saved) throw new CheckpointError('resume', `${checkpointPath}: no '${DATA_META_KEY}' metadata (dataset spec); cannot resume the batch stream`);
    const dataFlags = { data: flags.data, split: flags.split, trainList: flags.trainList, valList: flags.valList, dataMemory: flags.dataMemory };
    if (flags.data === undefined && Object.values(dataFlags).some((v) => v !== undefined)) {
      throw new UsageError('--resume', `data flags without --data cannot change the data of a run; drop them to resume`);
    }
    if (flags.data !== undefined && !sameDataSpec(parseDataFlags(dataFlags), saved)) {
      throw new UsageError('--data', `'${flags.data}' differs from the data this run was trained on (${describeDataSpec(saved)}); drop --data to resume`);
    }
    return {
      config: info.config, label: 'checkpoint', data: saved, outDir, checkpointPath, metricsPath,
      startStep: info.step, targetStep: flags.steps ?? info.config.optimizer.totalSteps, resume: { bytes, sampler },
    };
  }

  const { config, label } = await freshConfig(flags);
  const data = parseDataFlags({ data: flags.data, split: flags.split, trainList: flags.trainList, valList: flags.valList, dataMemory: flags.dataMemory });
  if (!flags.overwrite && (await exists(checkpointPath))) {
    throw new UsageError('--out', `${checkpointPath} already exists; pass --resume to continue that run or --overwrite to start over`);
  }
  return {
    config, label, data, outDir, checkpointPath, metricsPath,
    startStep: 0, targetStep: flags.steps ?? config.optimizer.totalSteps, resume: null,
  };
}
