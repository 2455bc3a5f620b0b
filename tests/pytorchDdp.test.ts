// Data-parallel training with PyTorch (interop/pytorch/train_ddp.py under torchrun, 2 processes, gloo)
// on a run started by our runtime, and back: the checkpoint it writes evaluates in `cpc-webgpu eval`
// and continues with `cpc-webgpu train --resume` on the same batch stream.
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromObject, paramShapes } from '../src/cpc/config.ts';
import { initParams } from '../src/cpc/params.ts';
import { parseSafetensors, type SafeTensor } from '../src/cpc/safetensors.ts';
import { parseDataArg } from '../src/cli/data.ts';
import { openRunData } from '../src/cli/trainSetup.ts';
import { adamStep, cpcLossAndGrads, globalNormClip, lrSchedule } from './reference/index.ts';
import { oracleConfig } from './helpers/oracleConfig.ts';
import { cli, lastJson } from './helpers/cli.ts';
import { expectWithin } from './helpers/compare.ts';
import { LOSS_RTOL } from './helpers/modelBounds.ts';
import { INTEROP_DIR, PYTHON, run, torchMissingReason } from './helpers/torchPython.ts';

const missing = torchMissingReason();
const TRAIN_DDP = join(INTEROP_DIR, 'train_ddp.py');
const ENV = { OMP_NUM_THREADS: '1' };

