// Messages between the page (demo/main.ts) and the training worker (demo/trainWorker.ts).
// Everything crossing the boundary is structured-cloneable; audio and checkpoint bytes are
// transferred, not copied. The UI never waits on the GPU: it only reacts to these messages.
import type { CpcTrainConfig, PresetName } from '../src/cpc/config.ts';
import type { StepMetrics } from '../src/cpc/trainer.ts';

export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  /** Features enabled on the device. */
  features: string[];
  /** Features the adapter offers (a superset of `features`). */
  adapterFeatures: string[];
  limits: Record<string, number>;
  isFallbackAdapter: boolean;
}

/** One optimizer step's numbers, as read back by the trainer (postMessage clones them). */
export type MetricsRow = StepMetrics;

/** A dropped audio file, decoded to mono on the page; resampled to 16 kHz in the worker. */
export interface AudioClip {
  name: string;
  speaker: string;
  sampleRate: number;
  samples: Float32Array;
}

export type DataSpec =
  | { kind: 'synthetic' }
  | { kind: 'audio'; clips: AudioClip[] };

export interface ProfileReport {
  step: number;
  ops: { name: string; ms: number }[];
  totalMs: number;
  /** 'timestamp-query' (GPU timestamps) or 'wall-clock' (submit → done per op, includes queue overhead). */
  source: string;
}

/** One test accuracy, with its 95 % interval when the evaluation reports one. */
export interface ProbeCell {
  acc: number | null;
  ci: [number, number] | null;
}

export interface ProbeReport {
  /** What each cell of a row is, e.g. ['trained', 'random init', 'majority class']: the page draws one column each. */
  columns: string[];
  /** Per task ('phone (per frame)', 'speaker (per window)'): one cell per column. */
  rows: { task: string; cells: ProbeCell[] }[];
  seconds: number;
  note?: string;
}

/** Kinds of error the page explains to the user (the error panel picks its text by kind). */
export type ErrorKind =
  | 'no-webgpu' // navigator.gpu missing or no adapter
  | 'limits' // the adapter's limits are too small for the config
  | 'device-lost'
  | 'non-finite' // NaN/Inf loss or gradients
  | 'config' // invalid config JSON / values
  | 'data' // dataset could not be built (no audio long enough, bad file)
  | 'checkpoint' // a checkpoint file refused
  | 'probe'
  | 'internal';

export interface ErrorReport {
  kind: ErrorKind;
  /** Error class name (e.g. LimitExceededError). */
  name: string;
  message: string;
  /** For 'limits': which limit, what the config needs and what the device allows. */
  limit?: { name: string; requested: number; allowed: number };
  /** For 'non-finite' / 'device-lost': the last step reached. */
  step?: number;
}

// ---- page → worker ----

export interface RunSettings {
  /** Read metrics back every N steps. */
  metricsEvery: number;
  /** Run trainer.profileStep every N steps (0: only on request). */
  profileEvery: number;
  /** Keep a checkpoint in page memory every N seconds of training (0: never), for resuming after device loss. */
  checkpointEverySeconds: number;
  /** Pause after this many optimizer steps (0: no limit). */
  maxSteps: number;
}

export type ToWorker =
  | { type: 'init' }
  /** The data the next start/load trains on; audio is transferred once here, not with every start. */
  | { type: 'setData'; data: DataSpec }
  | { type: 'start'; preset: PresetName | 'custom'; config: CpcTrainConfig; settings: RunSettings }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'reset' }
  | { type: 'profile' }
  | { type: 'checkpoint'; id: number }
  /**
   * Load weights + optimizer state; a model is built from the checkpoint's config when needed.
   * `fallbackConfig` (the editor's config, if valid) is used for weights-only files when no model exists.
   */
  | { type: 'loadCheckpoint'; id: number; name: string; bytes: Uint8Array; settings: RunSettings; fallbackConfig: CpcTrainConfig | null }
  | { type: 'probe'; id: number }
  /** Test/debug hook: destroy the GPUDevice to exercise the device-lost path. */
  | { type: 'debugLoseDevice' };

// ---- worker → page ----

export type RunState = 'idle' | 'preparing' | 'running' | 'paused' | 'stopped' | 'failed';

export type FromWorker =
  | { type: 'ready'; adapter: AdapterReport }
  | { type: 'state'; state: RunState; step: number; detail?: string }
  | { type: 'created'; config: CpcTrainConfig; preset: string; frames: number; paramCount: number; paramNames: string[]; plannedPeakBytes: number; noReuseBytes: number; persistentBytes: number; transientBytes: number; dataName: string; trainUtterances: number; step: number; variants: Record<string, { id: string; source: string; isDefault: boolean }> }
  | { type: 'metrics'; rows: MetricsRow[]; stepsPerSec: number | null; samplesPerSec: number | null; audioSecondsPerSec: number | null }
  | { type: 'profile'; report: ProfileReport }
  /** Kept by the page for "resume after device loss"; sent every checkpointEverySeconds. */
  | { type: 'autoCheckpoint'; step: number; bytes: Uint8Array }
  | { type: 'checkpoint'; id: number; step: number; bytes: Uint8Array }
  | { type: 'checkpointLoaded'; id: number; step: number; metadata: Record<string, string> }
  | { type: 'probe'; id: number; report: ProbeReport }
  | { type: 'notice'; message: string }
  /** Progress of a long request (probe runs), shown next to it rather than as a notice. */
  | { type: 'progress'; id: number; message: string }
  | { type: 'error'; id?: number; error: ErrorReport };
