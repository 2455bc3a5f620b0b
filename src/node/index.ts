/// <reference types="@webgpu/types" preserve="true" />
// Node entry point: Dawn device acquisition, atomic checkpoint files and WAV folders.
export { acquireNodeDevice } from './device.ts';
export { createNodeGpu, releaseNodeGpu } from './gpu.ts';
export { writeFileAtomic, readFileLimited } from './atomicFile.ts';
export { nodeCheckpointStore } from './checkpointStore.ts';
export { loadWavFolder } from './wavFolder.ts';
export { openCorpus, DEFAULT_DATA_MEMORY, type Corpus, type CorpusOptions } from './corpus.ts';
export { scanCorpus } from './corpusScan.ts';
export { NodeTuneCache, TUNE_CACHE_FILE, type NodeTuneCacheOptions } from './tuneCache.ts';
