/// <reference lib="webworker" />
// The training worker: owns the GPUDevice (WebGPU in a dedicated worker), the trainer, the dataset
// and the batch sampler. The page only sends commands and draws what comes back, so nothing on the
// UI thread ever waits for the GPU. Metrics come from trainer.takeMetrics() (asynchronous readback
// through the trainer's readback ring); trainer.trainStep keeps at most two steps in flight, so the
// GPU queue stays short and pause / checkpoint / profile requests are served within about a step.
// Every state change to paused is posted after trainer.flush()'s rows: when the page says paused,
// it already shows every step.
import { acquireDevice, type GpuContext } from '../src/runtime/device.ts';
import {
  DeviceLostError, GpuInternalError, GpuOutOfMemoryError, GpuValidationError, LimitExceededError, NoAdapterError, NonFiniteError,
  ShaderCompilationError, ShapeError,
} from '../src/runtime/errors.ts';
import { ConfigError } from '../src/cpc/config.ts';
import { DatasetError } from '../src/cpc/data/dataset.ts';
import { CheckpointError, parseSafetensors } from '../src/cpc/safetensors.ts';
import { CpcTrainer, readCheckpointInfo, type StepMetrics } from '../src/cpc/trainer.ts';
import { IndexedDbTuneCache } from '../src/runtime/tuner.ts';
import type { CpcTrainConfig } from '../src/cpc/config.ts';
import type { Dataset } from '../src/cpc/data/dataset.ts';
import type { WindowBatch, WindowSampler } from '../src/cpc/data/batcher.ts';
import { buildDataset, trainSampler } from './data.ts';
import { runDemoProbe } from './probe.ts';
import type { DataSpec, ErrorKind, ErrorReport, FromWorker, RunSettings, RunState, ToWorker } from './protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

// ---------------------------------------------------------------------------------- error mapping

// instanceof, not error.name: the production build minifies class names (CpcError sets
// name = new.target.name), so the readable name comes from this table too.
const KINDS: [abstract new (...args: never[]) => Error, ErrorKind, string][] = [
  [NoAdapterError, 'no-webgpu', 'NoAdapterError'],
  [LimitExceededError, 'limits', 'LimitExceededError'],
  [GpuOutOfMemoryError, 'limits', 'GpuOutOfMemoryError'],
  [DeviceLostError, 'device-lost', 'DeviceLostError'],
  [NonFiniteError, 'non-finite', 'NonFiniteError'],
  [ConfigError, 'config', 'ConfigError'],
  [DatasetError, 'data', 'DatasetError'],
  [CheckpointError, 'checkpoint', 'CheckpointError'],
  [GpuValidationError, 'internal', 'GpuValidationError'],
  [GpuInternalError, 'internal', 'GpuInternalError'],
  [ShaderCompilationError, 'internal', 'ShaderCompilationError'],
  [ShapeError, 'internal', 'ShapeError'],
];

function report(e: unknown, fallback: ErrorKind = 'internal'): ErrorReport {
  const err = e instanceof Error ? e : new Error(String(e));
  const hit = KINDS.find(([cls]) => err instanceof cls);
  const r: ErrorReport = { kind: hit?.[1] ?? fallback, name: hit?.[2] ?? err.name, message: err.message };
  if (hit?.[1] === 'internal' && fallback !== 'internal') r.kind = fallback;
  if (err instanceof LimitExceededError) r.limit = { name: err.limit, requested: err.requested, allowed: err.allowed };
  if (ctx?.lostInfo && r.kind === 'internal') r.kind = 'device-lost';
  return r;
}

// -------------------------------------------------------------------------------------- run state

let ctx: GpuContext | null = null;
let trainer: CpcTrainer | null = null;
let tuneCache: IndexedDbTuneCache | null = null;
let dataset: Dataset | null = null;
let dataSpec: DataSpec = { kind: 'synthetic' };
/** What `dataset` was built from (the audio split depends on the seed). */
let datasetKey = '';
let sampler: WindowSampler | null = null;
let batch: WindowBatch | undefined;
let presetName = 'custom';
let settings: RunSettings = { metricsEvery: 1, profileEvery: 0, checkpointEverySeconds: 30, maxSteps: 0 };
let state: RunState = 'idle';
/** Bumped on every start/reset: a loop whose generation is stale exits. */
let generation = 0;
/** Set while we destroy the device ourselves (dispose), so its loss is not reported as an error. */
let disposing = false;
let lastAutoCheckpointAt = 0;
/**
 * The step after which the next automatic profile runs: right after a model's first step (the
 * visitor sees the kernel table within seconds, with warm pipelines), then every profileEvery steps.
 */
