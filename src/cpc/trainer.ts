// The CPC trainer: plans the step once (graph → memory plan → arena → prepared ops with their bind
// groups), then replays it. A training step is one command encoder, one compute pass and one
// queue.submit; the batch goes to one of two upload slots, and loss/accuracy are copied into a
// readback ring inside the same submit and mapped later, so the host never waits on the GPU except
// for back-pressure (at most MAX_IN_FLIGHT steps queued).
import type { GpuContext } from '../runtime/device.ts';
import { NonFiniteError, ShapeError } from '../runtime/errors.ts';
import type { PreparedOp } from '../runtime/kernel.ts';
import { allocateArena, planMemory, type Arena, type MemoryPlan } from '../runtime/planner.ts';
import { Profiler, type ProfileResult } from '../runtime/profiler.ts';
import { ReadbackRing } from '../runtime/readback.ts';
import { stagingRing } from '../runtime/staging.ts';
import { tensorByteLength, tensorView, writeTensor, type Tensor } from '../runtime/tensor.ts';
import {
  latestVerdict, resolveVariants, stepGuardRule, timeStepGuard, tuneEntry, tuneOp, VariantTimer,
  type CandidateTiming, type OpTuneResult, type StepVerdict, type TuneCache, type TuneMode, type VariantChoice,
} from '../runtime/tuner.ts';
import { writeAdamHyper } from '../shaders/adam.ts';
import { GRAD_NORM_STAT, GRAD_NORM_STATS_LEN } from '../shaders/gradNorm.ts';
import { infoNceMetricsLayout } from '../shaders/infonce.ts';
import { decodeCheckpoint, encodeCheckpoint, type ParsedCheckpoint } from './checkpoint.ts';
import { validateConfig, type CpcTrainConfig } from './config.ts';
import { buildCpcGraph, graphTunables, SIGNAL, SIGNAL_SLOTS, type CpcGraph, type GraphEnv, type Phase } from './graph.ts';
import { initParams, packParams, unpackParams } from './params.ts';
import { learningRate } from './schedule.ts';

export interface StepMetrics {
  /** Optimizer step (1-based) the numbers belong to; loss and accuracy are measured before its update. */
  step: number;
  loss: number;
  lossPerK: number[];
  accPerK: number[];
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Loss or a gradient was NaN/Inf; the optimizer skipped this update (parameters unchanged). */
  nonFinite: boolean;
}

export interface CheckpointStore {
  write(path: string, bytes: Uint8Array): Promise<void>;
  read(path: string): Promise<Uint8Array>;
}

export interface TrainerOptions {
  /** Read metrics back every N steps (default 1). */
  metricsEvery?: number;
  /** Initial weights by PyTorch name (default: PyTorch-style init seeded by config.seed). */
  params?: Map<string, Float32Array>;
  /** Where save(path) / load(path) go (Node: nodeCheckpointStore). */
  store?: CheckpointStore;
  /**
   * Kernel variants (src/runtime/tuner.ts). 'cached' (default): a `tuneCache` entry for this
   * adapter + driver, op, dims and candidate list when there is one, else the adapter-class default;
   * 'measure': time every candidate now (after one forward + backward pass on noise, so the
   * parameters are untouched), use the fastest clear winner and store it in `tuneCache`; 'off':
   * defaults only.
   */
  tune?: TuneMode;
  /** Where tuning choices persist (Node: NodeTuneCache, browser: IndexedDbTuneCache). */
  tuneCache?: TuneCache | null;
  /** Explicit variant id per op name (trainer.variants() lists them); beats the cache and tuning. */
  variants?: Record<string, string>;
  /**
   * Wall-clock bound of a 'measure' tuning (default 600 s): ops not reached keep their cached or
   * default variant (and are not written to the cache). `small` on 2 loaded lavapipe cores: ≈ 1–2 min.
   */
  tuneBudgetMs?: number;
  /** With 'measure': time only these ops (names as in variants()); the others keep their cached or default variant. */
  tuneOps?: readonly string[];
  /** Progress of a 'measure' tuning, one line per op. */
  onTune?: (r: OpTuneResult, done: number, total: number) => void;
  /**
   * With 'measure': replaces the per-op rule (pickVariant) by this choice of a candidate id from the
   * op's timings (tests, experiments). The step guard still judges the picks against the defaults.
   */
  tunePick?: (op: string, timings: readonly CandidateTiming[]) => string;
}

