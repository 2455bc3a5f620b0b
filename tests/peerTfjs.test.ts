// The tfjs-backend-webgpu peer of the e2e benchmark must train the SAME model as ours: its loss and
// gradients are checked against the float64 oracle (tests/reference/cpcModel.ts) on a tiny config,
// then one Adam step and a short training run are checked (checks and tolerances shared with the
// jax-js peer: tests/helpers/peerOracle.ts).
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTfjsPeer, type TfjsPeer } from '../bench/peer/tfjsCpc.ts';
import { expectFirstAdamStep, expectLearns, expectPeerMatchesOracle, PEER_TEST_CONFIG as base, peerProblem } from './helpers/peerOracle.ts';
import { releaseNodeGpu } from '../src/node/gpu.ts';

let peer: TfjsPeer | null = null;
afterEach(() => {
  peer?.dispose();
  peer = null;
});
afterAll(() => releaseNodeGpu());

describe.each([
  { name: 'ChannelNorm on', cfg: base, seed: 11 },
  { name: 'ChannelNorm off', cfg: { ...base, norm: false }, seed: 12 },
])('tfjs peer vs float64 oracle ($name)', ({ cfg, seed }) => {
  it('runs on the webgpu backend and matches the oracle loss and every gradient', async () => {
    const prob = peerProblem(cfg, seed);
    peer = await createTfjsPeer(cfg, { params: prob.params });
    expect(tf.getBackend()).toBe('webgpu');
    expect(peer.T).toBe(7);
    await expectPeerMatchesOracle(peer, cfg, prob);
  });
});

describe('tfjs peer training step', () => {
  it('first Adam step moves every weight by lr·sign(grad); 10 steps lower the loss without leaking tensors', async () => {
    const cfg = base;
    const prob = peerProblem(cfg, 21);
    peer = await createTfjsPeer(cfg, { params: prob.params });

    const losses = [await expectFirstAdamStep(peer, cfg, prob)];
    const tensorsAfterFirst = peer.numTensors();
    for (let i = 0; i < 9; i++) losses.push(await peer.step(prob.signal));
    expect(peer.numTensors(), 'tensors leaked per step').toBe(tensorsAfterFirst);
    expectLearns(losses);
  });
});

describe('tfjs peer input validation', () => {
  it('rejects a config whose encoder leaves T ≤ K frames, before touching the GPU', async () => {
    // L = 480 → 95 → 22 → 10 → 4 → T = 1 frame.
    await expect(createTfjsPeer({ ...base, L: 480 })).rejects.toThrow(/tfjsPeer\(B=2, L=480.*T=1 frames, InfoNCE needs T > K/);
    await expect(createTfjsPeer({ ...base, L: 20 })).rejects.toThrow(/layer 1 input length 3 < kernel 8/);
    await expect(createTfjsPeer({ ...base, strides: [5, 4] })).rejects.toThrow(/kernels and strides/);
  });

  it('rejects a signal of the wrong length, weights of the wrong shape, and a second live peer', async () => {
    peer = await createTfjsPeer(base);
    await expect(peer.step(new Float32Array(base.B * base.L - 1))).rejects.toThrow(/signal must be a Float32Array \[B·L\] = \[2·1500\] = 3000, got 2999/);
    const bad = new Map([...(await peer.getWeights())]);
    bad.set('gru.weight_hh_l0', new Float64Array(5));
    expect(() => peer!.setWeights(bad)).toThrow(/gru.weight_hh_l0 has 5 values, expected \[18,6\]/);
    bad.delete('gru.weight_hh_l0');
    expect(() => peer!.setWeights(bad)).toThrow(/missing parameter gru.weight_hh_l0/);
    await expect(createTfjsPeer(base)).rejects.toThrow(/another peer is alive/);
  });
});