let nextProfileAt = 1;
/** (step, time) of recent metric rows, for steps/s over a sliding window. */
const rate: { step: number; t: number }[] = [];

function setState(s: RunState, detail?: string): void {
  state = s;
  post({ type: 'state', state: s, step: trainer?.stepCount ?? 0, detail });
}

/** A FIFO lock: the training loop holds it for one step, commands take it between steps. */
let tail: Promise<void> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = tail.then(fn);
  tail = run.then(() => undefined, () => undefined);
  return run;
}

async function ensureDevice(): Promise<GpuContext> {
  if (ctx && !ctx.isLost) return ctx;
  ctx = await acquireDevice({ label: 'cpc-demo' });
  const mine = ctx;
  void mine.lost.then((info) => {
    if (disposing || ctx !== mine) return;
    const step = trainer?.stepCount ?? 0;
    generation++;
    setState('failed', 'device lost');
    post({ type: 'error', error: { kind: 'device-lost', name: 'DeviceLostError', message: `the GPU device was lost (${info.reason}): ${info.message || 'no message'}`, step } });
  });
  const a = mine.adapter;
  post({
    type: 'ready',
    adapter: {
      vendor: a.vendor, architecture: a.architecture, description: a.description, isFallbackAdapter: a.isFallbackAdapter,
      features: [...mine.features].sort(), adapterFeatures: [...mine.adapterFeatures], limits: { ...mine.limits },
    },
  });
  return mine;
}

function disposeTrainer(): void {
  trainer?.dispose();
  trainer = null;
  sampler = null;
  batch = undefined;
  rate.length = 0;
}

let dataVersion = 0;

function currentDataset(seed: number): Dataset {
  const key = `${dataVersion}:${dataSpec.kind === 'synthetic' ? '' : seed}`;
  if (!dataset || key !== datasetKey) {
    const built = buildDataset(dataSpec, seed);
    dataset = built.dataset;
    datasetKey = key;
    for (const n of built.notices) post({ type: 'notice', message: n });
  }
  return dataset;
}

async function createTrainer(config: CpcTrainConfig, preset: string, bytes?: Uint8Array, source?: string): Promise<void> {
  disposeTrainer();
  setState('preparing', 'building the dataset');
  let ds: Dataset;
  try {
    ds = currentDataset(config.seed);
    sampler = trainSampler(ds, config);
  } catch (e) {
    // e.g. ShapeError "no train utterance is at least L samples long": a data problem, say so.
    if (e instanceof NonFiniteError || e instanceof DatasetError) throw e;
    throw new DatasetError('dataset', (e as Error).message);
  }
  setState('preparing', 'compiling pipelines');
  const c = await ensureDevice();
  // Kernel variants from the browser's tuning cache (IndexedDB) when an entry exists, else defaults.
  tuneCache ??= new IndexedDbTuneCache('cpc-webgpu', (message) => post({ type: 'notice', message }));
  trainer = await CpcTrainer.create(c, config, { metricsEvery: settings.metricsEvery, tuneCache });
  presetName = preset;
  if (bytes) {
    const meta = await trainer.loadCheckpoint(bytes, source);
    if (meta.demo_sampler) {
      try {
        sampler.setState(JSON.parse(meta.demo_sampler));
      } catch {
        post({ type: 'notice', message: `${source}: sampler state not restored; batches continue from a fresh stream` });
      }
    }
  }
  lastAutoCheckpointAt = performance.now();
  nextProfileAt = trainer.stepCount + 1;
  const p = trainer.plan;
  post({
    type: 'created', config, preset, frames: trainer.frames, paramCount: trainer.paramCount, paramNames: [...trainer.paramNames],
    plannedPeakBytes: p.plannedPeakBytes, noReuseBytes: p.noReuseBytes, persistentBytes: p.persistentBytes, transientBytes: p.transientBytes,
    dataName: ds.name, trainUtterances: ds.utterances('train').length, step: trainer.stepCount,
    variants: Object.fromEntries(trainer.variantChoices.map((v) => [v.op, { id: v.variant.id, source: v.source, isDefault: v.variant.id === v.candidates[0] }])),
  });
}

