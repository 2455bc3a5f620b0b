// The page: controls, live numbers, charts, tables and error panels. Training runs in
// demo/trainWorker.ts; this thread only posts commands and renders the worker's messages, so it
// never waits for the GPU. window.__cpcDemo exposes the same numbers the DOM shows, for tests.
import { PRESETS, PRESET_NAMES, framesPerWindow, resolveConfig, type ConfigOverrides, type CpcTrainConfig, type PresetName } from '../src/cpc/config.ts';
import { candidatesPerRow } from '../src/shaders/infonce.ts';
import { parseSpeakerLabels, speakerFromFilename } from '../src/cpc/data/labels.ts';
import { decodeAudioFile } from './audioFiles.ts';
import { AccuracyChart, LossChart, type ChartReport } from './charts.ts';
import type {
  AdapterReport, AudioClip, ErrorKind, ErrorReport, FromWorker, MetricsRow, ProbeCell, ProbeReport, ProfileReport, RunSettings, RunState, ToWorker,
} from './protocol.ts';

// ------------------------------------------------------------------------------------------ state

type ModelInfo = Extract<FromWorker, { type: 'created' }>;

export interface DemoSnapshot {
  webgpu: boolean;
  /** 'looking' until the worker reports an adapter ('ready') or that there is none. */
  adapterStatus: 'looking' | 'ready' | 'none';
  adapter: AdapterReport | null;
  runState: RunState;
  stateDetail: string;
  step: number;
  preset: PresetName;
  model: Omit<ModelInfo, 'type'> | null;
  metrics: MetricsRow[];
  stepsPerSec: number | null;
  samplesPerSec: number | null;
  audioSecondsPerSec: number | null;
  profile: ProfileReport | null;
  probe: ProbeReport | null;
  errors: ErrorReport[];
  notices: string[];
  lastCheckpointStep: number | null;
  data: { kind: 'synthetic' | 'audio'; files: number };
  downloads: { name: string; bytes: number }[];
}

const s: DemoSnapshot = {
  webgpu: typeof navigator !== 'undefined' && 'gpu' in navigator && !!navigator.gpu,
  adapterStatus: 'looking', adapter: null, runState: 'idle', stateDetail: '', step: 0, preset: 'small', model: null, metrics: [],
  stepsPerSec: null, samplesPerSec: null, audioSecondsPerSec: null, profile: null, probe: null,
  errors: [], notices: [], lastCheckpointStep: null, data: { kind: 'synthetic', files: 0 }, downloads: [],
};
let lastCheckpoint: Uint8Array | null = null;
let audioClips: AudioClip[] = [];
let requestId = 0;
/** Set when a "resume from last checkpoint" load is in flight: training continues once it lands. */
let resumeAfterLoad = false;

declare global {
  interface Window {
    __cpcDemo?: {
      state(): DemoSnapshot;
      /** Destroys the worker's GPUDevice (exercises the device-lost path). */
      loseDevice(): void;
      /** What the two charts show (tick labels, legend text, chance line ink), for tests. */
      charts(): { loss: ChartReport; acc: ChartReport };
    };
  }
}

// ------------------------------------------------------------------------------------------ DOM

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo: #${id} missing from index.html`);
  return el as T;
}

const ui = {
  adapter: $('adapter'), errors: $('errors'), notices: $('notices'),
  preset: $<HTMLSelectElement>('preset'), config: $<HTMLTextAreaElement>('config'), configError: $('config-error'),
  dataAudio: $<HTMLInputElement>('data-audio'), dropzone: $('dropzone'), files: $<HTMLInputElement>('files'), dataSummary: $('data-summary'),
  maxSteps: $<HTMLInputElement>('max-steps'), metricsEvery: $<HTMLInputElement>('metrics-every'), profileEvery: $<HTMLInputElement>('profile-every'),
  start: $<HTMLButtonElement>('start'), pause: $<HTMLButtonElement>('pause'), resume: $<HTMLButtonElement>('resume'), reset: $<HTMLButtonElement>('reset'),
  download: $<HTMLButtonElement>('download'), load: $<HTMLInputElement>('load'), loadButton: $<HTMLButtonElement>('load-button'),
  liveStatus: $('live-status'), chartNote: $('chart-note'),
  runState: $('run-state'), modelInfo: $('model-info'), memory: $('memory'),
  profile: $<HTMLButtonElement>('profile'), profileTable: $('profile-table'), probe: $<HTMLButtonElement>('probe'), probeTable: $('probe-table'),
  stat: {
    step: $('stat-step'), loss: $('stat-loss'), acc1: $('stat-acc1'), stepsPerSec: $('stat-steps-per-sec'),
    samplesPerSec: $('stat-samples-per-sec'), realtime: $('stat-realtime'), lr: $('stat-lr'), gradNorm: $('stat-grad-norm'),
  },
};

