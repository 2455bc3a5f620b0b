// The float64 oracle's config (tests/reference/cpcModel.ts) for a trainer config at optimizer step
// `step` (the sampled mode's negatives depend on the step's seed).
import type { CpcTrainConfig } from '../../src/cpc/config.ts';
import { negativeSamplingSeed } from '../../src/shaders/infonce.ts';
import type { CpcConfig } from '../reference/index.ts';

export function oracleConfig(cfg: CpcTrainConfig, step: number): CpcConfig {
  return {
    channels: cfg.channels, hidden: cfg.hidden, predictionSteps: cfg.predictionSteps, kernels: cfg.kernels, strides: cfg.strides,
    norm: cfg.norm, predictorBias: cfg.predictorBias, batchSize: cfg.batchSize,
    negatives: cfg.negatives.kind === 'sampled'
      ? { kind: 'sampled', n: cfg.negatives.n, seed: negativeSamplingSeed(cfg.seed, step), shared: cfg.negatives.shared === true }
      : { kind: cfg.negatives.kind },
  };
}