export interface LossAndGrads {
  loss: number;
  lossPerK: number[];
  accPerK: number[];
  grads: Map<string, Float32Array>;
}

/** Steps queued ahead of the GPU before trainStep waits: enough to hide the host's work, bounded memory. */
const MAX_IN_FLIGHT = 2;
const READBACK_SLOTS = 8;

interface PendingMetrics {
  step: number;
  lr: number;
  value: StepMetrics | null;
  error: unknown;
  done: Promise<void>;
}

/** Parameters, moments and per-step tensors bound at fixed arena offsets; created by CpcTrainer.create. */
export class CpcTrainer {
  readonly ctx: GpuContext;
  readonly config: CpcTrainConfig;
  readonly graph: CpcGraph;
  readonly plan: MemoryPlan;
  readonly frames: number;
  readonly paramNames: string[];
  readonly paramCount: number;
  private readonly arena: Arena;
  private readonly readback: ReadbackRing;
  /** Prepared ops per signal slot (ops that do not read the signal are shared). */
  private readonly ops: { phase: Phase; name: string; bySlot: [PreparedOp, PreparedOp] }[];
  private readonly choices: VariantChoice[];
  private guard: StepVerdict | null = null;
  private readonly store?: CheckpointStore;
  private readonly metricsEvery: number;
  private steps = 0;
  private inFlight: Promise<unknown>[] = [];
  private pending: PendingMetrics[] = [];
  private profiler: Profiler | null = null;
  private disposed = false;

  private constructor(
    ctx: GpuContext, graph: CpcGraph, plan: MemoryPlan, arena: Arena, readback: ReadbackRing,
    ops: CpcTrainer['ops'], choices: VariantChoice[], opts: TrainerOptions,
  ) {
    this.choices = choices;
    this.ctx = ctx;
    this.graph = graph;
    this.config = graph.config;
    this.plan = plan;
    this.arena = arena;
    this.readback = readback;
    this.ops = ops;
    this.frames = graph.T;
    this.paramNames = graph.layout.entries.map((e) => e.name);
    this.paramCount = graph.layout.entries.reduce((s, e) => s + e.size, 0);
    this.store = opts.store;
    this.metricsEvery = opts.metricsEvery ?? 1;
  }

  static async create(ctx: GpuContext, config: CpcTrainConfig, opts: TrainerOptions = {}): Promise<CpcTrainer> {
    validateConfig(config);
    const metricsEvery = opts.metricsEvery ?? 1;
    if (!Number.isInteger(metricsEvery) || metricsEvery < 1) throw new ShapeError('CpcTrainer', `metricsEvery must be a positive integer, got ${metricsEvery}`);
    if (config.activations === 'f16' && !ctx.has('shader-f16')) {
      throw new ShapeError('CpcTrainer', `activations 'f16' needs the 'shader-f16' feature, which this device (${ctx.adapter.description || ctx.adapter.architecture || 'unknown adapter'}) lacks; use activations 'f32'`);
    }
    const graph = buildCpcGraph(config);
    // Device limits are checked before a single byte is allocated: each tensor's binding first (it needs
    // only the shapes; the memory plan is quadratic in the op count), then the plan's two arenas.
    const shapes = { preset: `C=${config.channels} H=${config.hidden} K=${config.predictionSteps} B=${config.batchSize} L=${config.window}` };
    for (const t of graph.tensors) {
      ctx.checkLimit(`CpcTrainer(${t.name} [${t.shape.join(', ')}])`, 'maxStorageBufferBindingSize', tensorByteLength(t.shape, t.dtype), shapes);
    }
    const plan = planMemory(graph.tensors, graph.ops);
    ctx.checkLimit('CpcTrainer(persistent arena)', 'maxBufferSize', plan.persistentBytes, shapes);
    ctx.checkLimit('CpcTrainer(activation arena)', 'maxBufferSize', plan.transientBytes, shapes);
    const initial = packParams(graph.layout, opts.params ?? initParams(config, config.seed), 'CpcTrainer params');
    const arena = allocateArena(ctx, plan, 'cpc');
    let readback: ReadbackRing | null = null;
    try {
      const metricsBytes = 4 * (infoNceMetricsLayout(config.predictionSteps).length + GRAD_NORM_STATS_LEN);
      readback = new ReadbackRing(ctx, metricsBytes, READBACK_SLOTS, 'cpc.metrics');
      const groupView = (base: Tensor, group: string): Tensor => {
        const g = graph.layout.groups.get(group);
        if (!g) throw new ShapeError('CpcTrainer', `no parameter group '${group}'`);
        return tensorView(ctx, base.buffer, base.byteOffset + 4 * g.offset, g.shape, 'f32', `${base.label}:${group}`);
      };
      const envFor = (slot: 0 | 1): GraphEnv => ({
        ctx,
        tensor: (name) => arena.get(name === SIGNAL ? SIGNAL_SLOTS[slot] : name),
        param: (group) => groupView(arena.get('params'), group),
        grad: (group) => groupView(arena.get('grads'), group),
      });
      const env0 = envFor(0), env1 = envFor(1);
      const choices = await resolveVariants(ctx, graphTunables(graph, ctx), { mode: opts.tune ?? 'cached', cache: opts.tuneCache, explicit: opts.variants });
      const choiceOf = new Map(choices.map((c) => [c.op, c]));
      const ops = await ctx.scoped('CpcTrainer.prepare', shapes, () => Promise.all(graph.ops.map(async (op) => {
        const options = choiceOf.get(op.name)?.variant.options;
        const first = await op.prepare(env0, options);
        const second = op.reads.includes(SIGNAL_SLOTS[0]) ? await op.prepare(env1, options) : first;
        return { phase: op.phase, name: op.name, bySlot: [first, second] as [PreparedOp, PreparedOp] };
      })));
      writeTensor(ctx, arena.get('params'), initial);
      const trainer = new CpcTrainer(ctx, graph, plan, arena, readback, ops, choices, opts);
      if (opts.tune === 'measure') await trainer.measureVariants(env0, env1, opts);
      return trainer;
    } catch (e) {
      readback?.destroy();
      arena.destroy();
      throw e;
    }
  }

