// Data path: datasets (synthetic, WAV), window batches, frame labels. Browser-safe; the Node WAV
// folder loader is src/node/wavFolder.ts.
export * from './dataset.ts';
export * from './rng.ts';
export * from './frames.ts';
export * from './synthetic.ts';
export * from './batcher.ts';
export * from './resample.ts';
export * from './wav.ts';
export * from './labels.ts';
