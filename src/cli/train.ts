// `cpc-webgpu train`: trains a CPC model, logging DIR/metrics.jsonl and saving DIR/checkpoint.safetensors
// periodically, at the end and on Ctrl-C or SIGTERM. The checkpoint also holds the data sampler state and the
// dataset spec, so `--resume` continues the exact batch stream: a resumed run's losses are bitwise
// those of an uninterrupted one.
//
// Keeping the GPU fed: trainStep only queues work (it waits only when 2 steps are already queued), so
// the next batch is generated on the CPU while the GPU runs the current step, and metrics are read back
// asynchronously (every --metrics-every steps) and collected with takeMetrics() as they land.
//
// Failure policy: a non-finite loss stops the run WITHOUT saving (the last good checkpoint stays);
// a lost device ends it with the last checkpoint intact, to be continued with --resume.
import { parseArgs } from 'node:util';
import type { WindowBatch } from '../cpc/data/batcher.ts';
import { cpcChance, framesPerWindow, PRESET_NAMES, type CpcTrainConfig } from '../cpc/config.ts';
import { evaluateProbes, mfccEncoder } from '../cpc/evaluate.ts';
import { nonFiniteCauses, nonFiniteWhat } from '../cpc/nonFinite.ts';
import { initParams } from '../cpc/params.ts';
import { CpcTrainer, type StepMetrics } from '../cpc/trainer.ts';
import { nodeCheckpointStore } from '../node/checkpointStore.ts';
import { acquireNodeDevice, closeNodeDevice } from '../node/device.ts';
import type { GpuContext } from '../runtime/device.ts';
import { CpcError, DeviceLostError } from '../runtime/errors.ts';
import { CheckpointError } from '../cpc/safetensors.ts';
import { DATA_META_KEY, describeDataSpec, type BatchSampler } from './data.ts';
import { MetricsLog, MetricsWriteError, type MetricsLine } from './metricsLog.ts';
import { prepareRunFolder } from './runFolder.ts';
import { formatProbeTable, probeJson } from './probeReport.ts';
import { createProgress } from './progress.ts';
import { openRunData, resolveTrainSetup, SAMPLER_META_KEY, type TrainSetup } from './trainSetup.ts';
import { intFlag, UsageError } from './usage.ts';
import { variantSummary } from './tune.ts';
import { NodeTuneCache } from '../node/tuneCache.ts';

/** Steps over which metrics.jsonl's steps_per_s is measured. */
const RATE_WINDOW = 20;

export const TRAIN_USAGE = `usage: cpc-webgpu train [options]
  --preset NAME               model/optimizer preset: ${PRESET_NAMES.join(', ')} (default small)
  --config FILE.json          config fields over the preset: {"preset": "small", "channels": 128,
                              "optimizer": {"lr": 5e-4}, …}; every field is in the CpcTrainConfig
                              type, dist/types/cpc/config.d.ts in the installed package
  --data synthetic|DIR        built-in synthetic speech (default) or a corpus folder: .wav/.flac files
                              at any depth (LibriSpeech: SPEAKER/CHAPTER/UTT.flac; speaker = top folder
                              or DIR/labels.csv)
  --split utterance|speaker   seeded held-out split: by utterance (default) or disjoint speakers
  --train-list F / --val-list F  the split from files (one relative path or sequence name per line)
  --data-memory SIZE          audio held in memory, e.g. 512MiB, 2GiB (default 1 GiB or 1/4 of RAM)
  --steps N                   train until step N (default: the config's optimizer.totalSteps);
                              also sets the LR schedule's horizon unless the config pins it
  --seed S                    model init and batch-stream seed (default: the config's)
  --out DIR                   run folder: checkpoint.safetensors, metrics.jsonl (default runs/<preset>)
  --resume                    continue the run in --out from its checkpoint (--preset may repeat its preset)
  --overwrite                 start over even if --out already holds a checkpoint
  --metrics-every N           read loss/accuracy back every N steps (default 1)
  --checkpoint-every N        save every N steps (default 100; also at the end, on Ctrl-C and on SIGTERM)
  --probe / --no-probe        linear probes at the end: trained vs random init vs MFCC, 95 % intervals (default off)
  --probe-max-windows N       train windows the probes use (default 2000; the test split is used whole)
  --tune / --no-tune          time the kernel variants before training and cache them (cpc-webgpu
                              tune); default: use the tuning cache's choices when present, else defaults
  --json                      last stdout line: a JSON summary
`;