  /** The kernel variant id per tunable op (e.g. { 'conv1.fwd': 'subgroup.wg16', 'gru.bwd': 'tile4x8' }). */
  variants(): Record<string, string> {
    return Object.fromEntries(this.choices.map((c) => [c.op, c.variant.id]));
  }

  /** Per tunable op: the choice, where it came from (default / cache / tuned / explicit), its candidates and timings. */
  get variantChoices(): readonly VariantChoice[] {
    return this.choices;
  }

  /**
   * The step guard's verdict on the variants in use (tuner.ts): this session's with 'measure', else
   * the latest one stored with the cache entries used; null when no guard judged them (defaults, or
   * a measure whose picks were all defaults).
   */
  get tuneVerdict(): StepVerdict | null {
    return this.guard ?? latestVerdict(this.choices.filter((c) => c.source === 'cache'));
  }

  /**
   * Times every tunable op's candidates in isolation on the real arena tensors (tuner.ts), swaps in
   * the winners and stores them in the cache. Runs before the first step: the data pass before
   * each op is forward + loss + backward only, so parameters, moments and the step count are
   * exactly as create left them, and a later step computes what it would have without tuning
   * (with the chosen variants). Every op that is timed writes only step-local tensors and grads.
   */
  private async measureVariants(env0: GraphEnv, env1: GraphEnv, opts: TrainerOptions): Promise<void> {
    const { batchSize: B, window: L } = this.config;
    // Deterministic noise as the batch (the trainer has no data yet): timings of these kernels do
    // not depend on the values, but realistic finite activations rule out NaN/denormal slow paths.
    const signal = new Float32Array(B * L);
    let s = (this.config.seed ^ 0x7e57) >>> 0;
    for (let i = 0; i < signal.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      signal[i] = (s / 2 ** 32 - 0.5) * 0.2;
    }
    const refresh = async () => {
      this.upload(0, signal, 1);
      const enc = this.ctx.device.createCommandEncoder({ label: 'tune.refresh' });
      this.encodeOps(enc, 0, ['forward', 'loss', 'backward'], 'tune.refresh');
      this.ctx.device.queue.submit([enc.finish()]);
      await this.ctx.device.queue.onSubmittedWorkDone();
    };
    const timer = new VariantTimer(this.ctx);
    if (opts.tuneOps) {
      const names = new Set(this.choices.map((c) => c.op));
      const unknown = opts.tuneOps.filter((n) => !names.has(n));
      if (unknown.length) throw new ShapeError('tuneOps', `no tunable op ${unknown.map((n) => `'${n}'`).join(', ')} (tunable ops: ${[...names].join(', ')})`);
    }
    const only = opts.tuneOps ? new Set(opts.tuneOps) : null;
    const todo = this.choices.filter((c) => c.source !== 'explicit' && c.candidates.length > 1 && (!only || only.has(c.op)));
    let done = 0;
    const deadline = performance.now() + (opts.tuneBudgetMs ?? 600_000);
    const results: { choice: VariantChoice; r: OpTuneResult }[] = [];
    for (const choice of todo) {
      if (performance.now() > deadline) break;
      const gop = this.graph.ops.find((o) => o.name === choice.op)!;
      const variants = gop.tunable!.variants(this.ctx);
      await refresh();
      // Timed against slot 0's tensors; the op of slot 1 (signal readers) is prepared after the guard.
      const pick = opts.tunePick;
      const r = await tuneOp(this.ctx, { name: choice.op, variants, prepare: (v) => gop.prepare(env0, v.options) }, timer,
        pick ? { pick: (t) => pick(choice.op, t) } : {});
      results.push({ choice, r });
      opts.onTune?.(r, ++done, todo.length);
    }
    // The step guard (tuner.ts): only when some pick differs from its op's default.
    const changed = results.filter(({ r }) => r.chosen !== r.defaultId);
    let verdict: StepVerdict | null = null;
    if (changed.length) {
      await refresh();
      const stepOf = (name: string, prepared: (op: CpcTrainer['ops'][number]) => PreparedOp): PreparedOp => ({
        name, shapes: {}, flops: 0, bytes: 0,
        encode: (pass) => { for (const op of this.ops) if (op.phase !== 'optimizer') prepared(op).encode(pass); },
      });
      // Both arms run forward + loss + backward of slot 0 (the optimizer is the same in both and
      // would move the parameters). Every op tuned now runs its pick / its default (a pick equal to
      // the default is the same in both, not the variant a cache entry gave it before); ops not
      // tuned now keep their current variant in both.
      const pickOf = new Map(results.map(({ r }) => [r.op, r]));
      const tuned = stepOf('step.tuned', (op) => pickOf.get(op.name)?.prepared ?? op.bySlot[0]);
      const fixed = stepOf('step.fixed', (op) => pickOf.get(op.name)?.defaultPrepared ?? op.bySlot[0]);
      const tuneMs = results.reduce((s, { r }) => s + r.prepareMs + r.timingMs, 0);
      const { rounds, guardMs } = await timeStepGuard(timer, tuned, fixed, { tuneMs });
      this.ctx.throwUncaptured('tune step guard');
      verdict = {
        ...stepGuardRule(rounds), picks: Object.fromEntries(changed.map(({ r }) => [r.op, r.chosen])),
        source: timer.source, guardMs, at: new Date().toISOString(),
      };
      this.guard = verdict;
    }
    for (const { choice, r } of results) {
      const gop = this.graph.ops.find((o) => o.name === choice.op)!;
      const id = verdict && !verdict.kept ? r.defaultId : r.chosen;
      const variant = gop.tunable!.variants(this.ctx).find((v) => v.id === id)!;
      const first = id === r.chosen ? r.prepared : r.defaultPrepared;
      const second = gop.reads.includes(SIGNAL_SLOTS[0]) ? await gop.prepare(env1, variant.options) : first;
      this.ops.find((o) => o.name === choice.op)!.bySlot = [first, second];
      const entry = tuneEntry(r, verdict);
      delete choice.step; // a verdict read with an old cache entry judged other picks
      Object.assign(choice, {
        variant, source: 'tuned', ms: entry.ms, defaultMs: r.defaultMs, timings: r.timings.map((t) => ({ id: t.id, ms: t.ms })),
        ...(verdict ? { step: verdict } : {}),
      });
      await opts.tuneCache?.set(choice.key, entry);
    }
    // Leave the activation arena as a fresh trainer has it (zeros): candidates timed in isolation
    // wrote into tensors that alias others, and values a step never produces (huge, subnormal) in
    // lanes the kernels read but mask would cost time on CPU adapters without changing results.
    const transient = this.arena.transient;
    if (transient) {
      const enc = this.ctx.device.createCommandEncoder({ label: 'tune.clear' });
      enc.clearBuffer(transient);
      this.ctx.device.queue.submit([enc.finish()]);
      await this.ctx.device.queue.onSubmittedWorkDone();
    }
  }

