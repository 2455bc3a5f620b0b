// The jax-js peer of the end-to-end benchmark: the same CPC model and loss as ours (DESIGN.md §1),
// written the way a jax-js user would — a pure loss function of a parameter tree, and one jit'ed
// training step (valueAndGrad of that loss + an Adam update) — run by @jax-js/jax's WebGPU backend
// on the same Dawn adapter our runtime uses.
//
// Layouts: jax-js's lax.convGeneralDilated is NCW with [C_out, C_in, k] kernels, PyTorch's own
// layouts, so every parameter is stored exactly as PyTorch names and shapes it (no transposes on
// get/set). Activations: encoder [B, C, len]; z [B, T, C]; c [B, T, H].
// What jax-js lacks and how it is built instead (as a user would):
//   - no lax.scan / fori_loop: the GRU is a JS loop over T, unrolled into the traced graph (one
//     matmul + gate ops per step), with the input projection W_ih x of all T steps in one matmul first;
//   - no rsqrt: ChannelNorm divides by sqrt(var + eps);
//   - no optimizer in @jax-js/jax (optax is a separate package): Adam is written out in the jit'ed
//     step with PyTorch's equations and defaults; the bias corrections 1 − β^t are passed in as
//     scalars so the step compiles once, not once per t.
// The conv stack uses lax.convGeneralDilated with the layer's stride (jax-js has strided convs).
// InfoNCE 'batch' mode: for step k, scores[t, b, b'] = p(b, t)·z(b', t+k) via one batched matmul.
//
// Memory model: jax-js arrays are reference counted and every function consumes its arguments
// (README "Reference counting"); the loss function takes `.ref` for every use of a parameter and
// disposes the tree at the end, as the library asks of user functions that jit and grad trace.
//
// Node: jax-js starts its WebGPU backend from `navigator.gpu` (init('webgpu') returns without it:
// its README lists Node.js as "GPU ❌") and reads `navigator.userAgent` while it optimizes kernels,
// so a navigator holding the process-wide Dawn GPU of src/node/gpu.ts (and Node's userAgent string)
// is installed while a peer lives. Readback: `await array.data()`; `dataSync()` copies through an
// OffscreenCanvas, which Node does not have. The loss is read back every step, like the tfjs peer.
// jax-js keeps its backend (and the GPUDevice it requested) for the life of the process: there is
// no API to shut it down, so dispose() frees the peer's arrays and compiled step only. That device
// keeps the Dawn instance it came from alive; releaseNodeGpu() still drops our own reference.

