// The jax-js peer of the e2e benchmark must train the SAME model as ours: its loss and gradients
// (jit'ed valueAndGrad on jax-js's WebGPU backend under Dawn) are checked against the float64 oracle
// (tests/reference/cpcModel.ts) on a tiny config, then one jit'ed Adam step and a short training run
// (checks and tolerances shared with the tfjs peer: tests/helpers/peerOracle.ts).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createJaxPeer, type JaxPeer } from '../bench/peer/jaxCpc.ts';
import { peerParamShapes } from '../bench/peer/common.ts';
import { expectFirstAdamStep, expectLearns, expectPeerMatchesOracle, PEER_TEST_CONFIG as base, peerProblem } from './helpers/peerOracle.ts';
import { releaseNodeGpu } from '../src/node/gpu.ts';

let peer: JaxPeer | null = null;
afterEach(() => {
  peer?.dispose();
  peer = null;
});
afterAll(() => releaseNodeGpu());

describe.each([
  { name: 'ChannelNorm on', cfg: base, seed: 11 },
  { name: 'ChannelNorm off', cfg: { ...base, norm: false }, seed: 12 },
])('jax-js peer vs float64 oracle ($name)', ({ cfg, seed }) => {
  it('runs on the webgpu backend and matches the oracle loss and every gradient', async () => {
    const prob = peerProblem(cfg, seed);
    const { params } = prob;
    peer = await createJaxPeer(cfg, { params });
    expect(peer.T).toBe(7);
    // The adapter jax-js runs on is a real one from Dawn, not jax-js's Wasm/CPU fallback.
    expect(peer.adapter).not.toBe('unknown adapter');
    await expectPeerMatchesOracle(peer, cfg, prob);
    // Reading gradients and the loss leaves the weights untouched and owned once.
    const after = await peer.getWeights();
    for (const [name, w] of params) expect(after.get(name), name).toEqual(w);
  });
});

describe('jax-js peer training step', () => {
  it('first Adam step moves every weight by lr·sign(grad); 10 steps lower the loss and keep one reference per array', async () => {
    const cfg = base;
    const prob = peerProblem(cfg, 21);
    peer = await createJaxPeer(cfg, { params: prob.params });
    const arrays = 3 * peerParamShapes(cfg).size; // weights, Adam m, Adam v

    const losses = [await expectFirstAdamStep(peer, cfg, prob)];
    for (let i = 0; i < 9; i++) losses.push(await peer.step(prob.signal));
    // The step consumes the old weights and moments and hands back new ones, each held once: a
    // missing `.ref` would have thrown (use after free), an extra one would show here.
    expect(peer.liveRefs(), 'references held on weights and moments').toBe(arrays);
    expectLearns(losses);
  });
});

describe('jax-js peer input validation', () => {
  it('rejects a config whose encoder leaves T ≤ K frames, before touching the GPU', async () => {
    // L = 480 → 95 → 22 → 10 → 4 → T = 1 frame.
    await expect(createJaxPeer({ ...base, L: 480 })).rejects.toThrow(/jaxPeer\(B=2, L=480.*T=1 frames, InfoNCE needs T > K/);
    await expect(createJaxPeer({ ...base, L: 20 })).rejects.toThrow(/layer 1 input length 3 < kernel 8/);
    await expect(createJaxPeer({ ...base, strides: [5, 4] })).rejects.toThrow(/kernels and strides/);
  });

  it('rejects a signal of the wrong length and weights of the wrong shape', async () => {
    peer = await createJaxPeer(base);
    await expect(peer.step(new Float32Array(base.B * base.L - 1))).rejects.toThrow(/signal must be a Float32Array \[B·L\] = \[2·1500\] = 3000, got 2999/);
    const bad = new Map([...(await peer.getWeights())]);
    bad.set('gru.weight_hh_l0', new Float64Array(5));
    expect(() => peer!.setWeights(bad)).toThrow(/gru.weight_hh_l0 has 5 values, expected \[18,6\]/);
    bad.delete('gru.weight_hh_l0');
    expect(() => peer!.setWeights(bad)).toThrow(/missing parameter gru.weight_hh_l0/);
  });
});
