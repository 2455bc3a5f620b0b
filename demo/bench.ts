// The bench page (bench.html): runs the suites of `cpc-webgpu bench` (bench/suitesBrowser.ts) on the
// visitor's GPU in a worker, shows each row as its suite finishes, and downloads the report in the
// CLI's `--json` format (DESIGN.md §8), so a browser run and a Node run compare key for key.
import type { BenchReport } from '../bench/run.ts';
import type { BenchResult, Peak } from '../bench/types.ts';
import type { BenchToPage, PageToBench } from './benchProtocol.ts';

/** What the page shows, for tests (window.__cpcBench.state()). */
export interface BenchSnapshot {
  status: 'looking' | 'ready' | 'running' | 'done' | 'failed' | 'no-webgpu';
  adapter: BenchReport['adapter'] | null;
  peak: Peak | null;
  rows: BenchResult[];
  report: BenchReport | null;
  errors: { kind: string; name: string; message: string }[];
  log: string[];
}

declare global {
  interface Window { __cpcBench?: { state(): BenchSnapshot } }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  adapter: $('adapter'), errors: $('errors'), run: $<HTMLButtonElement>('run'), download: $<HTMLButtonElement>('download'),
  quick: $<HTMLInputElement>('mode-quick'), full: $<HTMLInputElement>('mode-full'), paper: $<HTMLInputElement>('paper'),
  progress: $<HTMLProgressElement>('progress'), status: $('status'), log: $('log'), peak: $('peak'),
  body: document.querySelector('#results tbody') as HTMLTableSectionElement,
  suiteBoxes: [...document.querySelectorAll<HTMLInputElement>('input[name="suite"]')],
};

const s: BenchSnapshot = { status: 'looking', adapter: null, peak: null, rows: [], report: null, errors: [], log: [] };
const webgpu = typeof navigator !== 'undefined' && 'gpu' in navigator && !!navigator.gpu;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function render(): void {
  const busy = s.status === 'running';
  const usable = s.status !== 'looking' && s.status !== 'no-webgpu';
  ui.run.disabled = busy || !usable || !ui.suiteBoxes.some((b) => b.checked);
  ui.download.disabled = busy || !s.report;
  for (const b of ui.suiteBoxes) b.disabled = busy;
  ui.quick.disabled = busy; ui.full.disabled = busy;
  // The CLI's rule: paper-size shapes only in full runs (`--quick` implies no paper).
  ui.paper.disabled = busy || ui.quick.checked;
  ui.run.textContent = busy ? 'Running…' : 'Run';
}

const ERROR_TITLES: Record<string, string> = {
  'no-webgpu': 'WebGPU is not available',
  'device-lost': 'The GPU device was lost',
  internal: 'The benchmark failed',
};

function showError(kind: string, name: string, message: string): void {
  s.errors.push({ kind, name, message });
  // One panel per kind; a newer report of the same kind replaces the older (read once by screen readers).
  ui.errors.querySelector(`.error[data-kind="${kind}"]`)?.remove();
  const panel = el('div', { className: 'error' }, el('h3', {}, ERROR_TITLES[kind] ?? 'Error'), el('p', {}, `${name}: ${message}`));
  panel.dataset.kind = kind;
  if (kind === 'no-webgpu') {
    panel.append(el('p', {}, 'These benchmarks time GPU kernels through WebGPU, which this browser does not offer here. Chrome or Edge 113+ (Windows, macOS, ChromeOS), Safari 26 and Firefox 141+ on Windows have it; elsewhere it may be behind a setting (chrome://flags → “Unsafe WebGPU Support”). chrome://gpu says whether it is hardware accelerated.'));
  }
  ui.errors.append(panel);
  ui.errors.hidden = false;
}

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '';
  return x >= 1000 ? Math.round(x).toLocaleString('en-US') : String(Number(x.toPrecision(digits + 1)));
}

