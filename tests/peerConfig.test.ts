// The e2e benchmark's JS peers (tfjs, jax-js) time the model our step trains: their config is
// derived from the preset, so both sides have the same parameters (ChannelNorm's included), batch,
// window and rate; configs the peers cannot train are named, not silently swapped for another model.
import { describe, expect, it } from 'vitest';
import { paramShapes, resolveConfig } from '../src/cpc/config.ts';
import { PEER_CONFIGS, peerConfigOf, peerParamShapes } from '../bench/peer/common.ts';

describe('e2e peer configs', () => {
  it.each(['tiny', 'small'] as const)('%s: the same parameters, batch, window and rate as our preset', (name) => {
    const cfg = resolveConfig(name);
    const peer = PEER_CONFIGS[name];
    expect(cfg.norm).toBe(true);
    expect(peer.norm).toBe(true);
    expect([peer.B, peer.L, peer.channels, peer.H, peer.K, peer.lr]).toEqual([cfg.batchSize, cfg.window, cfg.channels, cfg.hidden, cfg.predictionSteps, cfg.optimizer.lr]);
    expect([...peerParamShapes(peer)]).toEqual([...paramShapes(cfg)]);
  });

  it('names what the peers cannot train', () => {
    const small = resolveConfig('small');
    expect(peerConfigOf({ ...small, negatives: { kind: 'batch-time' } })).toMatch(/'batch' negatives only .*'batch-time'/);
    expect(peerConfigOf({ ...small, activations: 'f16' })).toMatch(/f32 only/);
    expect(peerConfigOf({ ...small, predictorBias: true })).toMatch(/bias-free predictors/);
  });
});