  /** Floating-point operations and compulsory bytes of one training step (sum over its ops). */
  get stepCost(): { flops: number; bytes: number } {
    return this.ops.reduce((s, o) => ({ flops: s.flops + o.bySlot[0].flops, bytes: s.bytes + o.bySlot[0].bytes }), { flops: 0, bytes: 0 });
  }

  get stepCount(): number {
    return this.steps;
  }

  private check(op: string): void {
    if (this.disposed) throw new ShapeError(op, 'the trainer was disposed');
    this.ctx.assertAlive(op);
    this.ctx.throwUncaptured(op);
  }

  private checkSignal(op: string, signal: Float32Array): void {
    const { batchSize: B, window: L } = this.config;
    if (!(signal instanceof Float32Array) || signal.length !== B * L) {
      throw new ShapeError(op, `signal must be a Float32Array of B·L = ${B}·${L} = ${B * L} samples, got ${signal?.length}`, { B, L });
    }
    for (let i = 0; i < signal.length; i++) {
      if (!Number.isFinite(signal[i]!)) {
        throw new NonFiniteError(op, `signal holds a non-finite sample ${signal[i]} at window ${Math.floor(i / L)}, sample ${i % L}; nothing was submitted`, { B, L });
      }
    }
  }

  /** Writes the batch into upload slot `slot` and the per-step inputs (hyper-parameters, sampler seed). */
  private upload(slot: 0 | 1, signal: Float32Array, step: number): number {
    writeTensor(this.ctx, this.arena.get(SIGNAL_SLOTS[slot]), signal);
    if (this.graph.mode.kind === 'sampled') {
      writeTensor(this.ctx, this.arena.get('negatives.seedStep'), Uint32Array.of(this.config.seed >>> 0, step >>> 0));
    }
    const o = this.config.optimizer;
    const lr = learningRate(step, { lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.totalSteps, minLr: o.minLr });
    writeAdamHyper(this.ctx, this.arena.get('adam.hyper'), {
      lr, step, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, decoupled: o.decoupled,
      maxNorm: o.maxGradNorm ?? Infinity,
    });
    return lr;
  }