function checkpointMetadata(): Record<string, string> {
  return {
    demo_preset: presetName,
    demo_data: dataset?.name ?? '',
    ...(sampler ? { demo_sampler: JSON.stringify(sampler.getState()) } : {}),
  };
}

function postMetrics(rows: StepMetrics[]): void {
  if (rows.length === 0) return;
  const now = performance.now();
  for (const r of rows) rate.push({ step: r.step, t: now });
  // Rate over the last ~10 s of completed steps (at least two points).
  while (rate.length > 2 && now - rate[0]!.t > 10_000) rate.shift();
  let stepsPerSec: number | null = null;
  if (rate.length >= 2) {
    const a = rate[0]!;
    const b = rate[rate.length - 1]!;
    if (b.t > a.t && b.step > a.step) stepsPerSec = ((b.step - a.step) * 1000) / (b.t - a.t);
  }
  const cfg = trainer!.config;
  post({
    type: 'metrics', rows, stepsPerSec,
    samplesPerSec: stepsPerSec === null ? null : stepsPerSec * cfg.batchSize,
    audioSecondsPerSec: stepsPerSec === null ? null : (stepsPerSec * cfg.batchSize * cfg.window) / 16000,
  });
  const bad = rows.find((r) => r.nonFinite || !Number.isFinite(r.loss));
  if (bad) {
    generation++;
    setState('paused', 'non-finite loss');
    post({
      type: 'error',
      error: {
        kind: 'non-finite', name: 'NonFiniteError', step: bad.step,
        message: `step ${bad.step}: the loss or the gradients were NaN/Inf (loss = ${bad.loss}, grad norm = ${bad.gradNorm}); that update was skipped and training is paused`,
      },
    });
  }
}

async function profileNow(): Promise<void> {
  if (!trainer || !sampler) return;
  const signal = sampler.next(batch).signal;
  const r = await trainer.profileStep(signal);
  nextProfileAt = trainer.stepCount + Math.max(1, settings.profileEvery);
  post({ type: 'profile', report: { step: trainer.stepCount, ops: r.ops, totalMs: r.totalMs, source: r.source } });
  postMetrics(trainer.takeMetrics());
}

async function autoCheckpoint(): Promise<void> {
  if (!trainer) return;
  const bytes = await trainer.toCheckpoint(checkpointMetadata());
  lastAutoCheckpointAt = performance.now();
  post({ type: 'autoCheckpoint', step: trainer.stepCount, bytes }, [bytes.buffer]);
}

/** One training step under the lock; false when the loop should stop. */
async function oneStep(gen: number): Promise<boolean> {
  if (gen !== generation || state !== 'running' || !trainer || !sampler) return false;
  if (settings.maxSteps > 0 && trainer.stepCount >= settings.maxSteps) {
    postMetrics(await trainer.flush());
    setState('paused', `reached ${settings.maxSteps} steps`);
    return false;
  }
  batch = sampler.next(batch);
  // Resolves once the step is queued; waits only while two steps are already in flight.
  await trainer.trainStep(batch.signal);
  postMetrics(trainer.takeMetrics());
  // A profiled step is a training step too: never past maxSteps.
  const room = settings.maxSteps === 0 || trainer.stepCount < settings.maxSteps;
  if (settings.profileEvery > 0 && room && trainer.stepCount >= nextProfileAt) await profileNow();
  if (settings.checkpointEverySeconds > 0 && performance.now() - lastAutoCheckpointAt > settings.checkpointEverySeconds * 1000) {
    await autoCheckpoint();
  }
  return true;
}

async function loop(gen: number): Promise<void> {
  try {
    while (await exclusive(() => oneStep(gen))) { /* next step */ }
  } catch (e) {
    if (gen !== generation) return;
    generation++;
    const r = report(e);
    r.step = trainer?.stepCount;
    setState('failed', r.message);
    post({ type: 'error', error: r });
  }
}

function startLoop(): void {
  const gen = ++generation;
  setState('running');
  void loop(gen);
}

// ------------------------------------------------------------------------------------------- probe

async function probe(id: number): Promise<void> {
  if (!trainer || !dataset) throw new Error('start or load a model first');
  const t0 = performance.now();
  const r = await runDemoProbe(ctx!, trainer, dataset, (message) => post({ type: 'progress', id, message }));
  post({ type: 'probe', id, report: { ...r, seconds: (performance.now() - t0) / 1000 } });
}

