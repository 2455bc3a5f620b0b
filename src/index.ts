/// <reference types="@webgpu/types" preserve="true" />
// cpc-webgpu: the browser-safe API (no Node imports). Node-only helpers (Dawn device, files,
// atomic checkpoint store, WAV folders) are in `cpc-webgpu/node`.
export * from './runtime/index.ts';
export { CpcTrainer, type StepMetrics, type TrainerOptions, type CheckpointStore, type LossAndGrads } from './cpc/trainer.ts';
export * from './cpc/config.ts';
export { readCheckpointInfo, CHECKPOINT_FORMAT } from './cpc/checkpoint.ts';
export { encodeSafetensors, parseSafetensors, CheckpointError, type SafeTensor } from './cpc/safetensors.ts';
export { buildCpcGraph, type CpcGraph } from './cpc/graph.ts';
export { paramLayout, initParams } from './cpc/params.ts';
export { learningRate } from './cpc/schedule.ts';
export * from './cpc/data/index.ts';
export * from './cpc/probe.ts';
export * from './cpc/intervals.ts';
export * from './cpc/mfcc.ts';
export * from './cpc/encodeFeatures.ts';
export { evaluateProbes, layerEncoder, mfccEncoder, compareProbe, type EvalReport, type EvalOptions, type ProbeSummary, type ProbeEncoder } from './cpc/evaluate.ts';