  private encodeOps(enc: GPUCommandEncoder, slot: 0 | 1, phases: readonly Phase[], label: string): void {
    const pass = enc.beginComputePass({ label });
    for (const op of this.ops) if (phases.includes(op.phase)) op.bySlot[slot].encode(pass);
    pass.end();
  }

  /**
   * One optimizer step on a [B·L] batch: upload, encode every dispatch into one command buffer,
   * submit. Resolves as soon as the step is queued (waits only when MAX_IN_FLIGHT steps are queued).
   */
  async trainStep(signal: Float32Array): Promise<void> {
    const op = 'trainStep';
    this.check(op);
    this.checkSignal(op, signal);
    while (this.inFlight.length >= MAX_IN_FLIGHT) await this.inFlight.shift();
    this.check(op);
    const step = this.steps + 1;
    const slot = (step % 2) as 0 | 1;
    const logged = this.isLogged(step);
    const rb = logged ? await this.readback.acquire() : -1;
    const lr = this.upload(slot, signal, step);
    const enc = this.ctx.device.createCommandEncoder({ label: `cpc.step${step}` });
    this.encodeOps(enc, slot, ['forward', 'loss', 'backward', 'optimizer'], 'cpc.step');
    if (logged) this.encodeMetricsCopy(enc, rb);
    const submit = () => this.ctx.device.queue.submit([enc.finish()]);
    // The first step runs inside error scopes so a validation error names the step, not "uncaptured".
    if (step === 1) await this.ctx.scoped(op, { step }, submit);
    else submit();
    this.steps = step;
    this.inFlight.push(this.ctx.device.queue.onSubmittedWorkDone());
    if (logged) this.queueMetricsRead(rb, step, lr, op);
  }

  private isLogged(step: number): boolean {
    return step % this.metricsEvery === 0 || step === 1;
  }