const lossChart = new LossChart($('chart-loss'));
const accChart = new AccuracyChart($('chart-acc'));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Shows a number and keeps the raw value in data-value, so tests can compare the DOM with state(). */
function setStat(node: HTMLElement, value: number | null, text: (v: number) => string): void {
  node.textContent = value === null || value === undefined ? '–' : text(value);
  node.dataset.value = value === null || value === undefined ? '' : String(value);
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 20 ? 3 : 1)} MiB`;
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

// ------------------------------------------------------------------------------------------ worker

const worker = new Worker(new URL('./trainWorker.ts', import.meta.url), { type: 'module', name: 'cpc-trainer' });

function send(msg: ToWorker, transfer: Transferable[] = []): void {
  worker.postMessage(msg, transfer);
}

worker.onerror = (ev) => {
  ev.preventDefault();
  showError({ kind: 'internal', name: 'WorkerError', message: `the training worker failed to start or crashed: ${ev.message || 'no message'}` });
};

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'ready':
      s.adapter = m.adapter;
      s.adapterStatus = 'ready';
      renderAdapter();
      renderState();
      break;
    case 'state':
      s.runState = m.state;
      s.stateDetail = m.detail ?? '';
      s.step = Math.max(m.step, m.state === 'idle' ? 0 : s.step);
      if (m.state === 'idle') s.step = 0;
      renderState();
      break;
    case 'created': {
      const { type: _t, ...info } = m;
      s.model = info;
      s.step = m.step;
      setChance(m.config);
      if (m.step === 0) {
        // A fresh model: the old profile and probe numbers no longer describe it (a resumed one keeps them).
        s.profile = null;
        s.probe = null;
      }
      renderModel();
      renderProfile();
      renderProbe();
      break;
    }
    case 'metrics':
      onMetrics(m.rows, m.stepsPerSec, m.samplesPerSec, m.audioSecondsPerSec);
      break;
    case 'profile':
      s.profile = m.report;
      s.step = Math.max(s.step, m.report.step);
      renderProfile();
      renderStats();
      break;
    case 'autoCheckpoint':
      lastCheckpoint = m.bytes;
      s.lastCheckpointStep = m.step;
      break;
    case 'checkpoint':
      lastCheckpoint = m.bytes.slice();
      s.lastCheckpointStep = m.step;
      saveBlob(m.bytes, `cpc-${s.model?.preset ?? s.preset}-step${m.step}.safetensors`);
      ui.download.disabled = !s.model;
      break;
    case 'checkpointLoaded':
      clearErrors(['checkpoint', 'device-lost', 'non-finite']);
      s.step = m.step;
      // Rows after the restored step belong to a timeline that no longer exists.
      s.metrics = s.metrics.filter((r) => r.step <= m.step);
      lossChart.clear();
      lossChart.push(s.metrics);
      accChart.clear(s.model?.config.predictionSteps ?? 1);
      accChart.push(s.metrics);
      note(`checkpoint loaded: step ${m.step}${m.metadata.demo_data ? `, trained on ${m.metadata.demo_data}` : ''}`);
      if (resumeAfterLoad) {
        resumeAfterLoad = false;
        send({ type: 'resume' });
      }
      renderState();
      break;
    case 'probe':
      s.probe = m.report;
      renderProbe();
      ui.probe.disabled = false;
      break;
    case 'notice':
      note(m.message);
      break;
    case 'progress':
      if (!s.probe) ui.probeTable.textContent = `running the probes… ${m.message}`;
      break;
    case 'error':
      resumeAfterLoad = false;
      if (m.error.kind === 'no-webgpu') noAdapter();
      if (m.error.kind === 'probe') ui.probe.disabled = false;
      showError(m.error);
      break;
  }
};

function onMetrics(rows: MetricsRow[], stepsPerSec: number | null, samplesPerSec: number | null, audio: number | null): void {
  s.metrics.push(...rows);
  if (stepsPerSec !== null) {
    s.stepsPerSec = stepsPerSec;
    s.samplesPerSec = samplesPerSec;
    s.audioSecondsPerSec = audio;
  }
  const last = rows[rows.length - 1];
  if (last) s.step = Math.max(s.step, last.step);
  lossChart.push(rows);
  accChart.push(rows);
  renderStats();
  renderChartNote();
}

let chanceN: number | null = null;

/** Candidates each prediction is scored against (the positive among them): chance is ln N for the loss, 1/N for accuracy. */
function setChance(cfg: CpcTrainConfig): void {
  const n = candidatesPerRow({ B: cfg.batchSize, T: framesPerWindow(cfg) }, cfg.negatives);
  lossChart.setChance(Math.log(n));
  accChart.setChance(1 / n);
  chanceN = n;
}

/** A loss sitting at ln N is expected for a fresh model (all candidates score alike); say so instead of leaving a flat line unexplained. */
function renderChartNote(): void {
  const last = s.metrics[s.metrics.length - 1];
  const cfg = s.model?.config;
  const flat = !!last && !!cfg && chanceN !== null && Math.abs(last.loss - Math.log(chanceN)) < 2e-3;
  ui.chartNote.hidden = !flat;
  if (!flat) return;
  const warm = cfg!.optimizer.warmupSteps;
  ui.chartNote.textContent = `The loss is at chance, ln ${chanceN} = ${Math.log(chanceN!).toFixed(3)}: a fresh model scores all ${chanceN} candidates alike. `
    + (last!.step <= warm
      ? `The learning rate is still warming up (step ${last!.step} of ${warm}), so the first steps barely move the weights; the curve should leave this line soon after.`
      : 'If it stays here long after warm-up, try a higher optimizer.lr.');
}

// ------------------------------------------------------------------------------------------ render

function renderAdapter(): void {
  const a = s.adapter;
  if (!a) return;
  const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' · ') || 'unnamed adapter';
  const software = a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software/i.test(name);
  ui.adapter.replaceChildren(
    'Adapter: ', el('strong', { id: 'adapter-name', textContent: name }),
    software ? ' (a software adapter: WebGPU emulated on the CPU, correct but slow — the tiny preset is the one to try)' : '',
    ' — features: ', el('code', { id: 'adapter-features', textContent: a.features.join(', ') || 'none' }),
    a.features.includes('timestamp-query') ? '' : ' (no timestamp-query: kernel times are wall-clock)',
  );
}

function renderStats(): void {
  const last = s.metrics[s.metrics.length - 1] ?? null;
  setStat(ui.stat.step, s.model || s.step ? s.step : null, (v) => String(v));
  setStat(ui.stat.loss, last?.loss ?? null, (v) => v.toFixed(4));
  setStat(ui.stat.acc1, last?.accPerK[0] ?? null, pct);
  setStat(ui.stat.stepsPerSec, s.stepsPerSec, (v) => v.toFixed(v < 10 ? 2 : 1));
  setStat(ui.stat.samplesPerSec, s.samplesPerSec, (v) => v.toFixed(v < 10 ? 2 : 1));
  setStat(ui.stat.realtime, s.audioSecondsPerSec, (v) => `${v.toFixed(1)}×`);
  setStat(ui.stat.lr, last?.lr ?? null, (v) => v.toExponential(2));
  setStat(ui.stat.gradNorm, last?.gradNorm ?? null, (v) => (v !== 0 && Math.abs(v) < 0.01 ? v.toExponential(2) : v.toFixed(3)));
}

let announced = '';
const STATE_WORDS: Record<RunState, string> = { idle: 'Idle', preparing: 'Preparing', running: 'Training', paused: 'Paused', stopped: 'Stopped', failed: 'Training failed' };

function renderState(): void {
  const st = s.runState;
  ui.runState.textContent = s.stateDetail ? `${st}: ${s.stateDetail}` : st;
  ui.runState.dataset.state = st;
  // Screen readers hear state changes, not every step.
  const line = st === 'idle' ? '' : `${STATE_WORDS[st]}${s.stateDetail ? ` (${s.stateDetail})` : ''}${s.step ? `, step ${s.step}` : ''}.`;
  if (line !== announced) {
    announced = line;
    ui.liveStatus.textContent = line;
  }
  const busy = st === 'preparing';
  const hasModel = !!s.model && st !== 'idle';
  ui.start.disabled = busy || s.adapterStatus !== 'ready';
  ui.start.title = s.adapterStatus === 'ready' ? '' : s.adapterStatus === 'looking' ? 'waiting for a WebGPU adapter' : 'this browser offers no WebGPU adapter';
  ui.start.textContent = hasModel ? 'Restart' : 'Start';
  ui.pause.disabled = st !== 'running';
  ui.resume.disabled = !(hasModel && (st === 'paused' || st === 'stopped'));
  ui.reset.disabled = busy || st === 'idle';
  ui.download.disabled = !hasModel || st === 'failed';
  ui.loadButton.disabled = s.adapterStatus !== 'ready';
  ui.profile.disabled = !hasModel || st === 'failed' || busy;
  ui.probe.disabled = !hasModel || st === 'failed' || busy;
  renderStats();
}

/** One line: "defaults", or the ops whose variant is not the default (from the tuning cache). */
function variantsText(v: Record<string, { id: string; source: string; isDefault: boolean }>): string {
  const odd = Object.entries(v).filter(([, c]) => !c.isDefault);
  const sources = [...new Set(Object.values(v).map((c) => c.source))].join('/');
  return odd.length ? `${odd.map(([op, c]) => `${op} ${c.id}`).join(', ')}; others default (${sources})` : `defaults (${sources})`;
}

function renderModel(): void {
  const m = s.model;
  if (!m) {
    ui.modelInfo.replaceChildren(el('dt', {}, 'status'), el('dd', {}, 'no model yet'));
    ui.memory.textContent = '–';
    return;
  }
  const c = m.config;
  const rows: [string, string][] = [
    ['preset', m.preset],
    ['encoder', `${c.kernels.length} conv, C = ${c.channels}${c.norm ? ', channel norm' : ''}`],
    ['GRU', `H = ${c.hidden}`],
    ['predictions', `K = ${c.predictionSteps}, negatives: ${c.negatives.kind}${c.negatives.kind === 'sampled' ? ` (${c.negatives.n})` : ''}`],
    ['batch', `B = ${c.batchSize} × L = ${c.window} samples (${(c.window / 16000).toFixed(2)} s) → T = ${m.frames} frames`],
    ['parameters', m.paramCount.toLocaleString('en-US')],
    ['optimizer', `Adam lr ${c.optimizer.lr}, warmup ${c.optimizer.warmupSteps}, clip ${c.optimizer.maxGradNorm ?? 'off'}`],
    ['seed', String(c.seed)],
    ['data', `${m.dataName} (${m.trainUtterances} train utterances)`],
    ['kernel variants', variantsText(m.variants)],
  ];
  ui.modelInfo.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  const ratio = m.noReuseBytes > 0 ? m.plannedPeakBytes / m.noReuseBytes : 1;
  const bar = el('div', { className: 'membar' }, el('div'));
  (bar.firstChild as HTMLElement).style.width = `${Math.min(100, ratio * 100).toFixed(1)}%`;
  ui.memory.replaceChildren(
    el('div', { id: 'memory-planned', textContent: `arena peak ${mib(m.plannedPeakBytes)} vs ${mib(m.noReuseBytes)} with no reuse (${pct(1 - ratio)} saved)` }),
    bar,
    el('div', { className: 'muted', textContent: `persistent (params, grads, Adam moments, inputs) ${mib(m.persistentBytes)} + activations arena ${mib(m.transientBytes)}` }),
  );
  ui.memory.dataset.planned = String(m.plannedPeakBytes);
  ui.memory.dataset.noReuse = String(m.noReuseBytes);
}

function renderProfile(): void {
  const p = s.profile;
  if (!p) {
    const every = intField(ui.profileEvery, 0, 0);
    ui.profileTable.textContent = every > 0
      ? `Measured after the first training step, then every ${every} steps (“Profile every”), or now with “Profile a step”.`
      : 'Measured with “Profile a step” (automatic profiling is off: “Profile every” is 0).';
    return;
  }
  const sorted = [...p.ops].sort((a, b) => b.ms - a.ms);
  const max = sorted[0]?.ms ?? 1;
  const table = el('table', { id: 'profile-ops' },
    el('thead', {}, el('tr', {}, el('th', {}, 'kernel'), el('th', { className: 'num' }, 'ms'), el('th', { className: 'num' }, 'share'), el('th'))));
  const body = el('tbody');
  for (const op of sorted) {
    const bar = el('div', { className: 'bar' });
    bar.style.width = `${((op.ms / max) * 100).toFixed(1)}%`;
    const barCell = el('td', {}, bar);
    barCell.style.width = '30%';
    body.append(el('tr', {}, el('td', {}, op.name), el('td', { className: 'num' }, op.ms.toFixed(3)),
      el('td', { className: 'num' }, p.totalMs > 0 ? pct(op.ms / p.totalMs) : '–'), barCell));
  }
  table.append(body);
  ui.profileTable.replaceChildren(
    el('div', { className: 'muted' }, `step ${p.step}: ${p.totalMs.toFixed(1)} ms in ${p.ops.length} kernels, ${p.source === 'timestamp-query' ? 'GPU timestamps' : 'wall clock per kernel (no timestamp-query; includes submit overhead)'}`),
    table,
  );
}

function renderProbe(): void {
  const p = s.probe;
  if (!p) {
    ui.probeTable.textContent = 'Trains linear classifiers on frozen features of this model and of a randomly initialised one.';
    return;
  }
  // The interval on its own line keeps the table narrow enough for a phone (420 px) with 3 models.
  const fmt = (c: ProbeCell): (Node | string)[] => (c.acc === null ? ['–'] : c.ci
    ? [pct(c.acc), el('br'), el('span', { className: 'muted' }, `[${pct(c.ci[0])}, ${pct(c.ci[1])}]`)] : [pct(c.acc)]);
  const table = el('table', { id: 'probe-results' },
    el('caption', { className: 'sr-only' }, 'Linear-probe test accuracy per task and feature set'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'task'), ...p.columns.map((c) => el('th', { className: 'num', scope: 'col' }, c)))));
  const body = el('tbody');
  for (const r of p.rows) body.append(el('tr', {}, el('th', { scope: 'row' }, r.task), ...r.cells.map((c) => el('td', { className: 'num' }, ...fmt(c)))));
  table.append(body);
  const intervals = p.rows.some((r) => r.cells.some((c) => c.ci));
  // Scrolls sideways rather than widening the page if it still does not fit; focusable and named,
  // so a keyboard user can scroll it (axe: scrollable-region-focusable).
  const scroller = el('div', { className: 'table-scroll', tabIndex: 0, role: 'region', ariaLabel: 'linear-probe results' }, table);
  ui.probeTable.replaceChildren(scroller, el('div', { className: 'muted' }, `${p.note ? `${p.note}. ` : ''}${p.seconds.toFixed(1)} s, held-out split${intervals ? '; [95 % interval]' : ''}`));
}

function note(message: string): void {
  s.notices.push(message);
  ui.notices.hidden = false;
  ui.notices.append(el('div', {}, message));
  ui.notices.scrollTop = ui.notices.scrollHeight;
}

// ------------------------------------------------------------------------------------------ errors

const ERROR_TITLES: Record<ErrorKind, string> = {
  'no-webgpu': 'WebGPU is not available',
  limits: 'This GPU’s limits are too small for this config',
  'device-lost': 'The GPU device was lost',
  'non-finite': 'The loss became NaN / infinite',
  config: 'Invalid config',
  data: 'The dataset could not be built',
  checkpoint: 'Checkpoint refused',
  probe: 'Probe run failed',
  internal: 'Something went wrong',
};

function errorHelp(e: ErrorReport): (Node | string)[] {
  switch (e.kind) {
    case 'no-webgpu':
      return noWebGpuHelp();
    case 'limits': {
      const l = e.limit;
      return [
        l ? el('p', {}, `The config needs ${l.name} = ${l.requested.toLocaleString('en-US')} but this adapter allows ${l.allowed.toLocaleString('en-US')}.`) : '',
        el('p', {}, 'Choose a smaller preset, or lower batchSize, window or channels in the config JSON.'),
      ];
    }
    case 'device-lost':
      return [el('p', {}, lastCheckpoint
        ? `The browser took the GPU away (driver reset, another tab, or a long dispatch). The last checkpoint kept in memory is at step ${s.lastCheckpointStep}.`
        : 'The browser took the GPU away (driver reset, another tab, or a long dispatch). No checkpoint was kept yet; restart training.')];
    case 'non-finite':
      return [el('p', {}, 'The update of that step was skipped and training paused. Possible causes: input samples far outside [-1, 1] (check the audio’s amplitude), a learning rate too high for this model (optimizer.lr), exploding gradients (optimizer.maxGradNorm). Reload the last checkpoint to continue.')];
    case 'checkpoint':
      return [el('p', {}, 'The current model was left unchanged.')];
    case 'config':
      return [el('p', {}, 'Fix the field named above in the config JSON.')];
    default:
      return [];
  }
}

/** The page is served from this machine: then its owner is the reader, and machine set-up hints make sense. */
function isLocalPage(): boolean {
  return ['localhost', '127.0.0.1', '[::1]', '::1'].includes(location.hostname) || location.hostname.endsWith('.localhost');
}

function noWebGpuHelp(): (Node | string)[] {
  const out: (Node | string)[] = [
    el('p', {}, 'This demo trains a neural network on your GPU through WebGPU, which this browser does not offer (or it found no usable GPU), so training cannot start here. What usually helps:'),
    el('ul', {},
      el('li', {}, 'Chrome or Edge 113 or newer on Windows, macOS or ChromeOS: WebGPU is on by default. Safari 26 (macOS / iOS 26) and Firefox 141+ on Windows have it too.'),
      el('li', {}, 'Chrome on Linux or Android, and older Safari or Firefox: WebGPU may be behind a setting — in Chrome open chrome://flags and enable “Unsafe WebGPU Support”; in Safari use Develop → Feature Flags → WebGPU; in Firefox set dom.webgpu.enabled in about:config. Then reload.'),
      el('li', {}, 'chrome://gpu (or edge://gpu) says whether WebGPU is hardware accelerated. A blocklisted GPU driver, remote desktop or some private windows turn it off.'),
      el('li', {}, 'A software adapter (SwiftShader, lavapipe) emulates the GPU on the CPU: WebGPU then works, but slowly — fine for the tiny preset. Browsers use one only when told to, e.g. when no GPU driver is available.')),
  ];
  if (isLocalPage()) {
    out.push(el('details', { className: 'machine-hints' },
      el('summary', {}, 'Setting up this machine (the page is served from localhost)'),
      el('ul', {},
        el('li', {}, 'Start Chromium with --enable-unsafe-webgpu --enable-features=Vulkan (Linux), or enable #enable-unsafe-webgpu and #enable-vulkan in chrome://flags.'),
        el('li', {}, 'Linux needs a Vulkan driver: your GPU vendor’s, or Mesa’s lavapipe on a machine without a GPU — Debian 12: apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1 (with bookworm-backports in the apt sources), or run scripts/install-system-deps.sh from this repository.'),
        el('li', {}, 'Headless or GPU-blocklisted setups: add --ignore-gpu-blocklist.'))));
  }
  return out;
}

/** What the worker said, minus machine set-up advice written for a terminal (it names apt-get) unless this is the owner's machine. */
function errorText(e: ErrorReport): string {
  if (e.kind === 'no-webgpu' && !isLocalPage()) return `${e.name}: no WebGPU adapter is available in this browser.`;
  return `${e.name}: ${e.message}`;
}

function noAdapter(): void {
  s.adapterStatus = 'none';
  ui.adapter.textContent = s.webgpu ? 'This browser has WebGPU but offered no GPU adapter: training cannot start.' : 'This browser has no WebGPU: training cannot start.';
  renderState();
}

function errorActions(e: ErrorReport): HTMLButtonElement[] {
  const out: HTMLButtonElement[] = [];
  if ((e.kind === 'device-lost' || e.kind === 'non-finite') && lastCheckpoint) {
    const b = el('button', { className: 'primary', textContent: `Resume from last checkpoint (step ${s.lastCheckpointStep})` });
    b.dataset.action = 'resume-checkpoint';
    b.onclick = () => resumeFromLastCheckpoint();
    out.push(b);
  }
  if (e.kind === 'non-finite') {
    const b = el('button', { textContent: 'Continue anyway' });
    b.onclick = () => { clearErrors(['non-finite']); send({ type: 'resume' }); };
    out.push(b);
  }
  const d = el('button', { textContent: 'Dismiss' });
  d.onclick = () => clearErrors([e.kind]);
  out.push(d);
  return out;
}

function showError(e: ErrorReport): void {
  // One panel per kind: the latest report replaces an earlier one (a device loss is seen both by the
  // device's lost promise and by the step that failed).
  s.errors = s.errors.filter((x) => x.kind !== e.kind);
  s.errors.push(e);
  renderErrors();
}

function clearErrors(kinds: ErrorKind[]): void {
  s.errors = s.errors.filter((e) => !kinds.includes(e.kind));
  renderErrors();
}

function renderErrors(): void {
  ui.errors.hidden = s.errors.length === 0;
  ui.errors.replaceChildren(...s.errors.map((e) => {
    const box = el('div', { className: 'error' },
      el('h3', {}, ERROR_TITLES[e.kind] + (e.step ? ` (step ${e.step})` : '')),
      el('pre', {}, errorText(e)),
      ...errorHelp(e),
      el('div', { className: 'actions' }, ...errorActions(e)));
    box.dataset.kind = e.kind;
    return box;
  }));
}

function resumeFromLastCheckpoint(): void {
  if (!lastCheckpoint) return;
  resumeAfterLoad = true;
  // Copy: the bytes stay here for a later loss.
  const bytes = lastCheckpoint.slice();
  send({ type: 'loadCheckpoint', id: ++requestId, name: `in-memory checkpoint (step ${s.lastCheckpointStep})`, bytes, settings: settings(), fallbackConfig: null }, [bytes.buffer]);
}

// ------------------------------------------------------------------------------------------ config

function presetJson(p: PresetName): string {
  return JSON.stringify(PRESETS[p], null, 2);
}

function readConfig(): CpcTrainConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(ui.config.value);
  } catch (e) {
    throw Object.assign(new Error(`config: not valid JSON: ${(e as Error).message}`), { name: 'ConfigError' });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw Object.assign(new Error('config: must be a JSON object'), { name: 'ConfigError' });
  const { preset, ...overrides } = raw as { preset?: PresetName } & ConfigOverrides;
  return resolveConfig(preset ?? s.preset, overrides);
}

function validateConfigText(): CpcTrainConfig | null {
  try {
    const cfg = readConfig();
    ui.configError.hidden = true;
    ui.config.classList.remove('invalid');
    ui.config.removeAttribute('aria-invalid');
    // Before a model exists the charts show the chance level and the k curves of the config about to run.
    if (!s.model) {
      setChance(cfg);
      if (s.metrics.length === 0) accChart.clear(cfg.predictionSteps);
    }
    return cfg;
  } catch (e) {
    ui.configError.hidden = false;
    ui.configError.textContent = (e as Error).message;
    ui.config.classList.add('invalid');
    ui.config.setAttribute('aria-invalid', 'true');
    return null;
  }
}

function intField(input: HTMLInputElement, min: number, fallback: number): number {
  const v = Number(input.value);
  return Number.isInteger(v) && v >= min ? v : fallback;
}

function settings(): RunSettings {
  return {
    metricsEvery: intField(ui.metricsEvery, 1, 1),
    profileEvery: intField(ui.profileEvery, 0, 0),
    checkpointEverySeconds: 30,
    maxSteps: intField(ui.maxSteps, 0, 0),
  };
}

// ------------------------------------------------------------------------------------------ audio

async function addFiles(list: FileList | File[]): Promise<void> {
  const files = [...list];
  const csv = files.find((f) => f.name.toLowerCase() === 'labels.csv') ?? files.find((f) => f.name.toLowerCase().endsWith('.csv'));
  let labels = new Map<string, string>();
  if (csv) {
    try {
      labels = parseSpeakerLabels(await csv.text(), csv.name);
    } catch (e) {
      showError({ kind: 'data', name: (e as Error).name, message: (e as Error).message });
      return;
    }
  }
  const audio = files.filter((f) => !f.name.toLowerCase().endsWith('.csv'));
  if (audio.length === 0) return;
  ui.dataSummary.textContent = `decoding ${audio.length} file(s)…`;
  const clips: AudioClip[] = [];
  for (const f of audio) {
    try {
      clips.push(await decodeAudioFile(f, labels.get(f.name) ?? speakerFromFilename(f.name)));
    } catch (e) {
      note(`${f.name}: could not decode (${(e as Error).message || (e as Error).name}); skipped`);
    }
  }
  const known = new Set(audioClips.map((c) => c.name));
  audioClips = [...audioClips, ...clips.filter((c) => !known.has(c.name))];
  if (audioClips.length === 0) {
    ui.dataSummary.textContent = '';
    showError({ kind: 'data', name: 'DatasetError', message: 'none of the dropped files could be decoded as audio' });
    return;
  }
  const seconds = audioClips.reduce((t, c) => t + c.samples.length / c.sampleRate, 0);
  const speakers = new Set(audioClips.map((c) => c.speaker)).size;
  ui.dataSummary.textContent = `${audioClips.length} files, ${speakers} speaker(s), ${(seconds / 60).toFixed(1)} min of audio`;
  ui.dataAudio.disabled = false;
  ui.dataAudio.checked = true;
  selectData('audio');
}

function selectData(kind: 'synthetic' | 'audio'): void {
  s.data = { kind, files: audioClips.length };
  // Structured clone (a copy): the page keeps the clips so the user can switch back and forth.
  send({ type: 'setData', data: kind === 'synthetic' ? { kind } : { kind, clips: audioClips } });
}

// ------------------------------------------------------------------------------------------ actions

function saveBlob(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  s.downloads.push({ name, bytes: bytes.byteLength });
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function start(): void {
  const config = validateConfigText();
  if (!config) return;
  clearErrors(['config', 'non-finite', 'device-lost', 'limits', 'data', 'internal']);
  s.metrics = [];
  s.stepsPerSec = s.samplesPerSec = s.audioSecondsPerSec = null;
  s.step = 0;
  s.lastCheckpointStep = null;
  lastCheckpoint = null;
  lossChart.clear();
  accChart.clear(config.predictionSteps);
  setChance(config);
  renderChartNote();
  send({ type: 'start', preset: s.preset, config, settings: settings() });
}

function wire(): void {
  ui.preset.value = s.preset;
  ui.config.value = presetJson(s.preset);
  ui.preset.onchange = () => {
    s.preset = ui.preset.value as PresetName;
    ui.config.value = presetJson(s.preset);
    validateConfigText();
  };
  ui.config.oninput = () => { validateConfigText(); };
  ui.profileEvery.oninput = () => { if (!s.profile) renderProfile(); };
  ui.start.onclick = start;
  ui.pause.onclick = () => send({ type: 'pause' });
  ui.resume.onclick = () => { clearErrors(['non-finite']); send({ type: 'resume' }); };
  ui.reset.onclick = () => {
    send({ type: 'reset' });
    s.model = null;
    s.metrics = [];
    s.stepsPerSec = s.samplesPerSec = s.audioSecondsPerSec = null;
    s.profile = null;
    s.probe = null;
    lastCheckpoint = null;
    s.lastCheckpointStep = null;
    lossChart.clear();
    accChart.clear(1);
    clearErrors(['non-finite', 'device-lost', 'internal']);
    validateConfigText();
    renderChartNote();
    renderModel();
    renderProfile();
    renderProbe();
  };
  ui.download.onclick = () => {
    ui.download.disabled = true;
    send({ type: 'checkpoint', id: ++requestId });
  };
  ui.load.onchange = async () => {
    const f = ui.load.files?.[0];
    ui.load.value = '';
    if (!f) return;
    const bytes = new Uint8Array(await f.arrayBuffer());
    clearErrors(['checkpoint']);
    send({ type: 'loadCheckpoint', id: ++requestId, name: f.name, bytes, settings: settings(), fallbackConfig: validateConfigText() }, [bytes.buffer]);
  };
  ui.profile.onclick = () => send({ type: 'profile' });
  ui.probe.onclick = () => {
    ui.probe.disabled = true;
    s.probe = null;
    ui.probeTable.textContent = 'running the probes (features of both splits, trained and random-init model)…';
    send({ type: 'probe', id: ++requestId });
  };
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="data"]')) {
    r.onchange = () => { if (r.checked) selectData(r.value as 'synthetic' | 'audio'); };
  }
  ui.files.onchange = () => { if (ui.files.files) void addFiles(ui.files.files); ui.files.value = ''; };
  // The file inputs stay hidden; buttons open their pickers (a native button does Enter and Space:
  // a key handler on a div opening the picker from keydown missed ~1 in 3 Spaces in Chromium).
  ui.loadButton.onclick = () => ui.load.click();
  ui.dropzone.onclick = () => ui.files.click();
  // Dropping anywhere on the page adds files (and never navigates away from a training run).
  window.addEventListener('dragover', (ev) => { ev.preventDefault(); ui.dropzone.classList.add('over'); });
  window.addEventListener('dragleave', () => ui.dropzone.classList.remove('over'));
  window.addEventListener('drop', (ev) => {
    ev.preventDefault();
    ui.dropzone.classList.remove('over');
    if (ev.dataTransfer?.files.length) void addFiles(ev.dataTransfer.files);
  });
}

wire();
validateConfigText();
renderProfile();
renderState();
window.__cpcDemo = {
  state: () => structuredClone(s),
  loseDevice: () => send({ type: 'debugLoseDevice' }),
  charts: () => ({ loss: lossChart.report(), acc: accChart.report() }),
};
if (!s.webgpu) {
  showError({ kind: 'no-webgpu', name: 'NoAdapterError', message: 'navigator.gpu is undefined: this browser (or its current settings) does not expose WebGPU.' });
  noAdapter();
} else {
  send({ type: 'init' });
}
// Preset names are listed in the select; keep them in sync with src/cpc/config.ts.
if (PRESET_NAMES.some((p) => !ui.preset.querySelector(`option[value="${p}"]`))) note('demo: a preset of src/cpc/config.ts is missing from the preset list');