/** Exit code after a stop signal (128 + its number), as shells report it: Ctrl-C 130, SIGTERM 143. */
const EXIT_AFTER: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };
/** The signals that stop a run with a checkpoint: Ctrl-C, and the stop signal of containers and job schedulers. */
type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Test-only fault injection (CPC_WEBGPU_FAULT): `lose-device@N` destroys the device right after step N
 * is queued; `blowup@N` scales batch N by 1e38 (finite input, non-finite loss). Lets tests exercise the
 * failure paths through the real CLI.
 */
function parseFault(): { kind: 'lose-device' | 'blowup'; step: number } | null {
  const v = process.env.CPC_WEBGPU_FAULT;
  if (!v) return null;
  const m = /^(lose-device|blowup)@(\d+)$/.exec(v);
  if (!m) throw new UsageError('CPC_WEBGPU_FAULT', `expects lose-device@N or blowup@N, got '${v}'`);
  return { kind: m[1] as 'lose-device' | 'blowup', step: Number(m[2]) };
}

/** Ends the run with a message that says what state the run folder is in. */
class TrainingStopped extends CpcError {}

function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${(ms / 1000).toFixed(1)}s`;
}

interface RunResult {
  lastMetrics: StepMetrics | null;
  firstLoss: number | null;
  stepsRun: number;
  ms: number;
  /**
   * Steps per second after the first step of this run completed on the GPU. The first step pays for
   * the driver's shader compilation (lavapipe JIT-compiles at first dispatch: seconds to a minute),
   * which says nothing about training speed.
   */
  steadyStepsPerS: number | null;
  /** Wall time until the first step of this run had completed. */
  startupMs: number | null;
  interrupted: StopSignal | null;
  savedStep: number | null;
}

const CHANCE_FORMULA: Record<CpcTrainConfig['negatives']['kind'], string> = { batch: '1/B', 'batch-time': '1/(B·T)', sampled: '1/(n+1)' };

function chanceText(config: CpcTrainConfig, T: number): string {
  const neg = config.negatives;
  const what = neg.kind === 'sampled' ? `${neg.n} sampled` : neg.kind;
  return `chance ${CHANCE_FORMULA[neg.kind]} = ${cpcChance(config, T).toPrecision(3)} with ${what} negatives`;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      preset: { type: 'string' },
      config: { type: 'string' },
      data: { type: 'string' },
      split: { type: 'string' },
      'train-list': { type: 'string' },
      'val-list': { type: 'string' },
      'data-memory': { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      overwrite: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'metrics-every': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      probe: { type: 'boolean', default: false },
      tune: { type: 'boolean', default: false },
      'probe-max-windows': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(TRAIN_USAGE);
    return 0;
  }
  const steps = values.steps === undefined ? undefined : intFlag('--steps', values.steps, 0, 0);
  const seed = values.seed === undefined ? undefined : intFlag('--seed', values.seed, 0, 0, 0xffffffff);
  const metricsEvery = intFlag('--metrics-every', values['metrics-every'], 1);
  const probeTrainWindows = values['probe-max-windows'] === undefined ? undefined : intFlag('--probe-max-windows', values['probe-max-windows'], 1);
  const checkpointEvery = intFlag('--checkpoint-every', values['checkpoint-every'], 100);
  const fault = parseFault();
  const json = values.json;
  // Human-readable output goes to stderr when stdout is reserved for the JSON summary.
  const say = (msg: string) => (json ? process.stderr : process.stdout).write(`${msg}\n`);
  const note = (msg: string) => process.stderr.write(`${msg}\n`);
  const probeOpts = { onProgress: note, ...(probeTrainWindows ? { maxWindows: { train: probeTrainWindows } } : {}) };

  const setup = await resolveTrainSetup({
    preset: values.preset, config: values.config, data: values.data, steps, seed, out: values.out,
    split: values.split, trainList: values['train-list'], valList: values['val-list'], dataMemory: values['data-memory'],
    resume: values.resume, overwrite: values.overwrite,
  });
  const { config } = setup;
  // Created, writable, locked and cleared of dead saves' temp files before the data is read and any
  // device exists. (Should loading the data fail, the lock goes with the process: RunLock's exit hook.)
  const runLock = await prepareRunFolder(setup.outDir, note);
  const data = await openRunData(setup.data, config, note);
  const { sampler } = data;
  if (setup.resume) {
    try {
      sampler.setState(setup.resume.sampler);
    } catch (e) {
      throw new CheckpointError('resume', `${setup.checkpointPath}: its sampler state does not fit the data (${(e as Error).message}); was the corpus changed?`);
    }
  }

  let ctx: GpuContext | null = null;
  let trainer: CpcTrainer | null = null;
  let metrics: MetricsLog | null = null;
  try {
    ctx = await acquireNodeDevice({ label: 'train' });
    const tuneCache = new NodeTuneCache({ notice: note });
    if (values.tune) note(`tuning kernel variants (cache ${tuneCache.path}) …`);
    trainer = await CpcTrainer.create(ctx, config, { metricsEvery, store: nodeCheckpointStore, tune: values.tune ? 'measure' : 'cached', tuneCache });
    if (setup.resume) {
      await trainer.loadCheckpoint(setup.resume.bytes, setup.checkpointPath);
      setup.resume.bytes = new Uint8Array(0); // let the file buffer go
    }
    const T = framesPerWindow(config);
    note(`train ${setup.label}: C=${config.channels} H=${config.hidden} K=${config.predictionSteps} B=${config.batchSize} L=${config.window} T=${T} ` +
      `negatives=${config.negatives.kind}, ${trainer.paramCount.toLocaleString('en-US')} parameters, ` +
      `arena ${(trainer.plan.plannedPeakBytes / 2 ** 20).toFixed(1)} MiB; data ${describeDataSpec(setup.data)}; ` +
      `${ctx.adapter.description || ctx.adapter.vendor}`);
    note(variantSummary(trainer.variantChoices));
    note(`steps ${setup.startStep} → ${setup.targetStep}${setup.resume ? ' (resumed)' : ''}; out ${setup.outDir}`);
    metrics = await MetricsLog.open(setup.metricsPath, setup.resume ? setup.startStep : null);

    const result = await runLoop(ctx, trainer, sampler, setup, metrics, { checkpointEvery, fault });
    await metrics.close();

    const last = result.lastMetrics;
    const firstLoss = metrics.firstLoss ?? result.firstLoss;
    const overall = result.stepsRun > 0 ? result.stepsRun / (result.ms / 1000) : 0;
    const stepsPerS = result.steadyStepsPerS ?? overall;
    const summary: Record<string, unknown> = {
      steps: trainer.stepCount,
      steps_run: result.stepsRun,
      first_loss: firstLoss,
      final_loss: last?.loss ?? null,
      final_acc: last?.accPerK ?? null,
      cpc_chance: cpcChance(config, trainer.frames),
      steps_per_s: Number(stepsPerS.toFixed(3)),
      steps_per_s_overall: Number(overall.toFixed(3)),
      startup_s: result.startupMs === null ? null : Number((result.startupMs / 1000).toFixed(2)),
      seconds: Number((result.ms / 1000).toFixed(2)),
      checkpoint: result.savedStep !== null ? setup.checkpointPath : null,
      checkpoint_step: result.savedStep,
      metrics: setup.metricsPath,
      config: setup.label,
      data: describeDataSpec(setup.data),
      interrupted: result.interrupted !== null,
      variants: trainer.variants(),
      variant_sources: Object.fromEntries(trainer.variantChoices.map((c) => [c.op, c.source])),
    };
    say(`${result.interrupted ? 'interrupted' : 'done'}: step ${trainer.stepCount} (${result.stepsRun} this run) in ${fmtDuration(result.ms)}, ${stepsPerS.toFixed(2)} steps/s` +
      (result.startupMs !== null && result.steadyStepsPerS !== null ? ` after a ${fmtDuration(result.startupMs)} first step (shader compilation)` : ''));
    if (last) {
      say(`loss ${firstLoss?.toFixed(4) ?? '—'} → ${last.loss.toFixed(4)} (first → step ${last.step}); CPC accuracy k=1..${last.accPerK.length}: ${last.accPerK.map((a) => a.toFixed(3)).join(' ')} (${chanceText(config, trainer.frames)})`);
    }
    if (result.savedStep !== null) say(`checkpoint: ${setup.checkpointPath} (step ${result.savedStep})${result.interrupted ? '; continue with --resume' : ''}`);
    say(`metrics: ${setup.metricsPath}`);

    if (values.probe && !result.interrupted) {
      note('probes: extracting frozen features (trained model) …');
      const dataset = await data.probeDataset();
      const trained = await evaluateProbes(trainer, dataset, probeOpts);
      note('probes: same config, random init …');
      trainer.setParams(initParams(config, config.seed));
      const random = await evaluateProbes(trainer, dataset, probeOpts);
      note('probes: MFCC baseline …');
      const mfcc = await evaluateProbes(mfccEncoder(config), dataset, probeOpts);
      say(formatProbeTable({ trained, random, mfcc }));
      summary.probe = probeJson({ trained, random, mfcc });
    }
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    return result.interrupted ? EXIT_AFTER[result.interrupted] : 0;
  } finally {
    await metrics?.close().catch(() => undefined);
    trainer?.dispose();
    if (ctx) await closeNodeDevice(ctx);
    runLock.releaseSync();
  }
}

interface LoopOptions {
  checkpointEvery: number;
  fault: ReturnType<typeof parseFault>;
}

async function runLoop(
  ctx: GpuContext, trainer: CpcTrainer, sampler: BatchSampler, setup: TrainSetup, log: MetricsLog, opts: LoopOptions,
): Promise<RunResult> {
  const { config } = setup;
  const B = config.batchSize, L = config.window;
  const fresh = (): WindowBatch => ({
    signal: new Float32Array(B * L), speakers: new Uint32Array(B), utterances: new Uint32Array(B),
    utteranceIds: new Array<string>(B), starts: new Uint32Array(B), count: B,
  });
  // Two batch buffers: the next batch is written into one while trainStep may still read the other.
  const buffers = [fresh(), fresh()] as const;
  const progress = createProgress(setup.startStep, setup.targetStep);
  const startStep = trainer.stepCount;
  let savedStep: number | null = setup.resume ? startStep : null;
  // Assigned inside closures, so kept in an object (TypeScript would narrow plain `let`s to null).
  const seen: { last: StepMetrics | null; firstLoss: number | null } = { last: null, firstLoss: null };

  // Ctrl-C or SIGTERM: finish the current step, save, exit 130 / 143. A second signal exits at once
  // (the checkpoint file is replaced atomically, so even that cannot leave a torn one).
  let interrupted: StopSignal | null = null;
  const onSignal = (sig: StopSignal) => {
    if (interrupted) process.exit(EXIT_AFTER[sig]);
    interrupted = sig;
    progress.log(`${sig === 'SIGINT' ? 'interrupt' : 'SIGTERM'}: finishing the current step and saving (again to quit now)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Submit time of each recent step: steps/s over the steps between two logged metrics.
  const submitted = new Map<number, number>();
  const t0 = performance.now();
  submitted.set(startStep, t0);
  // Steps before the warm mark (first metrics landed) include shader compilation: never a rate base.
  let rateFloorStep = startStep;
  const recent: [number, number][] = [[startStep, t0]];
  const rate = (): number => {
    const [s0, a] = recent[0]!;
    const [s1, b] = recent[recent.length - 1]!;
    return b > a ? ((s1 - s0) * 1000) / (b - a) : Number.NaN; // NaN shows as "—" until two steps are timed
  };

  // When the first step of this run is known to be done on the GPU (its metrics landed), and how many
  // steps had been queued by then: the steady rate counts only the steps queued after that.
  let warm: { step: number; t: number } | null = null;
  const absorb = async (ms: StepMetrics[]) => {
    const lines: MetricsLine[] = [];
    for (const m of ms) {
      if (!warm) {
        warm = { step: trainer.stepCount, t: performance.now() };
        // The live rate restarts here, so the ETA ignores the first step's shader compilation.
        recent.splice(0, recent.length, [warm.step, warm.t]);
        rateFloorStep = warm.step;
      }
      // Rate over the last RATE_WINDOW submitted steps: consecutive submit times alone are spiky
      // (after a checkpoint save the drained queue takes two steps at once), a window is not.
      const t = submitted.get(m.step);
      const base = Math.max(rateFloorStep, m.step - RATE_WINDOW);
      const tBase = submitted.get(base);
      const sps = t !== undefined && tBase !== undefined && t > tBase ? ((m.step - base) * 1000) / (t - tBase) : null;
      for (const s of submitted.keys()) if (s < m.step - RATE_WINDOW) submitted.delete(s);
      lines.push({
        step: m.step, loss: m.loss, acc: m.accPerK, loss_per_k: m.lossPerK, lr: m.lr, grad_norm: m.gradNorm,
        steps_per_s: sps === null ? null : Number(sps.toFixed(3)),
      });
      if (m.nonFinite || !Number.isFinite(m.loss)) {
        await log.append(lines);
        const kept = savedStep !== null ? `the last good checkpoint (step ${savedStep}) is kept in ${setup.checkpointPath}` : 'no checkpoint had been saved yet';
        throw new TrainingStopped('train', `non-finite ${nonFiniteWhat(m)} at step ${m.step} (loss ${m.loss}, gradient norm ${m.gradNorm}); stopped without saving: ${kept}; ${nonFiniteCauses(config)}`);
      }
      seen.firstLoss ??= m.loss;
      seen.last = m;
    }
    await log.append(lines);
  };

  const save = async (state: ReturnType<BatchSampler['getState']>) => {
    // Every metric up to this step must be checked first: a checkpoint is only written when known good.
    await absorb(await trainer.flush());
    await trainer.save(setup.checkpointPath, {
      [SAMPLER_META_KEY]: JSON.stringify(state),
      [DATA_META_KEY]: JSON.stringify(setup.data),
    });
    savedStep = trainer.stepCount;
  };

  try {
    if (trainer.stepCount < setup.targetStep) {
      let which = 0;
      let batch = await sampler.next(buffers[which]);
      let state = sampler.getState();
      for (;;) {
        const step = trainer.stepCount + 1;
        if (opts.fault?.kind === 'blowup' && opts.fault.step === step) for (let i = 0; i < batch.signal.length; i++) batch.signal[i]! *= 1e38;
        const queued = trainer.trainStep(batch.signal);
        const stateAtStep = state;
        const more = step < setup.targetStep && !interrupted;
        if (more) {
          // CPU work while trainStep waits for the GPU: the next batch goes into the other buffer.
          which ^= 1;
          batch = await sampler.next(buffers[which]);
          state = sampler.getState();
        }
        await queued;
        const now = performance.now();
        submitted.set(step, now);
        recent.push([step, now]);
        if (recent.length > 32) recent.shift();
        if (opts.fault?.kind === 'lose-device' && opts.fault.step === step) ctx.device.destroy();
        await absorb(trainer.takeMetrics());
        progress.update({ step, stepsPerS: rate(), loss: seen.last?.loss ?? null, acc1: seen.last?.accPerK[0] ?? null });
        if (!more || interrupted) {
          // Ctrl-C during this step: the batch already drawn for the next one is simply not used;
          // the checkpoint records the sampler state as of this step.
          await save(stateAtStep);
          break;
        }
        if (step % opts.checkpointEvery === 0) await save(stateAtStep);
      }
    }
    await absorb(await trainer.flush());
    const tEnd = performance.now();
    const w = warm as { step: number; t: number } | null;
    const steady = w && trainer.stepCount - w.step >= 2 && tEnd > w.t ? ((trainer.stepCount - w.step) * 1000) / (tEnd - w.t) : null;
    return {
      lastMetrics: seen.last, firstLoss: seen.firstLoss, stepsRun: trainer.stepCount - startStep, ms: tEnd - t0,
      steadyStepsPerS: steady, startupMs: w ? w.t - t0 : null, interrupted, savedStep,
    };
  } catch (e) {
    throw await explainFailure(e, ctx, setup, savedStep);
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Turns a failure inside the loop into a message about the run folder's state. */
async function explainFailure(e: unknown, ctx: GpuContext, setup: TrainSetup, savedStep: number | null): Promise<unknown> {
  if (e instanceof TrainingStopped) return e;
  // A full disk or a folder turned read-only: say what the run folder still holds.
  if (e instanceof MetricsWriteError || (e instanceof CheckpointError && e.op === 'saveCheckpoint')) {
    const kept = savedStep !== null ? `the last good checkpoint (step ${savedStep}) is kept in ${setup.checkpointPath}` : 'no checkpoint had been saved yet';
    return new TrainingStopped('train', `${(e as Error).message}; ${kept}`);
  }
  // A destroyed device may surface first as a failed map or submit; give the lost event a moment to land.
  if (!(e instanceof DeviceLostError) && !ctx.isLost) await Promise.race([ctx.lost, new Promise((r) => setTimeout(r, 1000))]);
  if (e instanceof DeviceLostError || ctx.lostInfo) {
    const why = ctx.lostInfo ? `${ctx.lostInfo.reason}${ctx.lostInfo.message ? `: ${ctx.lostInfo.message}` : ''}` : (e as Error).message;
    const kept = savedStep !== null
      ? `the last checkpoint (step ${savedStep}) in ${setup.checkpointPath} is intact; continue with \`cpc-webgpu train --out ${setup.outDir} --resume\``
      : 'no checkpoint had been saved yet';
    return new TrainingStopped('train', `the GPU device was lost (${why}); ${kept}`);
  }
  return e;
}