  private encodeMetricsCopy(enc: GPUCommandEncoder, rb: number): void {
    const m = this.arena.get('metrics'), g = this.arena.get('gradNorm');
    this.readback.encodeCopy(enc, rb, [
      { buffer: m.buffer, offset: m.byteOffset, size: 4 * m.shape[0]! },
      { buffer: g.buffer, offset: g.byteOffset, size: 4 * GRAD_NORM_STATS_LEN },
    ]);
  }

  /** After the submit that copied step `step`'s metrics into slot `rb`. */
  private queueMetricsRead(rb: number, step: number, lr: number, op: string): void {
    const entry: PendingMetrics = { step, lr, value: null, error: null, done: Promise.resolve() };
    entry.done = this.readback.read(rb, op).then(
      (bytes) => { entry.value = this.decodeMetrics(new Float32Array(bytes), step, lr); },
      (e: unknown) => { entry.error = e; },
    );
    this.pending.push(entry);
  }

  private decodeMetrics(f: Float32Array, step: number, lr: number): StepMetrics {
    const K = this.config.predictionSteps;
    const lay = infoNceMetricsLayout(K);
    const loss = f[lay.loss]!;
    const g = f.subarray(lay.length);
    return {
      step, loss, lr,
      lossPerK: Array.from(f.subarray(lay.lossPerK, lay.lossPerK + K)),
      accPerK: Array.from(f.subarray(lay.accPerK, lay.accPerK + K)),
      gradNorm: g[GRAD_NORM_STAT.norm]!,
      nonFinite: g[GRAD_NORM_STAT.nonFinite]! !== 0 || !Number.isFinite(loss),
    };
  }

  /** Metrics whose readback has landed, in step order; a failed readback (device lost) throws. */
  takeMetrics(): StepMetrics[] {
    const out: StepMetrics[] = [];
    while (this.pending.length && (this.pending[0]!.value || this.pending[0]!.error)) {
      const p = this.pending.shift()!;
      if (p.error) throw p.error;
      out.push(p.value!);
    }
    return out;
  }

  /**
   * Waits for every queued step and readback, then returns the metrics not yet taken (what
   * takeMetrics would): a loop that uses takeMetrics per step and flush's result at the end sees
   * every logged step exactly once.
   */
  async flush(): Promise<StepMetrics[]> {
    await this.drain();
    return this.takeMetrics();
  }

  /**
   * Waits for the queue without taking metrics: the methods below need an idle GPU, but metrics
   * that landed meanwhile stay for the caller's next takeMetrics/flush instead of being dropped.
   */
  private async drain(): Promise<void> {
    await Promise.all(this.pending.map((p) => p.done));
    await Promise.all(this.inFlight.splice(0));
  }

  /** Loss, per-k loss/accuracy and every parameter gradient for a batch; parameters are not updated. */
  async lossAndGrads(signal: Float32Array): Promise<LossAndGrads> {
    const op = 'lossAndGrads';
    this.check(op);
    this.checkSignal(op, signal);
    await this.drain();
    this.upload(0, signal, this.steps + 1);
    const enc = this.ctx.device.createCommandEncoder({ label: op });
    this.encodeOps(enc, 0, ['forward', 'loss', 'backward'], op);
    await this.ctx.scoped(op, undefined, () => this.ctx.device.queue.submit([enc.finish()]));
    const ring = stagingRing(this.ctx);
    const metrics = (await ring.readTensor(this.arena.get('metrics'))) as Float32Array;
    const grads = (await ring.readTensor(this.arena.get('grads'))) as Float32Array;
    const K = this.config.predictionSteps;
    const lay = infoNceMetricsLayout(K);
    return {
      loss: metrics[lay.loss]!,
      lossPerK: Array.from(metrics.subarray(lay.lossPerK, lay.lossPerK + K)),
      accPerK: Array.from(metrics.subarray(lay.accPerK, lay.accPerK + K)),
      grads: unpackParams(this.graph.layout, grads),
    };
  }

