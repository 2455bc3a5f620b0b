// The peer for the end-to-end benchmark: the same CPC model and loss as ours (DESIGN.md §1),
// written the way a TensorFlow.js user would, trained with @tensorflow/tfjs-backend-webgpu on the
// same Dawn adapter our runtime uses.
//
// Layouts (tfjs is channels-last):
//   signal [B, L] → [B, L, 1]; conv filters [k, Cin, C] (tf.conv1d's NWC filter layout; PyTorch
//   [C, Cin, k] is transposed on set/get); activations [B, len, C]; z [B, T, C]; c [B, T, H].
//   GRU and predictor weights keep their PyTorch layouts ([3H, C], [3H, H], [C, H]): matMul's
//   transposeB reads them as they are.
// The GRU is unrolled over T as tfjs ops (one matMul + gate ops per step), with the input
// projection W_ih x of all T steps in one matMul first, as Keras and cuDNN do.
// InfoNCE 'batch' mode: for step k, scores[t, b, b'] = p(b, t)·z(b', t+k) via one batched matMul.
//
// Readback: the loss is read each step with `await loss.data()`. `dataSync()` is not usable here:
// tfjs-backend-webgpu's readSync copies through OffscreenCanvas 'webgpu' contexts
// (tensorflow/tfjs PR #7576), which Node does not have ("OffscreenCanvas is not defined").
// The step still waits for the value, like a dataSync loop would.
//
// The backend is registered here (not by the package's import side effect) so that it runs on the
// GPU object we choose — by default the same Dawn instance and adapter selection as our runtime
// (src/node/gpu.ts) — and so dispose() can remove the backend and destroy its device.
// dispose() destroys the peer's device but never releases the Dawn instance: that stays the
// process-wide one of src/node/gpu.ts, released by whoever owns the process (the bench CLI's
// ctx.dispose(), a test file's afterAll, measure.ts) with releaseNodeGpu(). Measured: creating a
// fresh Dawn instance per peer after dropping the previous one made ~1 in 4 vitest workers crash
// ("Worker exited unexpectedly") or hang after their tests had passed; one shared instance: 0/16.
// WebGPUBackend's constructor still insists on `navigator.gpu` (it throws "WebGPU is not supported
// on this device" otherwise), so a navigator holding that GPU is installed while the peer lives.
// tfjs has one global engine: only one peer may be alive at a time.

import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { createNodeGpu } from '../../src/node/gpu.ts';
import {
  ADAM, CHANNEL_NORM_EPS, checkTimingRun, installNavigatorGpu, median, numel, peerInitParams, peerParamShapes, peerSignal, validatePeerConfig,
  type PeerConfig, type PeerModel, type PeerOptions, type PeerTiming,
} from './common.ts';

// The shared peer API, re-exported so callers of the tfjs peer keep one import.
export { PEER_CONFIGS, peerFrames, peerInitParams, peerParamShapes, peerSignal, type PeerConfig, type PeerOptions, type PeerTiming } from './common.ts';

export interface TfjsPeer extends PeerModel {
  /** Live tfjs tensors (for leak checks). */
  numTensors(): number;
}

const isConvWeight = (name: string): boolean => /^encoder\.\d+\.weight$/.test(name);

/** PyTorch [Cout, Cin, k] ↔ tfjs [k, Cin, Cout]: the transpose is its own inverse. */
function swapOuterInner(a: ArrayLike<number>, d0: number, d1: number, d2: number): Float32Array {
  const out = new Float32Array(d0 * d1 * d2);
  for (let i = 0; i < d0; i++) {
    for (let j = 0; j < d1; j++) {
      for (let k = 0; k < d2; k++) out[(k * d1 + j) * d0 + i] = a[(i * d1 + j) * d2 + k]!;
    }
  }
  return out;
}

/** tfjs shape of a parameter stored under a PyTorch name. */
function tfShape(name: string, shape: number[]): number[] {
  return isConvWeight(name) ? [shape[2]!, shape[1]!, shape[0]!] : shape;
}

let alive = false;

async function startWebGpuBackend(gpu: GPU): Promise<{ device: GPUDevice; adapter: string }> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('tfjsPeer: no WebGPU adapter (is a Vulkan driver installed? see DESIGN.md §6)');
  // The limits and features tfjs-backend-webgpu's own factory requests (its src/base.ts).
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  const info = adapter.info;
  // The package registers 'webgpu' at import only where navigator.gpu exists; replace any such
  // registration so the backend surely runs on this device.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, info), 3);
  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'webgpu') {
    device.destroy();
    throw new Error(`tfjsPeer: tf.setBackend('webgpu') failed (backend is '${tf.getBackend()}'); refusing to benchmark another backend`);
  }
  return { device, adapter: `${info.vendor} / ${info.architecture} / ${info.description}` };
}