/** train_ddp.py in one process (no torchrun) or under torchrun with `nproc` processes. */
async function trainDdp(run_: string, steps: number, nproc: number, dtype: 'float32' | 'float64'): Promise<void> {
  const script = [TRAIN_DDP, '--run', run_, '--steps', String(steps), '--dtype', dtype];
  // Debian's torch 1.13 on Python 3.11: torchrun's default --redirects/--tee "0" parses to None
  // (IntFlag iteration skips the zero member since 3.11), so both are given explicitly.
  const args = nproc === 1 ? script
    : ['-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${nproc}`, '--redirects', '2', '--tee', '2', '--log_dir', join(run_, '..', `logs-${nproc}`), ...script];
  const r = await run(PYTHON, args, { env: ENV });
  expect(r.code, `${nproc === 1 ? 'python3' : 'torchrun'} train_ddp.py: ${r.stderr.slice(-3000)}`).toBe(0);
}

async function tensorsOf(path: string): Promise<{ tensors: Map<string, SafeTensor>; metadata: Record<string, string> }> {
  return parseSafetensors(new Uint8Array(await readFile(path)), path);
}

async function metricsOf(dir: string): Promise<{ step: number; loss: number }[]> {
  return (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
}

async function startRun(dir: string, configPath: string): Promise<void> {
  const init = await cli(['batches', '--out', dir, '--config', configPath, '--steps', '0']);
  expect(init.code, init.stderr).toBe(0);
}

/**
 * Trains copies of the run `start` for 2 steps in float64: one process, and 2 processes under
 * torchrun; the checkpoints and losses must agree. Returns the DDP run's metrics.
 */
async function expectDdpEqualsSingle(root: string, start: string): Promise<{ step: number; loss: number }[]> {
  for (const d of ['single', 'ddp']) await cp(start, join(root, d), { recursive: true });
  await trainDdp(join(root, 'single'), 2, 1, 'float64');
  await trainDdp(join(root, 'ddp'), 2, 2, 'float64');
  const one = await tensorsOf(join(root, 'single', 'checkpoint.safetensors'));
  const two = await tensorsOf(join(root, 'ddp', 'checkpoint.safetensors'));
  expect(two.metadata.step).toBe('2');
  expect(two.metadata['cpc.sampler']).toBe(one.metadata['cpc.sampler']);
  expect([...two.tensors.keys()].sort()).toEqual([...one.tensors.keys()].sort());
  // Bound per element: both runs round the same float64 value to f32 (≤ 1 ulp apart, allow 2), plus
  // the float64 difference. The gradients differ only by summation order (two partial sums added
  // vs one): |δg| ≲ 1e-13·|g|, |g| ≤ maxGradNorm = 5 after clipping, so |δg| ≤ 5e-13. Adam's update
  // lr·m̂/(√v̂ + eps) moves by at most lr·|δg|/eps per step (its slope at g = 0): 2 steps · 2e-4 ·
  // 5e-13 / 1e-8 = 2e-8 on the parameters; the moments move by ≤ |δg|. A DDP step that drew
  // negatives only from its own half of the batch changes the gradients by O(1) and the parameters
  // by O(lr) = 1e-4, 5000× this bound.
  for (const [name, t] of one.tensors) {
    const want = t.data as Float32Array;
    const got = two.tensors.get(name)!.data as Float32Array;
    const slack = name.startsWith('adam.') ? 5e-13 : 2e-8;
    expectWithin(got, want, Float64Array.from(want, (w) => 2 * 2 ** -23 * Math.abs(w) + slack), `ddp vs single: ${name}`);
  }
  const lossOne = await metricsOf(join(root, 'single'));
  const lossTwo = await metricsOf(join(root, 'ddp'));
  expect(lossTwo.map((m) => m.step)).toEqual([1, 2]);
  lossTwo.forEach((m, i) => expect(Math.abs(m.loss - lossOne[i]!.loss), `loss step ${m.step}`).toBeLessThanOrEqual(1e-12 * Math.abs(lossOne[i]!.loss)));
  return lossTwo;
}

describe.skipIf(missing !== null)(`PyTorch DDP round trip (interop/pytorch/train_ddp.py)${missing ? ` — SKIPPED: ${missing}` : ''}`, () => {
  it('2 gloo processes equal 1 process on the whole batch; the result evaluates and resumes in our runtime', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cpc-ddp-'));
    const start = join(root, 'start');
    // tiny with channel norm: its loss leaves ln B at step 1, so the steps compared here move the weights.
    await writeFile(join(root, 'config.json'), JSON.stringify({ preset: 'tiny', norm: true }));
    await startRun(start, join(root, 'config.json'));
    await cp(start, join(root, 'f32'), { recursive: true });

    // 1. Equivalence, in float64 so that only the order of the gradient sum differs.
    const lossTwo = await expectDdpEqualsSingle(root, start);
    // Not stuck at the init: step 2's weights differ from step 0's.
    const w0 = (await tensorsOf(join(start, 'checkpoint.safetensors'))).tensors.get('gru.weight_hh_l0')!.data;
    const w2 = (await tensorsOf(join(root, 'ddp', 'checkpoint.safetensors'))).tensors.get('gru.weight_hh_l0')!.data;
    expect(Array.from(w2).some((x, i) => x !== w0[i])).toBe(true);

    // 2. The float32 DDP run's checkpoint in our runtime: eval, then resume for one more step.
    const f32 = join(root, 'f32');
    await trainDdp(f32, 2, 2, 'float32');
    const evalRun = await cli(['eval', '--checkpoint', join(f32, 'checkpoint.safetensors'), '--max-windows', '16', '--json']);
    expect(evalRun.code, evalRun.stderr).toBe(0);
    const probes = lastJson(evalRun.stdout);
    expect(probes.step).toBe(2);
    expect(typeof probes.phone_acc).toBe('number');
    // PyTorch's view of step 3 from the same checkpoint (float64, one process), for comparison.
    await cp(f32, join(root, 'torch3'), { recursive: true });
    await trainDdp(join(root, 'torch3'), 3, 1, 'float64');
    const resumed = await cli(['train', '--resume', '--out', f32, '--steps', '3', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout).steps).toBe(3);
    const ours = await metricsOf(f32);
    expect(ours.map((m) => m.step)).toEqual([1, 2, 3]);
    const theirs = (await metricsOf(join(root, 'torch3')))[2]!;
    // Step 3's loss: same weights, same batch (the stream continued from the sampler state PyTorch
    // saved), our GPU float32 vs torch float64: the whole-model loss bound of tests/trainer.test.ts.
    expect(theirs.step).toBe(3);
    expect(Math.abs(ours[2]!.loss - theirs.loss), `step 3 loss: ours ${ours[2]!.loss}, torch ${theirs.loss}`).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(theirs.loss));
    console.log(`[pytorch ddp] step 1-2 loss (ddp f64) ${lossTwo.map((m) => m.loss.toFixed(6)).join(', ')}; step 3 loss ours ${ours[2]!.loss.toFixed(6)} vs torch ${theirs.loss.toFixed(6)}; eval phone_acc ${probes.phone_acc}`);
  }, 900_000);

  // The moments PyTorch writes must mean what ours mean: train_ddp.py's optimizer (clipping, Adam or
  // AdamW with weight decay, warm-up + cosine) against the float64 reference optimizer
  // (tests/reference/adam.ts) driving the float64 oracle, for 2 steps on the run's own batch stream.
  it.each([
    ['Adam with L2 weight decay', false],
    ['AdamW', true],
  ])('its optimizer is ours: %s, clipping active, warm-up and cosine', async (_, decoupled) => {
    const root = await mkdtemp(join(tmpdir(), 'cpc-ddp-'));
    const raw = { preset: 'tiny', norm: true, optimizer: { weightDecay: 0.05, decoupled, maxGradNorm: 0.01, warmupSteps: 1, totalSteps: 3, minLr: 1e-4 } };
    await writeFile(join(root, 'config.json'), JSON.stringify(raw));
    const run_ = join(root, 'run');
    await startRun(run_, join(root, 'config.json'));
    await trainDdp(run_, 2, 1, 'float64');
    const got = await tensorsOf(join(run_, 'checkpoint.safetensors'));
    const cfg = configFromObject(raw);
    const o = cfg.optimizer;
    const names = [...paramShapes(cfg).keys()];
    const p = names.map((n) => Float64Array.from(initParams(cfg, cfg.seed).get(n)!));
    const m = p.map((a) => new Float64Array(a.length));
    const v = p.map((a) => new Float64Array(a.length));
    const { sampler } = await openRunData(parseDataArg('synthetic'), cfg, () => {});
    let clipped = 0;
    for (let step = 1; step <= 2; step++) {
      const signal = Float64Array.from((await sampler.next()).signal);
      const { grads } = cpcLossAndGrads(signal, new Map(names.map((n, i) => [n, p[i]!])), oracleConfig(cfg, step));
      const g = names.map((n) => grads.get(n)!);
      if (globalNormClip(g, o.maxGradNorm!).scale < 1) clipped++;
      const lr = lrSchedule(step, { lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.totalSteps, minLr: o.minLr });
      adamStep(p, g, m, v, step, { lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, decoupled: o.decoupled });
    }
    expect(clipped, 'the clip must act in this test').toBe(2);
    // Bound per element: one rounding of torch's float64 value to f32 (≤ 1/2 ulp; allow 1 ulp), plus
    // the float64 difference between torch and the oracle: their gradients agree to ≈5e-15 of each
    // tensor's norm (parity test), so |δg| ≤ 1e-13 with ‖g‖ ≤ maxGradNorm after clipping; Adam moves
    // the parameters by at most lr·|δg|/eps per step: 2 · 2e-3 · 1e-13 / 1e-8 = 4e-8.
    names.forEach((n, i) => {
      for (const [prefix, want, slack] of [['', p[i]!, 4e-8], ['adam.m.', m[i]!, 1e-13], ['adam.v.', v[i]!, 1e-13]] as const) {
        const t = got.tensors.get(prefix + n)!.data as Float32Array;
        expectWithin(t, want, Float64Array.from(want, (w) => 2 ** -23 * Math.abs(w) + slack), `torch vs reference optimizer: ${prefix}${n}`);
      }
    });
  }, 300_000);

  it.each([
    ['batch-time', { kind: 'batch-time' }],
    ['sampled', { kind: 'sampled', n: 9 }],
  ])('2 processes equal 1 with %s negatives (gathered candidates, global row indices)', async (_, negatives) => {
    const root = await mkdtemp(join(tmpdir(), 'cpc-ddp-'));
    await writeFile(join(root, 'config.json'), JSON.stringify({ preset: 'tiny', norm: true, negatives }));
    await startRun(join(root, 'start'), join(root, 'config.json'));
    await expectDdpEqualsSingle(root, join(root, 'start'));
  }, 300_000);
});