  /** Frame features z [B, T, C] and context c [B, T, H] (channels-last) of a [B·L] batch. */
  async encode(signal: Float32Array): Promise<{ z: Float32Array; c: Float32Array }> {
    const op = 'encode';
    this.check(op);
    this.checkSignal(op, signal);
    await this.drain();
    writeTensor(this.ctx, this.arena.get(SIGNAL_SLOTS[0]), signal);
    const enc = this.ctx.device.createCommandEncoder({ label: op });
    this.encodeOps(enc, 0, ['forward'], op);
    await this.ctx.scoped(op, undefined, () => this.ctx.device.queue.submit([enc.finish()]));
    const ring = stagingRing(this.ctx);
    const z = (await ring.readTensor(this.arena.get(this.graph.z))) as Float32Array;
    const c = (await ring.readTensor(this.arena.get(this.graph.c))) as Float32Array;
    return { z, c };
  }

  async getParams(): Promise<Map<string, Float32Array>> {
    this.check('getParams');
    await this.drain();
    return unpackParams(this.graph.layout, (await stagingRing(this.ctx).readTensor(this.arena.get('params'))) as Float32Array);
  }

  setParams(params: Map<string, Float32Array>): void {
    this.check('setParams');
    writeTensor(this.ctx, this.arena.get('params'), packParams(this.graph.layout, params, 'setParams'));
  }

  /** A safetensors checkpoint of parameters, Adam moments, config and step (plus `extraMetadata`). */
  async toCheckpoint(extraMetadata: Record<string, string> = {}): Promise<Uint8Array> {
    this.check('toCheckpoint');
    await this.drain();
    const ring = stagingRing(this.ctx);
    const read = async (name: string) => (await ring.readTensor(this.arena.get(name))) as Float32Array;
    const flat = { params: await read('params'), m: await read('adam.m'), v: await read('adam.v') };
    return encodeCheckpoint(this.config, this.graph.layout, this.steps, flat, extraMetadata);
  }

  /**
   * Restores parameters, moments and the step counter from checkpoint bytes after validating all
   * of it; on any error the trainer is left exactly as it was. Returns the checkpoint's metadata.
   */
  async loadCheckpoint(bytes: Uint8Array | ParsedCheckpoint, source = 'checkpoint'): Promise<Record<string, string>> {
    this.check('loadCheckpoint');
    await this.drain();
    const state = decodeCheckpoint(bytes, this.config, this.graph.layout, source);
    const zeros = new Float32Array(this.graph.layout.total);
    writeTensor(this.ctx, this.arena.get('params'), state.params);
    writeTensor(this.ctx, this.arena.get('adam.m'), state.m ?? zeros);
    writeTensor(this.ctx, this.arena.get('adam.v'), state.v ?? zeros);
    this.steps = state.step;
    return state.metadata;
  }

  async save(path: string, extraMetadata: Record<string, string> = {}): Promise<void> {
    if (!this.store) throw new ShapeError('save', 'no checkpoint store: pass { store } to CpcTrainer.create (Node: nodeCheckpointStore) or use toCheckpoint()');
    await this.store.write(path, await this.toCheckpoint(extraMetadata));
  }

  async load(path: string): Promise<Record<string, string>> {
    if (!this.store) throw new ShapeError('load', 'no checkpoint store: pass { store } to CpcTrainer.create (Node: nodeCheckpointStore) or use loadCheckpoint()');
    return this.loadCheckpoint(await this.store.read(path), path);
  }

  /**
   * GPU time of every op of one training step (timestamp queries when available); parameters are
   * updated and metrics logged (takeMetrics / flush) as by trainStep.
   */
  async profileStep(signal: Float32Array): Promise<ProfileResult> {
    this.check('profileStep');
    this.checkSignal('profileStep', signal);
    await this.drain();
    this.profiler ??= new Profiler(this.ctx, Math.max(64, this.ops.length));
    const step = this.steps + 1;
    const lr = this.upload(0, signal, step);
    const result = await this.profiler.profile(this.ops.map((o) => o.bySlot[0]));
    this.steps = step;
    // A profiled step is a training step: its metrics are logged like trainStep's.
    if (this.isLogged(step)) {
      const rb = await this.readback.acquire();
      const enc = this.ctx.device.createCommandEncoder({ label: `cpc.profile${step}.metrics` });
      this.encodeMetricsCopy(enc, rb);
      this.ctx.device.queue.submit([enc.finish()]);
      this.queueMetricsRead(rb, step, lr, 'profileStep');
    }
    return result;
  }

  /** Frees every GPU buffer this trainer created. The device stays usable. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.readback.destroy();
    this.arena.destroy();
  }
}
export { readCheckpointInfo } from './checkpoint.ts';