export async function createTfjsPeer(cfg: PeerConfig, opts: PeerOptions = {}): Promise<TfjsPeer> {
  const T = validatePeerConfig('tfjsPeer', cfg);
  if (alive) throw new Error('tfjsPeer: another peer is alive (tfjs has one global engine); dispose it first');
  const gpu = opts.gpu ?? createNodeGpu();
  const restoreNavigator = installNavigatorGpu(gpu);
  let backend: { device: GPUDevice; adapter: string };
  try {
    backend = await startWebGpuBackend(gpu);
  } catch (e) {
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    restoreNavigator();
    throw e;
  }
  alive = true;

  const { B, L, channels: C, H, K, kernels, strides } = cfg;
  const shapes = peerParamShapes(cfg);
  const vars = new Map<string, tf.Variable>();
  for (const [name, shape] of shapes) vars.set(name, tf.variable(tf.zeros(tfShape(name, shape)), true, `peer.${name}`));
  const v = (name: string): tf.Variable => vars.get(name)!;
  const varList = [...vars.values()];

  function setWeights(params: Map<string, Float64Array>): void {
    for (const [name, shape] of shapes) {
      const a = params.get(name);
      if (!a) throw new RangeError(`tfjsPeer.setWeights: missing parameter ${name} [${shape}]`);
      if (a.length !== numel(shape)) throw new RangeError(`tfjsPeer.setWeights: ${name} has ${a.length} values, expected [${shape}]`);
      const data = isConvWeight(name) ? swapOuterInner(a, shape[0]!, shape[1]!, shape[2]!) : Float32Array.from(a);
      tf.tidy(() => v(name).assign(tf.tensor(data, tfShape(name, shape))));
    }
  }

  async function toTorch(name: string, t: tf.Tensor): Promise<Float64Array> {
    const data = await t.data();
    const shape = shapes.get(name)!;
    return Float64Array.from(isConvWeight(name) ? swapOuterInner(data, shape[2]!, shape[1]!, shape[0]!) : data);
  }

  setWeights(opts.params ?? peerInitParams(cfg, opts.seed ?? 1));
  const optimizer = tf.train.adam(cfg.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);

  /** Per-frame norm over the channel (last) axis, unbiased variance as CPC_audio's ChannelNorm. */
  function channelNorm(x: tf.Tensor3D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor3D {
    const mu = tf.mean(x, -1, true);
    const d = tf.sub(x, mu);
    const variance = tf.div(tf.sum(tf.square(d), -1, true), C - 1);
    return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(variance, CHANNEL_NORM_EPS))), gamma), beta);
  }

  function encoder(x: tf.Tensor2D): tf.Tensor3D {
    let h = tf.reshape(x, [B, L, 1]) as tf.Tensor3D;
    for (let i = 0; i < kernels.length; i++) {
      h = tf.add(tf.conv1d(h, v(`encoder.${i}.weight`) as tf.Tensor3D, strides[i]!, 'valid'), v(`encoder.${i}.bias`));
      if (cfg.norm) h = channelNorm(h, v(`encoder.${i}.norm.weight`), v(`encoder.${i}.norm.bias`));
      h = tf.relu(h);
    }
    return h;
  }

  /** torch.nn.GRU, gate order (r, z, n), h0 = 0; returns c [B, T, H]. */
  function gru(z: tf.Tensor3D): tf.Tensor3D {
    const gi = tf.add(tf.matMul(tf.reshape(z, [B * T, C]), v('gru.weight_ih_l0'), false, true), v('gru.bias_ih_l0'));
    const [xr, xz, xn] = tf.split(tf.reshape(gi, [B, T, 3 * H]), 3, 2).map((g) => tf.unstack(g, 1));
    let h: tf.Tensor = tf.zeros([B, H]);
    const outs: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const gh = tf.add(tf.matMul(h, v('gru.weight_hh_l0'), false, true), v('gru.bias_hh_l0'));
      const [hr, hz, hn] = tf.split(gh, 3, 1);
      const r = tf.sigmoid(tf.add(xr![t]!, hr!));
      const u = tf.sigmoid(tf.add(xz![t]!, hz!));
      const n = tf.tanh(tf.add(xn![t]!, tf.mul(r, hn!)));
      h = tf.add(n, tf.mul(u, tf.sub(h, n))); // (1 − z)·n + z·h
      outs.push(h);
    }
    return tf.stack(outs, 1) as tf.Tensor3D;
  }

  /** (1/K) Σ_k mean over the B·(T−k) valid rows of [logsumexp_b'(p(b,t)·z(b',t+k)) − p(b,t)·z(b,t+k)]. */
  function infoNce(z: tf.Tensor3D, c: tf.Tensor3D): tf.Scalar {
    const perK: tf.Scalar[] = [];
    for (let k = 1; k <= K; k++) {
      const rows = T - k;
      const cK = tf.reshape(tf.slice(c, [0, 0, 0], [B, rows, H]), [B * rows, H]);
      const pred = tf.reshape(tf.matMul(cK, v(`predictors.${k - 1}.weight`), false, true), [B, rows, C]);
      const P = tf.transpose(pred, [1, 0, 2]); // [rows, B, C]
      const Z = tf.transpose(tf.slice(z, [0, k, 0], [B, rows, C]), [1, 0, 2]);
      const scores = tf.matMul(P, Z, false, true); // [rows, B, B']
      const pos = tf.sum(tf.mul(P, Z), 2);
      perK.push(tf.mean(tf.sub(tf.logSumExp(scores, 2), pos)));
    }
    return tf.div(tf.addN(perK), K);
  }

  const lossOf = (x: tf.Tensor2D): tf.Scalar => {
    const z = encoder(x);
    return infoNce(z, gru(z));
  };

  function input(signal: Float32Array): tf.Tensor2D {
    if (!(signal instanceof Float32Array) || signal.length !== B * L) {
      throw new RangeError(`tfjsPeer: signal must be a Float32Array [B·L] = [${B}·${L}] = ${B * L}, got ${signal?.length}`);
    }
    return tf.tensor2d(signal, [B, L]);
  }

  async function readScalar(t: tf.Tensor): Promise<number> {
    try {
      return (await t.data())[0]!;
    } finally {
      t.dispose();
    }
  }

  let disposed = false;
  const live = (): void => {
    if (disposed) throw new Error('tfjsPeer: used after dispose()');
  };

  return {
    cfg,
    T,
    adapter: backend.adapter,
    async step(signal) {
      live();
      const x = input(signal);
      const loss = optimizer.minimize(() => lossOf(x), true, varList)!;
      x.dispose();
      return readScalar(loss);
    },
    async loss(signal) {
      live();
      const x = input(signal);
      const loss = tf.tidy(() => lossOf(x));
      x.dispose();
      return readScalar(loss);
    },
    async gradients(signal) {
      live();
      const x = input(signal);
      const { value, grads } = tf.variableGrads(() => lossOf(x), varList);
      x.dispose();
      value.dispose();
      const out = new Map<string, Float64Array>();
      for (const name of shapes.keys()) {
        const g = grads[`peer.${name}`]!;
        out.set(name, await toTorch(name, g));
      }
      tf.dispose(Object.values(grads));
      return out;
    },
    async getWeights() {
      live();
      const out = new Map<string, Float64Array>();
      for (const name of shapes.keys()) out.set(name, await toTorch(name, v(name)));
      return out;
    },
    setWeights(params) {
      live();
      setWeights(params);
    },
    numTensors: () => tf.memory().numTensors,
    dispose() {
      if (disposed) return;
      disposed = true;
      optimizer.dispose();
      tf.dispose(varList);
      tf.removeBackend('webgpu');
      backend.device.destroy();
      restoreNavigator();
      alive = false;
    },
  };
}

/**
 * Trains `warmup + steps` steps on one fixed batch and times the last `steps`. Warm-up matters:
 * tfjs compiles a pipeline the first time it meets each shader key, inside the first step.
 */
export async function timePeerSteps(
  cfg: PeerConfig,
  run: { warmup: number; steps: number; signal?: Float32Array } & PeerOptions,
): Promise<PeerTiming> {
  checkTimingRun('timePeerSteps', run);
  const peer = await createTfjsPeer(cfg, run);
  try {
    const signal = run.signal ?? peerSignal(cfg);
    const losses: number[] = [];
    const stepMs: number[] = [];
    for (let i = 0; i < run.warmup + run.steps; i++) {
      const t0 = performance.now();
      losses.push(await peer.step(signal));
      if (i >= run.warmup) stepMs.push(performance.now() - t0);
    }
    return { msPerStep: median(stepMs), stepMs, losses, T: peer.T, adapter: peer.adapter };
  } finally {
    peer.dispose();
  }
}