import { getWebGPUDevice, init, jit, lax, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import { createNodeGpu } from '../../src/node/gpu.ts';
import {
  ADAM, CHANNEL_NORM_EPS, checkTimingRun, installNavigatorGpu, median, numel, peerInitParams, peerParamShapes, peerSignal,
  validatePeerConfig, type PeerConfig, type PeerModel, type PeerOptions, type PeerTiming,
} from './common.ts';

export { JAX_PACKAGE } from './common.ts';

type Arr = np.Array;
/** Parameters (or Adam moments) by PyTorch name. */
type Params = { [name: string]: Arr };

/** The jax-js peer: every step, loss and gradient call is jit'ed. */
export interface JaxPeer extends PeerModel {
  /** Sum of the reference counts of the peer's own arrays (weights, Adam moments): a leak check. */
  liveRefs(): number;
}

const DEVICE = 'webgpu' as const;

/** Starts (once per process) jax-js's WebGPU backend on `gpu`; returns the adapter's description. */
async function startWebGpu(gpu: GPU): Promise<string> {
  const devices = await init(DEVICE);
  if (!devices.includes(DEVICE)) {
    throw new Error(`jaxPeer: jax-js init('webgpu') found no WebGPU device on navigator.gpu (backends: ${devices.join(', ')}); refusing to benchmark another backend`);
  }
  // jax-js requests its adapter with powerPreference 'high-performance' from navigator.gpu; the
  // same request here names it (Dawn hands out the same adapter for the same options and flags).
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  getWebGPUDevice(); // throws if the backend is somehow absent
  const info = adapter?.info;
  return info ? `${info.vendor} / ${info.architecture} / ${info.description}` : 'unknown adapter';
}

export async function createJaxPeer(cfg: PeerConfig, opts: PeerOptions = {}): Promise<JaxPeer> {
  const T = validatePeerConfig('jaxPeer', cfg);
  const gpu = opts.gpu ?? createNodeGpu();
  const nodeNavigator = (globalThis as { navigator?: { userAgent?: string; hardwareConcurrency?: number } }).navigator;
  const restoreNavigator = installNavigatorGpu(gpu, {
    userAgent: nodeNavigator?.userAgent ?? `Node.js/${process.versions.node.split('.')[0]}`,
    hardwareConcurrency: nodeNavigator?.hardwareConcurrency ?? 1,
  });
  let adapter: string;
  try {
    adapter = await startWebGpu(gpu);
  } catch (e) {
    restoreNavigator();
    throw e;
  }

  const { B, L, channels: C, H, K, kernels, strides } = cfg;
  const shapes = peerParamShapes(cfg);
  const names = [...shapes.keys()];
  const put = (data: Float32Array, shape: number[]): Arr => np.array(data, { device: DEVICE }).reshape(shape);
  const zerosLikeParams = (): Params => Object.fromEntries(names.map((n) => [n, np.zeros(shapes.get(n)!, { device: DEVICE })]));

  /** Per-frame norm over the channel axis (1 of [B, C, len]), unbiased variance as CPC_audio's ChannelNorm. */
  function channelNorm(x: Arr, gamma: Arr, beta: Arr): Arr {
    const mu = x.ref.mean(1, { keepdims: true });
    const d = x.sub(mu);
    const variance = np.square(d.ref).sum(1, { keepdims: true }).div(C - 1);
    return d.div(np.sqrt(variance.add(CHANNEL_NORM_EPS))).mul(gamma.reshape([1, C, 1])).add(beta.reshape([1, C, 1]));
  }

  /** x [B, L] → z [B, T, C]. */
  function encoder(p: Params, x: Arr): Arr {
    let h = x.reshape([B, 1, L]);
    for (let i = 0; i < kernels.length; i++) {
      h = lax.convGeneralDilated(h, p[`encoder.${i}.weight`]!.ref, [strides[i]!], 'VALID').add(p[`encoder.${i}.bias`]!.ref.reshape([1, C, 1]));
      if (cfg.norm) h = channelNorm(h, p[`encoder.${i}.norm.weight`]!.ref, p[`encoder.${i}.norm.bias`]!.ref);
      h = nn.relu(h);
    }
    return h.transpose([0, 2, 1]);
  }

  /** torch.nn.GRU, gate order (r, z, n), h0 = 0: z [B, T, C] → c [B, T, H]. */
  function gru(p: Params, z: Arr): Arr {
    const gi = np.matmul(z.reshape([B * T, C]), p['gru.weight_ih_l0']!.ref.transpose()).add(p['gru.bias_ih_l0']!.ref).reshape([B, T, 3 * H]);
    const whhT = p['gru.weight_hh_l0']!.ref.transpose(); // [H, 3H]
    const bhh = p['gru.bias_hh_l0']!.ref;
    let h = np.zeros([B, H]);
    const outs: Arr[] = [];
    for (let t = 0; t < T; t++) {
      const gh = np.matmul(h.ref, whhT.ref).add(bhh.ref); // [B, 3H]
      const r = nn.sigmoid(gi.ref.slice([], t, [0, H]).add(gh.ref.slice([], [0, H])));
      const u = nn.sigmoid(gi.ref.slice([], t, [H, 2 * H]).add(gh.ref.slice([], [H, 2 * H])));
      const n = np.tanh(gi.ref.slice([], t, [2 * H, 3 * H]).add(r.mul(gh.slice([], [2 * H, 3 * H]))));
      h = n.ref.add(u.mul(h.sub(n))); // (1 − z)·n + z·h
      outs.push(h.ref);
    }
    h.dispose();
    gi.dispose();
    whhT.dispose();
    bhh.dispose();
    return np.stack(outs, 1);
  }

  /** (1/K) Σ_k mean over the B·(T−k) valid rows of [logsumexp_b'(p(b,t)·z(b',t+k)) − p(b,t)·z(b,t+k)]. */
  function infoNce(p: Params, z: Arr, c: Arr): Arr {
    let total: Arr | null = null;
    for (let k = 1; k <= K; k++) {
      const rows = T - k;
      const pred = np.matmul(c.ref.slice([], [0, rows]), p[`predictors.${k - 1}.weight`]!.ref.transpose()); // [B, rows, C]
      const P = pred.transpose([1, 0, 2]); // [rows, B, C]
      const Z = z.ref.slice([], [k, T]).transpose([1, 0, 2]);
      const scores = np.matmul(P.ref, Z.ref.transpose([0, 2, 1])); // [rows, B, B']
      const pos = P.mul(Z).sum(2);
      const term = nn.logsumexp(scores, 2).sub(pos).mean();
      total = total ? total.add(term) : term;
    }
    z.dispose();
    c.dispose();
    return total!.div(K);
  }

  /** The loss as a pure function of (params, signal); consumes both, as jax-js functions must. */
  function lossFn(p: Params, x: Arr): Arr {
    const z = encoder(p, x);
    const c = gru(p, z.ref);
    const loss = infoNce(p, z, c);
    tree.dispose(p);
    return loss;
  }

  const lossJit = jit(lossFn);
  const gradJit = jit((p: Params, x: Arr) => valueAndGrad(lossFn)(p, x));
  /** One training step: loss and gradients, then PyTorch's Adam; returns [loss, params, m, v]. */
  const trainStep = jit((p: Params, m: Params, v: Params, x: Arr, bc1: Arr, bc2: Arr): [Arr, Params, Params, Params] => {
    const [loss, g] = valueAndGrad(lossFn)(tree.ref(p), x) as [Arr, Params];
    const p2: Params = {}, m2: Params = {}, v2: Params = {};
    for (const name of names) {
      const gi = g[name]!;
      m2[name] = m[name]!.mul(ADAM.beta1).add(gi.ref.mul(1 - ADAM.beta1));
      v2[name] = v[name]!.mul(ADAM.beta2).add(np.square(gi).mul(1 - ADAM.beta2));
      const mHat = m2[name].ref.div(bc1.ref);
      const vHat = v2[name].ref.div(bc2.ref);
      p2[name] = p[name]!.sub(mHat.mul(cfg.lr).div(np.sqrt(vHat).add(ADAM.eps)));
    }
    bc1.dispose();
    bc2.dispose();
    return [loss, p2, m2, v2];
  });

  let params: Params = {};
  let m: Params = zerosLikeParams();
  let v: Params = zerosLikeParams();
  let t = 0;

  function setWeights(src: Map<string, Float64Array>): void {
    const next: Params = {};
    for (const [name, shape] of shapes) {
      const a = src.get(name);
      if (!a || a.length !== numel(shape)) {
        tree.dispose(next);
        throw new RangeError(a ? `jaxPeer.setWeights: ${name} has ${a.length} values, expected [${shape}]` : `jaxPeer.setWeights: missing parameter ${name} [${shape}]`);
      }
      next[name] = put(Float32Array.from(a), shape);
    }
    tree.dispose(params);
    params = next;
  }

  setWeights(opts.params ?? peerInitParams(cfg, opts.seed ?? 1));

  function input(signal: Float32Array): Arr {
    if (!(signal instanceof Float32Array) || signal.length !== B * L) {
      throw new RangeError(`jaxPeer: signal must be a Float32Array [B·L] = [${B}·${L}] = ${B * L}, got ${signal?.length}`);
    }
    return put(signal, [B, L]);
  }

  const readScalar = async (a: Arr): Promise<number> => (await a.data())[0]!;

  let disposed = false;
  const live = (): void => {
    if (disposed) throw new Error('jaxPeer: used after dispose()');
  };

  return {
    cfg,
    T,
    adapter,
    async step(signal) {
      live();
      const x = input(signal);
      t++;
      const bc1 = np.array(1 - ADAM.beta1 ** t, { device: DEVICE });
      const bc2 = np.array(1 - ADAM.beta2 ** t, { device: DEVICE });
      const [loss, p2, m2, v2] = trainStep(params, m, v, x, bc1, bc2);
      params = p2;
      m = m2;
      v = v2;
      return readScalar(loss);
    },
    async loss(signal) {
      live();
      return readScalar(lossJit(tree.ref(params), input(signal)));
    },
    async gradients(signal) {
      live();
      const [loss, g] = gradJit(tree.ref(params), input(signal)) as [Arr, Params];
      loss.dispose();
      const out = new Map<string, Float64Array>();
      for (const name of names) out.set(name, Float64Array.from(await g[name]!.data()));
      return out;
    },
    async getWeights() {
      live();
      const out = new Map<string, Float64Array>();
      for (const name of names) out.set(name, Float64Array.from(await params[name]!.ref.data()));
      return out;
    },
    setWeights(src) {
      live();
      setWeights(src);
    },
    liveRefs: () => [params, m, v].reduce((n, tr) => n + names.reduce((s, name) => s + tr[name]!.refCount, 0), 0),
    dispose() {
      if (disposed) return;
      disposed = true;
      tree.dispose([params, m, v]);
      lossJit.dispose();
      gradJit.dispose();
      trainStep.dispose();
      restoreNavigator();
    },
  };
}

export interface JaxPeerTiming extends PeerTiming {
  /** The first step's wall time: tracing the unrolled step, jax-js's kernel fusion and codegen, pipeline compiles. */
  firstStepMs: number;
}

/**
 * Trains `warmup + steps` steps on one fixed batch and times the last `steps`. Warm-up matters
 * more than for tfjs: the first call traces the whole unrolled step and compiles every fused kernel
 * (GRU kernels of different time steps differ in their baked-in slice offsets, so each compiles).
 */
export async function timeJaxPeerSteps(
  cfg: PeerConfig,
  run: { warmup: number; steps: number; signal?: Float32Array } & PeerOptions,
): Promise<JaxPeerTiming> {
  checkTimingRun('timeJaxPeerSteps', run);
  const peer = await createJaxPeer(cfg, run);
  try {
    const signal = run.signal ?? peerSignal(cfg);
    const losses: number[] = [];
    const stepMs: number[] = [];
    let firstStepMs = 0;
    for (let i = 0; i < run.warmup + run.steps; i++) {
      const t0 = performance.now();
      losses.push(await peer.step(signal));
      if (i === 0) firstStepMs = performance.now() - t0;
      if (i >= run.warmup) stepMs.push(performance.now() - t0);
    }
    return { msPerStep: median(stepMs), stepMs, firstStepMs, losses, T: peer.T, adapter: peer.adapter };
  } finally {
    peer.dispose();
  }
}