/** The tuner's choice for a row (the `variant` field), whatever its form: a name or a knob object. */
function variantText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${String(x)}`).join(' ');
  return String(v);
}

function addRows(suite: string, rows: BenchResult[]): void {
  const head = el('tr', { className: 'suite' }, el('th', { scope: 'rowgroup', colSpan: 10 }, `${suite} (${rows.length} rows)`));
  ui.body.append(head);
  for (const r of rows) {
    const num = (text: string) => el('td', { className: 'num' }, text);
    const tr = el('tr', {},
      el('th', { scope: 'row' }, r.name),
      el('td', { className: 'shape' }, Object.entries(r.shape).map(([k, v]) => `${k}=${v}`).join(' ')),
      num(fmt(r.ms, 4)), num(fmt(r.gflops)), num(fmt(r.gbps)), num(r.pct_of_peak === null ? '' : `${fmt(r.pct_of_peak)} %`),
      el('td', {}, r.baseline ?? ''), num(fmt(r.baseline_ms, 4)), num(r.speedup === null ? '' : `${fmt(r.speedup)}×`),
      el('td', {}, variantText(r.variant)));
    tr.dataset.name = r.name;
    ui.body.append(tr);
  }
}

const worker = new Worker(new URL('./benchWorker.ts', import.meta.url), { type: 'module', name: 'cpc-bench' });
const send = (m: PageToBench) => worker.postMessage(m);
worker.onerror = (ev) => {
  s.status = 'failed';
  showError('internal', 'WorkerError', `the benchmark worker failed to start or crashed: ${ev.message || 'no message'}`);
  render();
};

worker.onmessage = (ev: MessageEvent<BenchToPage>) => {
  const m = ev.data;
  switch (m.type) {
    case 'ready': {
      s.status = 'ready';
      s.adapter = m.adapter;
      const name = m.adapter.description || [m.adapter.vendor, m.adapter.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
      ui.adapter.textContent = `Adapter: ${name} (vendor ${m.adapter.vendor || '?'}); features: ${m.features.join(', ') || 'none'}`;
      const missing = ui.suiteBoxes.map((b) => b.value).filter((v) => !m.suites.includes(v));
      if (missing.length) showError('internal', 'BenchPageError', `the page lists suites the worker does not know: ${missing.join(', ')}`);
      break;
    }
    case 'log':
      s.log.push(m.msg);
      ui.log.textContent += `${m.msg}\n`;
      break;
    case 'peak':
      s.peak = m.peak;
      ui.peak.textContent = `Peak measured in this run: ${m.peak.fma_gflops} GFLOP/s FMA, ${m.peak.copy_gbps} GB/s copy (the “% of peak” column divides by these).`;
      break;
    case 'suite-start':
      ui.progress.max = m.total;
      ui.progress.value = m.index;
      setStatus(`Running ${m.suite} (suite ${m.index + 1} of ${m.total})…`);
      break;
    case 'rows':
      s.rows.push(...m.rows);
      addRows(m.suite, m.rows);
      ui.progress.value = Number(ui.progress.value) + 1;
      break;
    case 'done':
      s.status = 'done';
      s.report = m.report;
      ui.progress.value = ui.progress.max;
      setStatus(`Done: ${m.report.results.length} rows. “Download JSON” saves them in the format of cpc-webgpu bench --json.`);
      break;
    case 'error':
      if (m.kind === 'no-webgpu') {
        s.status = 'no-webgpu';
        ui.adapter.textContent = 'This browser has WebGPU but offered no usable GPU adapter: the benchmarks cannot run.';
      } else {
        s.status = 'failed';
        setStatus('Failed; see the error above.');
      }
      showError(m.kind, m.name, m.message);
      break;
  }
  render();
};

ui.run.onclick = () => {
  const suites = ui.suiteBoxes.filter((b) => b.checked).map((b) => b.value);
  if (!suites.length) return;
  s.status = 'running';
  s.rows = []; s.report = null; s.peak = null; s.log = [];
  ui.body.replaceChildren();
  ui.log.textContent = '';
  ui.peak.textContent = 'Peak: measuring…';
  ui.progress.max = suites.length; ui.progress.value = 0;
  setStatus('Measuring the peak…');
  const quick = ui.quick.checked;
  send({ type: 'run', suites, quick, paper: !quick && ui.paper.checked });
  render();
};

ui.download.onclick = () => {
  if (!s.report) return;
  // Exactly what `cpc-webgpu bench --json` prints: one object and a newline.
  const blob = new Blob([`${JSON.stringify(s.report)}\n`], { type: 'application/json' });
  const a = el('a', { href: URL.createObjectURL(blob), download: `cpc-webgpu-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
};

for (const input of [...ui.suiteBoxes, ui.quick, ui.full]) input.addEventListener('change', render);

window.__cpcBench = { state: () => structuredClone(s) };
if (!webgpu) {
  s.status = 'no-webgpu';
  ui.adapter.textContent = 'This browser has no WebGPU: the benchmarks cannot run.';
  showError('no-webgpu', 'NoAdapterError', 'navigator.gpu is undefined: this browser (or its current settings) does not expose WebGPU.');
} else {
  send({ type: 'init' });
}
render();