// ----------------------------------------------------------------------------------- checkpoints

/**
 * Loads checkpoint bytes: into the current model when the checkpoint's config is the same, else into
 * a new model built from that config (also after a device loss). A weights-only file (e.g. converted
 * from PyTorch, no config in its metadata) loads into the current model, or into one built from the
 * page's config editor; its Adam moments start at zero.
 */
async function loadCheckpointBytes(id: number, name: string, bytes: Uint8Array, fallbackConfig: CpcTrainConfig | null): Promise<void> {
  // Validate the header before touching the current model: a refused file leaves it as it was.
  const { metadata } = parseSafetensors(bytes, name);
  let config: CpcTrainConfig;
  let preset = metadata.demo_preset ?? 'custom';
  if (metadata.config !== undefined) {
    config = readCheckpointInfo(bytes, name).config;
  } else if (trainer) {
    config = trainer.config;
    preset = presetName;
  } else if (fallbackConfig) {
    config = fallbackConfig;
  } else {
    throw new CheckpointError('loadCheckpoint', `${name}: a weights-only file (no config in its metadata) needs a model: fix the config JSON or start training first, then load it`);
  }
  // The rows of steps already run come first: the page drops rows past the restored step only.
  if (trainer && ctx && !ctx.isLost) postMetrics(await trainer.flush());
  if (!ctx || ctx.isLost) {
    disposing = true;
    try { disposeTrainer(); ctx?.dispose(); } finally { disposing = false; }
    ctx = null;
  }
  let meta: Record<string, string>;
  if (trainer && JSON.stringify(trainer.config) === JSON.stringify(config)) {
    meta = await trainer.loadCheckpoint(bytes, name);
    if (meta.demo_sampler && sampler) {
      try { sampler.setState(JSON.parse(meta.demo_sampler)); } catch { /* keep the current stream */ }
    }
  } else {
    await createTrainer(config, preset, bytes, name);
    meta = metadata;
  }
  post({ type: 'checkpointLoaded', id, step: trainer!.stepCount, metadata: meta });
  setState('paused', `loaded ${name} at step ${trainer!.stepCount}`);
}

// ---------------------------------------------------------------------------------------- commands

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'init':
      await ensureDevice();
      return;
    case 'setData':
      await exclusive(async () => {
        dataSpec = msg.data;
        dataVersion++;
        dataset = null;
      });
      return;
    case 'start': {
      generation++;
      settings = { ...msg.settings };
      await exclusive(() => createTrainer(msg.config, msg.preset));
      startLoop();
      return;
    }
    case 'pause':
      if (state === 'running') {
        generation++;
        await exclusive(async () => { if (trainer) postMetrics(await trainer.flush()); });
        setState('paused');
      }
      return;
    case 'resume':
      if (trainer && (state === 'paused' || state === 'stopped')) startLoop();
      return;
    case 'reset':
      generation++;
      await exclusive(async () => { disposeTrainer(); });
      setState('idle');
      return;
    case 'profile':
      await exclusive(profileNow);
      return;
    case 'checkpoint':
      await exclusive(async () => {
        if (!trainer) throw new Error('no model yet: start training or load a checkpoint first');
        const bytes = await trainer.toCheckpoint(checkpointMetadata());
        post({ type: 'checkpoint', id: msg.id, step: trainer.stepCount, bytes }, [bytes.buffer]);
      });
      return;
    case 'loadCheckpoint': {
      const wasRunning = state === 'running';
      generation++;
      settings = { ...msg.settings };
      try {
        await exclusive(() => loadCheckpointBytes(msg.id, msg.name, msg.bytes, msg.fallbackConfig));
      } finally {
        // A refused file leaves the model as it was, and a run that was going keeps going.
        if (wasRunning && trainer && state !== 'failed') startLoop();
      }
      return;
    }
    case 'probe':
      await exclusive(() => probe(msg.id));
      return;
    case 'debugLoseDevice':
      ctx?.device.destroy();
      return;
  }
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  handle(msg).catch((e: unknown) => {
    const fallback: ErrorKind = msg.type === 'loadCheckpoint' ? 'checkpoint' : msg.type === 'probe' ? 'probe' : 'internal';
    const r = report(e, fallback);
    if (msg.type === 'start' || (msg.type === 'loadCheckpoint' && !trainer)) setState('failed', r.message);
    post({ type: 'error', id: 'id' in msg ? msg.id : undefined, error: r });
  });
};
