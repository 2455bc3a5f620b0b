// The bench page's worker: acquires the WebGPU device, runs the selected suites of
// bench/suitesBrowser.ts through bench/run.ts (the CLI's own loop, so the report has the CLI's
// format), and streams progress and rows to the page.
import { runBench } from '../bench/run.ts';
import { BROWSER_SUITES } from '../bench/suitesBrowser.ts';
import type { BenchSuite } from '../bench/types.ts';
import { acquireDevice, type GpuContext } from '../src/runtime/device.ts';
import type { BenchToPage, PageToBench } from './benchProtocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: BenchToPage) => scope.postMessage(m);
let ctx: GpuContext | null = null;

function fail(e: unknown, fallback: 'no-webgpu' | 'internal' = 'internal'): void {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ type: 'error', kind: err.name === 'NoAdapterError' ? 'no-webgpu' : fallback, name: err.name, message: err.message });
}

async function device(): Promise<GpuContext> {
  if (ctx) return ctx;
  const c = await acquireDevice({ label: 'cpc-bench' });
  void c.device.lost.then((info) => {
    if (ctx !== c) return;
    ctx = null;
    // destroy() from dispose() also resolves `lost`; only an unexpected loss is reported.
    if (info.reason !== 'destroyed') post({ type: 'error', kind: 'device-lost', name: 'DeviceLostError', message: `the GPU device was lost (${info.reason}): ${info.message || 'no message'}; Run again to get a new one` });
  });
  ctx = c;
  return c;
}

async function run(req: Extract<PageToBench, { type: 'run' }>): Promise<void> {
  const unknown = req.suites.filter((s) => !BROWSER_SUITES[s]);
  if (unknown.length) throw new Error(`bench page: unknown suite(s) ${unknown.join(', ')} (known: ${Object.keys(BROWSER_SUITES).join(', ')})`);
  const suites = new Map<string, BenchSuite>();
  for (const n of req.suites) suites.set(n, await BROWSER_SUITES[n]!());
  const c = await device();
  const report = await runBench(c, suites, {
    quick: req.quick, paper: req.paper,
    log: (msg) => post({ type: 'log', msg }),
    onSuiteStart: (suite, index, total) => post({ type: 'suite-start', suite, index, total }),
    onPeak: (peak) => post({ type: 'peak', peak }),
    onSuite: (suite, rows) => post({ type: 'rows', suite, rows }),
  });
  post({ type: 'done', report });
}

scope.onmessage = (ev: MessageEvent<PageToBench>) => {
  const m = ev.data;
  if (m.type === 'init') {
    device().then((c) => {
      const { vendor, architecture, description } = c.adapter;
      post({ type: 'ready', adapter: { vendor, architecture, description }, features: [...c.features], suites: Object.keys(BROWSER_SUITES) });
    }, (e) => fail(e, 'no-webgpu'));
  } else if (m.type === 'run') {
    run(m).catch((e) => fail(e));
  }
};
