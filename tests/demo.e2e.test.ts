// The browser demo end to end: build demo/ with its vite config, serve the static site on localhost
// with `vite preview`, open it in Debian's headless Chromium (WebGPU on SwiftShader, DESIGN.md §6),
// and drive it like a user: pick the tiny preset, train, watch the numbers, profile, download a
// checkpoint, refuse a corrupt one, survive a device loss, run the probes. Then the same preset and
// seed in Node on SwiftShader must give the browser's first losses. Along the way it checks what a
// visitor sees (screenshots in test-output/demo/: start, training, paused, no WebGPU, 420 px wide):
// chart axes before any data, the chance line, distinct tick labels, legends with values, the kernel
// profile after the first step, no machine set-up commands for a visitor from another origin, and
// with axe-core no serious or critical accessibility violation in each state, and the keyboard path.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, FileChooser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PRESETS } from '../src/cpc/config.ts';
import { encodeSafetensors, parseSafetensors, type SafeTensor } from '../src/cpc/safetensors.ts';
import type { DemoSnapshot } from '../demo/main.ts';
import type { MetricsRow } from '../demo/protocol.ts';
import { axeSeriousViolations } from './helpers/axe.ts';
import { launchChromium, type LaunchedBrowser } from './helpers/chromium.ts';
import { buildAndServe, type ServedSite } from './helpers/staticSite.ts';
import { makeWav, sine } from './helpers/wavData.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const OUT = `${repo}test-output/demo`;
/** Steps trained in the browser: tiny's lr warms up over 20 steps, and by step ~30 its loss has clearly left ln(B). */
const STEPS = 40;
/** A host name that is not localhost, mapped to the loopback server by Chromium's resolver. */
const REMOTE_HOST = 'demo.test';

let site: ServedSite;
let chrome: LaunchedBrowser;
let page: Page;
const consoleErrors: string[] = [];
/** The browser's logged metrics, for the Node identity check. */
let browserRows: MetricsRow[] = [];

const state = (): Promise<DemoSnapshot> => page.evaluate(() => window.__cpcDemo!.state());
/** Polls a predicate on the page's state; `fn` is serialised, so it may only use `arg`, not closures. */
const waitFor = <A = undefined>(fn: (s: DemoSnapshot, arg: A) => boolean, timeout: number, arg?: A) =>
  page.waitForFunction(`(${fn.toString()})(window.__cpcDemo.state(), ${JSON.stringify(arg ?? null)})`, null, { timeout, polling: 100 });
const charts = (p: Page = page) => p.evaluate(() => window.__cpcDemo!.charts());

/** Axe on the page in a named state; the message lists what failed. */
async function expectAccessible(p: Page, where: string): Promise<void> {
  const v = await axeSeriousViolations(p);
  expect(v, `accessibility (${where}):\n${v.join('\n')}`).toEqual([]);
}

/** Both charts show labelled axes with distinct tick labels, and the dashed chance line is drawn. */
async function expectReadableCharts(p: Page, where: string): Promise<void> {
  const c = await charts(p);
  for (const chart of [c.loss, c.acc]) {
    const what = `${chart.title} (${where})`;
    expect(chart.xTicks.length, `${what}: x ticks`).toBeGreaterThanOrEqual(2);
    expect(chart.yTicks.length, `${what}: y ticks`).toBeGreaterThanOrEqual(2);
    expect(new Set(chart.yTicks).size, `${what}: y tick labels ${chart.yTicks.join(', ')}`).toBe(chart.yTicks.length);
    expect(new Set(chart.xTicks).size, `${what}: x tick labels ${chart.xTicks.join(', ')}`).toBe(chart.xTicks.length);
    expect(chart.chance, `${what}: chance level`).not.toBeNull();
    // Dashes cover ~55 % of the line (6 px on, 5 px off); curves crossing it cover a little more.
    expect(chart.chanceInk, `${what}: chance line ink`).toBeGreaterThan(0.3);
  }
  expect(c.loss.chance).toBeCloseTo(Math.log(PRESETS.tiny.batchSize), 12);
  expect(c.acc.chance).toBe(1 / PRESETS.tiny.batchSize);
}

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  site = await buildAndServe(`${repo}demo`, { configFile: `${repo}demo/vite.config.ts`, allowedHosts: [REMOTE_HOST] });
  chrome = await launchChromium();
  page = await chrome.browser.newPage({ viewport: { width: 1360, height: 1000 }, acceptDownloads: true });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`page: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`page exception: ${String(e)}`));
  page.on('worker', (w) => w.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`worker: ${m.text()}`); }));
}, 120_000);

afterAll(async () => {
  await chrome?.close();
  await site?.close();
});

/** A page of `browser` without WebGPU (navigator.gpu absent), opened at `url`. */
async function pageWithoutWebGpu(browser: Browser, url: string, width = 1360): Promise<{ p: Page; errors: string[] }> {
  const p = await browser.newPage({ viewport: { width, height: 1000 } });
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }); });
  await p.goto(url);
  await p.locator('.error[data-kind="no-webgpu"]').waitFor({ timeout: 30_000 });
  return { p, errors };
}

it('explains a missing WebGPU to a visitor; machine set-up hints only on localhost', async () => {
  // A visitor: the page served under a host name that is not localhost (it is still this server).
  const remote = await launchChromium({ extraArgs: [`--host-resolver-rules=MAP ${REMOTE_HOST} 127.0.0.1`] });
  try {
    const url = site.url.replace('127.0.0.1', REMOTE_HOST);
    const { p, errors } = await pageWithoutWebGpu(remote.browser, url);
    expect(await p.evaluate(() => location.hostname)).toBe(REMOTE_HOST);
    const panel = p.locator('.error[data-kind="no-webgpu"]');
    const text = (await panel.textContent())!;
    expect(text).toMatch(/Chrome or Edge 113/);
    expect(text).toMatch(/software adapter/i);
    expect(text).toMatch(/chrome:\/\/flags/);
    // Nothing written for a terminal: no package manager, no repository script, anywhere on the page.
    const body = (await p.locator('body').textContent())!;
    for (const bad of ['apt-get', 'bookworm', 'install-system-deps', 'mesa-vulkan']) expect(body, bad).not.toContain(bad);
    expect(await p.locator('#adapter').textContent()).toMatch(/no WebGPU/i);
    expect(await p.locator('#start').isDisabled()).toBe(true);
    expect(await p.locator('#load-button').isDisabled()).toBe(true);
    await p.screenshot({ path: `${OUT}/no-webgpu.png`, fullPage: true });
    await expectAccessible(p, 'no WebGPU, remote origin');
    expect(errors).toEqual([]);
    await p.close();
  } finally {
    await remote.close();
  }
  // The owner of the machine (localhost): the set-up hints are there, folded.
  const { p, errors } = await pageWithoutWebGpu(chrome.browser, site.url, 420);
  const hints = p.locator('.error[data-kind="no-webgpu"] details.machine-hints');
  expect(await hints.textContent()).toMatch(/apt-get install .*mesa-vulkan-drivers/);
  expect(await hints.textContent()).toMatch(/enable-unsafe-webgpu/);
  await p.screenshot({ path: `${OUT}/no-webgpu-localhost-420px.png`, fullPage: true });
  await expectAccessible(p, 'no WebGPU, localhost, 420 px');
  expect(errors).toEqual([]);
  await p.close();
}, 120_000);

it('is operable by keyboard: Tab reaches every control, the file pickers open from the keyboard', async () => {
  await page.goto(site.url);
  await waitFor((s) => s.adapterStatus !== 'looking', 60_000);
  expect((await state()).adapterStatus).toBe('ready');
  // Before any data: both charts have axes, readable ticks and the chance line of the editor's config.
  await page.selectOption('#preset', 'tiny');
  await page.waitForFunction(() => window.__cpcDemo!.charts().loss.chance !== null && window.__cpcDemo!.charts().loss.chance! < 2.1, null, { timeout: 10_000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await expectReadableCharts(page, 'before start');
  await page.screenshot({ path: `${OUT}/start.png`, fullPage: true });
  await expectAccessible(page, 'before start');

  // Tab from the top: every enabled control is reached, each with a visible focus ring.
  const enabled = ['preset', 'config', 'data-synthetic', 'dropzone', 'max-steps', 'metrics-every', 'profile-every', 'start', 'load-button'];
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const reached: string[] = [];
  for (let i = 0; i < 40 && !enabled.every((id) => reached.includes(id)); i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement as HTMLElement | null;
      if (!e || e === document.body) return null;
      const st = getComputedStyle(e);
      return { id: e.id || e.tagName, outline: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2 };
    });
    if (!f) continue;
    reached.push(f.id);
    if (enabled.includes(f.id)) expect(f.outline, `visible focus on #${f.id}`).toBe(true);
  }
  expect(reached.filter((id) => enabled.includes(id)).sort(), `tab order: ${reached.join(' → ')}`).toEqual([...enabled].sort());

  // The drop zone opens the audio file picker with Enter and with Space; "Load checkpoint…" with Enter.
  // One listener for the whole sequence: playwright intercepts pickers only while one is attached,
  // and switching that on is a message without reply (a picker opened before it lands is never
  // reported); a round trip on the same connection after it orders the two.
  const choosers: FileChooser[] = [];
  const onChooser = (c: FileChooser) => { choosers.push(c); };
  page.on('filechooser', onChooser);
  try {
    await page.evaluate(() => 0);
    for (const [selector, key, input] of [['#dropzone', 'Enter', 'files'], ['#dropzone', ' ', 'files'], ['#load-button', 'Enter', 'load']] as const) {
      const before = choosers.length;
      await page.focus(selector);
      await page.keyboard.press(key);
      await expect.poll(() => choosers.length, { timeout: 10_000, message: `${JSON.stringify(key)} on ${selector} opens a file picker` }).toBe(before + 1);
      expect(await choosers.at(-1)!.element().getAttribute('id')).toBe(input);
    }
    expect(choosers[0]!.isMultiple()).toBe(true);
  } finally {
    page.off('filechooser', onChooser);
  }
  expect(consoleErrors).toEqual([]);
}, 120_000);

it(`trains the tiny preset in headless Chromium: loss falls, numbers shown, page stays responsive`, async () => {
  await page.goto(site.url);
  await waitFor((s) => s.adapter !== null || s.errors.length > 0, 60_000);
  let s = await state();
  expect(s.errors).toEqual([]);
  const adapterName = await page.locator('#adapter-name').textContent();
  expect(adapterName).toMatch(/swiftshader/i);
  expect(await page.locator('#adapter-features').textContent()).toBe(s.adapter!.features.join(', '));
  console.log(`[demo e2e] adapter: ${adapterName}; features: ${s.adapter!.features.join(', ')}`);

  // The preset select fills the editable config with the preset.
  await page.selectOption('#preset', 'tiny');
  expect(JSON.parse(await page.inputValue('#config'))).toEqual(PRESETS.tiny);

  // Adapter limits too small for a config: refused before any allocation, with the limit named.
  await page.fill('#config', JSON.stringify({ ...PRESETS.tiny, batchSize: 4096 }));
  await page.click('#start');
  await waitFor((x) => x.errors.some((e) => e.kind === 'limits') || x.runState === 'running', 60_000);
  s = await state();
  const limitErr = s.errors.find((e) => e.kind === 'limits');
  expect(limitErr?.limit?.requested).toBeGreaterThan(limitErr!.limit!.allowed);
  expect(await page.locator('.error[data-kind="limits"]').textContent()).toContain(limitErr!.limit!.name);

  // Now the real run: the unmodified tiny preset, paused automatically after STEPS steps.
  await page.selectOption('#preset', 'small');
  await page.selectOption('#preset', 'tiny');
  await page.fill('#max-steps', String(STEPS));
  // What the page shows at the moment its state turns paused (a MutationObserver callback runs
  // before the next worker message is handled): every step's row must already be there.
  await page.evaluate(() => {
    const badge = document.getElementById('run-state')!;
    const seen: { step: number; rows: number[] }[] = [];
    (window as unknown as { __pausedSeen: typeof seen }).__pausedSeen = seen;
    new MutationObserver(() => {
      if (badge.dataset.state !== 'paused') return;
      const st = window.__cpcDemo!.state();
      seen.push({ step: st.step, rows: st.metrics.map((r) => r.step) });
    }).observe(badge, { attributes: true, attributeFilter: ['data-state'] });
    // The note under the loss chart, each time it changes: a flat start at chance must be explained.
    const note = document.getElementById('chart-note')!;
    const notes: { step: number; text: string }[] = [];
    (window as unknown as { __notesSeen: typeof notes }).__notesSeen = notes;
    new MutationObserver(() => {
      if (!note.hidden) notes.push({ step: window.__cpcDemo!.state().metrics.at(-1)?.step ?? 0, text: note.textContent ?? '' });
    }).observe(note, { attributes: true, childList: true, characterData: true, subtree: true });
  });
  const t0 = Date.now();
  await page.click('#start');
  await waitFor((x) => x.metrics.length >= 3 || x.errors.some((e) => e.kind !== 'limits'), 120_000);
  expect((await state()).errors.filter((e) => e.kind !== 'limits')).toEqual([]);

  // UI-thread responsiveness while the worker trains. At 60 Hz a frame is 16.7 ms. One tiny step
  // takes ~250–400 ms on SwiftShader here, so a page that did the training or waited on a GPU
  // readback on its own thread would miss frames for at least that long at every step. The bound,
  // 200 ms, is below one step and above the scheduling hiccups of this 2-core machine, where
  // SwiftShader's threads compete with the renderer for both cores (max gaps measured ≲ 100 ms on a
  // quiet machine). Frames are drawn by the GPU process, which also runs the worker's SwiftShader
  // compute, so with other jobs on the cores single frame gaps reached 183 and 199.9 ms (7 of 9
  // runs ≤ 100 ms) while no long task ran on the page: the frame gap is bounded by 0.8 of the
  // step time measured in the same window instead (a page training on its own thread misses
  // frames for at least a whole step), and the page's own thread by long tasks and round trips.
  const BOUND_MS = 200;
  const resp = await page.evaluate(async (ms) => {
    const longTasks: number[] = [];
    const po = new PerformanceObserver((l) => { for (const e of l.getEntries()) longTasks.push(e.duration); });
    po.observe({ type: 'longtask' });
    const gaps: number[] = [];
    const step0 = window.__cpcDemo!.state().step;
    const t0 = performance.now();
    let last = t0;
    await new Promise<void>((done) => {
      const frame = (t: number) => {
        gaps.push(t - last);
        last = t;
        if (t - t0 < ms) requestAnimationFrame(frame); else done();
      };
      requestAnimationFrame(frame);
    });
    po.disconnect();
    return { frames: gaps.length, maxGap: Math.max(...gaps.slice(1)), longTasks, stepsDuring: window.__cpcDemo!.state().step - step0, ms: performance.now() - t0 };
  }, 3000);
  // How long a task queued on the page's main thread waits to run and read the stats: the latency a
  // visitor's click sees. Timed inside the page: a round trip through page.evaluate also timed the test
  // runner's own event loop and the CDP pipe, which share 2 cores with the other test workers
  // (measured once: 245 ms while the page had 33 ms frame gaps and no long tasks).
  const roundTrips = await page.evaluate(async () => {
    const out: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      void document.getElementById('stat-step')!.textContent;
      out.push(performance.now() - t);
    }
    return out;
  });
  console.log(`[demo e2e] responsiveness while training: ${resp.frames} frames and ${resp.stepsDuring} steps in 3 s, max frame gap ${resp.maxGap.toFixed(1)} ms, long tasks [${resp.longTasks.map((d) => d.toFixed(0)).join(', ')}] ms, round trips max ${Math.max(...roundTrips).toFixed(1)} ms`);
  expect((await state()).runState).toBe('running');
  expect(resp.frames).toBeGreaterThan(3000 / BOUND_MS);
  expect(resp.stepsDuring).toBeGreaterThan(0);
  expect(resp.maxGap).toBeLessThan(Math.max(BOUND_MS, (0.8 * resp.ms) / resp.stepsDuring));
  expect(Math.max(0, ...resp.longTasks)).toBeLessThan(BOUND_MS);
  expect(Math.max(...roundTrips)).toBeLessThan(BOUND_MS);

  // A visitor saves a checkpoint mid-run (as the 30 s auto-checkpoint does): the steps in flight
  // while it drains the queue must still be logged (they were lost once: rows 1..37 of 40).
  const [midDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const midStep = Number(/step(\d+)/.exec(midDownload.suggestedFilename())![1]);
  expect(midStep).toBeLessThan(STEPS);

  // The kernel profile is there after the first step (profiled: step 2), not only after profileEvery steps.
  await waitFor((x) => x.profile !== null || x.errors.some((e) => e.kind !== 'limits'), 60_000);
  s = await state();
  expect(s.profile!.step).toBe(2);
  expect(await page.locator('#profile-ops tbody tr').count()).toBe(s.profile!.ops.length);
  expect(s.profile!.ops.length).toBeGreaterThan(5);
  await page.screenshot({ path: `${OUT}/training.png`, fullPage: true });
  await expectAccessible(page, 'training');

  await waitFor((x, n) => (x.runState === 'paused' && x.step >= n) || x.errors.some((e) => e.kind !== 'limits'), 150_000, STEPS);
  const trainSeconds = (Date.now() - t0) / 1000;
  s = await state();
  expect(s.errors.filter((e) => e.kind !== 'limits')).toEqual([]);
  browserRows = s.metrics;
  expect(s.metrics.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  const pausedSeen = await page.evaluate(() => (window as unknown as { __pausedSeen: { step: number; rows: number[] }[] }).__pausedSeen);
  expect(pausedSeen.length).toBeGreaterThan(0);
  for (const p of pausedSeen) expect(p.rows, `rows shown when the page said paused at step ${p.step}`).toEqual(Array.from({ length: p.step }, (_, i) => i + 1));

  // Step 1 of a fresh model sits at chance (ln 8 to ~1e-6 with these presets): the page said why.
  const notesSeen = await page.evaluate(() => (window as unknown as { __notesSeen: { step: number; text: string }[] }).__notesSeen);
  if (Math.abs(s.metrics[0]!.loss - Math.log(8)) < 2e-3) {
    const first = notesSeen.find((n) => n.step === 1);
    expect(first?.text, `notes: ${JSON.stringify(notesSeen.slice(0, 3))}`).toMatch(/at chance, ln 8 = 2\.079/);
    if (PRESETS.tiny.optimizer.warmupSteps > 1) expect(first!.text).toMatch(/warming up \(step 1 of/);
  }
  expect(await page.locator('#chart-note').isHidden()).toBe(Math.abs(s.metrics.at(-1)!.loss - Math.log(8)) >= 2e-3);

  // Paused: the charts read at a glance — legends show the latest values without hovering, the
  // smoothed curve is on (40 steps), and the hidden table (the charts' text alternative) says the same.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await expectReadableCharts(page, 'paused');
  const shown = await charts();
  const lastRow = s.metrics.at(-1)!;
  expect(shown.loss.points).toBe(STEPS);
  expect(shown.loss.smoothed).toBe(true);
  expect(shown.loss.legend.find((l) => l.label === 'loss')?.value).toBe(lastRow.loss.toFixed(4));
  expect(shown.acc.legend.find((l) => l.label === 'k=1')?.value).toBe(`${(lastRow.accPerK[0]! * 100).toFixed(1)} %`);
  expect(shown.acc.legend.find((l) => l.label === 'chance')?.value).toBe('1/N = 12.5 %');
  const altText = await page.locator('#chart-loss + table.sr-only').textContent();
  expect(altText).toContain(`step ${STEPS}`);
  expect(altText).toContain(lastRow.loss.toFixed(4));
  expect(await page.locator('#live-status').textContent()).toMatch(new RegExp(`Paused .*step ${STEPS}`));
  await page.screenshot({ path: `${OUT}/paused.png`, fullPage: true });
  // The README's picture (docs/demo-training.png is a copy): the training panel alone stays small.
  await page.locator('.panel.live').screenshot({ path: `${OUT}/paused-training-panel.png` });
  await expectAccessible(page, 'paused');
  expect(s.metrics.every((r) => !r.nonFinite && Number.isFinite(r.loss))).toBe(true);

  // Loss decreased. At initialisation the scores are small (the 'kaiming' init puts the predictors
  // at 0.1/√H), so the first loss is within ~0.002 of ln(B) = ln 8 ≈ 2.079, and the loss falls from
  // step 2 on; 0.05 nats below the start is far outside float32 noise (~1e-6 here) and a
  // batch-level fluctuation, which is why the means of a few steps are compared, not single steps.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(s.metrics.slice(0, 3).map((r) => r.loss));
  const lastLoss = mean(s.metrics.slice(-5).map((r) => r.loss));
  console.log(`[demo e2e] loss: first 3 steps ${first.toFixed(4)}, last 5 steps ${lastLoss.toFixed(4)}; ${STEPS} steps in ${trainSeconds.toFixed(1)} s; ${s.stepsPerSec?.toFixed(2)} steps/s, ${s.samplesPerSec?.toFixed(1)} samples/s`);
  expect(s.metrics[0]!.loss).toBeCloseTo(Math.log(8), 2);
  expect(lastLoss).toBeLessThan(first - 0.05);

  // Steps/s and samples/s shown, and the DOM shows the same numbers as the state.
  expect(s.stepsPerSec).toBeGreaterThan(0);
  expect(s.samplesPerSec).toBeCloseTo(s.stepsPerSec! * PRESETS.tiny.batchSize, 6);
  expect(await page.locator('#stat-steps-per-sec').getAttribute('data-value')).toBe(String(s.stepsPerSec));
  expect(await page.locator('#stat-steps-per-sec').textContent()).toBe(s.stepsPerSec!.toFixed(s.stepsPerSec! < 10 ? 2 : 1));
  expect(await page.locator('#stat-loss').getAttribute('data-value')).toBe(String(s.metrics.at(-1)!.loss));
  expect(await page.locator('#stat-step').textContent()).toBe(String(STEPS));
  // Planned memory: the arena reuses memory.
  expect(s.model!.plannedPeakBytes).toBeLessThan(s.model!.noReuseBytes);
  expect(await page.locator('#memory').getAttribute('data-planned')).toBe(String(s.model!.plannedPeakBytes));

  // Per-kernel GPU times.
  await page.click('#profile');
  await waitFor((x, n) => (x.profile !== null && x.profile.step > n) || x.errors.length > 1, 60_000, STEPS);
  s = await state();
  expect(s.profile!.ops.length).toBeGreaterThan(5);
  expect(s.profile!.ops.every((o) => o.ms >= 0)).toBe(true);
  expect(await page.locator('#profile-ops tbody tr').count()).toBe(s.profile!.ops.length);
  console.log(`[demo e2e] profile (${s.profile!.source}): ${s.profile!.totalMs.toFixed(1)} ms over ${s.profile!.ops.length} kernels`);
  const step = s.step;
  expect(step).toBe(STEPS + 1); // the profiled step is a training step too

  // Download the checkpoint; it parses and holds every parameter and both Adam moments.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  expect(download.suggestedFilename()).toBe(`cpc-tiny-step${step}.safetensors`);
  const bytes = new Uint8Array(readFileSync((await download.path())!));
  const { tensors, metadata } = parseSafetensors(bytes, download.suggestedFilename());
  expect(s.model!.paramNames.length).toBeGreaterThan(0);
  for (const name of s.model!.paramNames) {
    expect(tensors.has(name), name).toBe(true);
    expect(tensors.has(`adam.m.${name}`), `adam.m.${name}`).toBe(true);
    expect(tensors.has(`adam.v.${name}`), `adam.v.${name}`).toBe(true);
  }
  expect(metadata.step).toBe(String(step));
  expect(JSON.parse(metadata.config!)).toEqual(PRESETS.tiny);

  // A corrupt checkpoint is refused with a readable message, the model left as it was.
  await page.setInputFiles('#load', { name: 'corrupt.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes.subarray(0, 200)) });
  await waitFor((x) => x.errors.some((e) => e.kind === 'checkpoint'), 30_000);
  s = await state();
  const ckErr = s.errors.find((e) => e.kind === 'checkpoint')!;
  expect(ckErr.name).toBe('CheckpointError');
  expect(ckErr.message).toContain('corrupt.safetensors');
  expect(await page.locator('.error[data-kind="checkpoint"]').textContent()).toContain('Checkpoint refused');
  expect(s.step).toBe(step);

  await page.click('.error[data-kind="checkpoint"] button:has-text("Dismiss")');

  // A weights-only file (what a PyTorch conversion gives: parameters by name, no optimizer state,
  // no metadata) loads into the current model; its step is 0. Then the full checkpoint restores step.
  const weightsOnly = new Map<string, SafeTensor>(s.model!.paramNames.map((n) => [n, tensors.get(n)!]));
  await page.setInputFiles('#load', { name: 'weights-only.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(encodeSafetensors(weightsOnly, {})) });
  await waitFor((x) => x.notices.some((m) => m.startsWith('checkpoint loaded: step 0')) || x.errors.length > 0, 30_000);
  expect((await state()).errors).toEqual([]);
  await page.setInputFiles('#load', { name: download.suggestedFilename(), mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  await waitFor((x, st) => x.notices.some((m) => m.startsWith(`checkpoint loaded: step ${st}`)) || x.errors.length > 0, 30_000, step);
  s = await state();
  expect(s.errors).toEqual([]);
  expect(s.step).toBe(step);

  // The device is lost: the panel offers the checkpoint kept in memory, and training resumes from it.
  await page.fill('#max-steps', String(step + 2));
  await page.evaluate(() => window.__cpcDemo!.loseDevice());
  await waitFor((x) => x.errors.some((e) => e.kind === 'device-lost'), 30_000);
  await page.click('.error[data-kind="device-lost"] button[data-action="resume-checkpoint"]');
  await waitFor((x, until) => (x.runState === 'paused' && x.step >= until) || x.errors.some((e) => e.kind !== 'device-lost'), 120_000, step + 2);
  s = await state();
  expect(s.errors).toEqual([]);
  expect(s.metrics.at(-1)!.step).toBe(step + 2);

  // Probe accuracies of the trained model and of a random-init one.
  await page.click('#probe');
  await waitFor((x) => x.probe !== null || x.errors.length > 0, 120_000);
  s = await state();
  expect(s.errors).toEqual([]);
  expect(s.probe!.rows.map((r) => r.task)).toEqual(['phone (per frame)', 'speaker (per window)']);
  expect(s.probe!.columns.slice(0, 3)).toEqual(['trained', 'random init', 'MFCC']);
  // Every model cell carries its 95 % interval (the majority-class column has none).
  for (const r of s.probe!.rows) for (const c of r.cells.slice(0, 3)) expect(c.ci).not.toBeNull();
  expect(s.probe!.columns.at(-1)).toBe('majority class');
  for (const r of s.probe!.rows) {
    expect(r.cells).toHaveLength(s.probe!.columns.length);
    for (const c of r.cells) expect(c.acc).toBeGreaterThanOrEqual(0);
  }
  expect(await page.locator('#probe-results tbody tr').count()).toBe(2);
  expect(await page.locator('#probe-results thead th').count()).toBe(1 + s.probe!.columns.length);
  console.log(`[demo e2e] probes after ${s.step} steps: ${s.probe!.rows.map((r) => `${r.task} ${r.cells.map((c, i) => `${s.probe!.columns[i]} ${(c.acc! * 100).toFixed(1)} %${c.ci ? ` [${(c.ci[0] * 100).toFixed(1)}, ${(c.ci[1] * 100).toFixed(1)}]` : ''}`).join(', ')}`).join('; ')}; ${s.probe!.seconds.toFixed(1)} s`);

  await page.screenshot({ path: `${OUT}/after-probe.png`, fullPage: true });
  await expectAccessible(page, 'after the probes');
  // A phone-sized window: one column, nothing cut off, still accessible.
  await page.setViewportSize({ width: 420, height: 900 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
  await page.screenshot({ path: `${OUT}/narrow-420px.png`, fullPage: true });
  await expectAccessible(page, '420 px wide');
  await page.setViewportSize({ width: 1360, height: 1000 });
  expect(consoleErrors).toEqual([]);
}, 300_000);

it('gives the same first losses as Node on the same adapter type (SwiftShader in both)', async () => {
  expect(browserRows.length).toBeGreaterThanOrEqual(3);
  const N = 3;
  // A separate process: the Vulkan ICD is chosen when Dawn initialises.
  const node = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [`${repo}tests/helpers/demoNodeLosses.mjs`, JSON.stringify({ preset: 'tiny', steps: N })], {
      cwd: repo, env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`demoNodeLosses exited with ${code}: ${err}`))));
  });
  const r = JSON.parse(node.trim().split('\n').at(-1)!) as { adapter: string; losses: number[]; lossPerK: number[][]; accPerK: number[][]; gradNorm: number[] };
  expect(r.adapter).toMatch(/swiftshader/i);
  const b = browserRows.slice(0, N);
  console.log(`[demo e2e] first ${N} losses — browser ${JSON.stringify(b.map((x) => x.loss))}, node ${JSON.stringify(r.losses)}; grad norms — browser ${JSON.stringify(b.map((x) => x.gradNorm))}, node ${JSON.stringify(r.gradNorm)}`);
  // Tolerance: the same SwiftShader runs the same WGSL in both, and every reduction has a fixed
  // order (DESIGN.md §4), so the numbers are expected to be bitwise equal (and were, measured:
  // Chromium 156 vs npm webgpu 0.6.2). The two Dawn builds may still compile the WGSL to slightly
  // different SPIR-V (e.g. FMA contraction) in other versions, which moves results by a few float32
  // ulps per op; over the ~10 chained ops of a forward + backward pass and 2 Adam updates that stays
  // below 1e-5 relative, hence rtol 1e-5 (atol 1e-6 for accuracies and per-k losses). Near
  // initialisation every loss is ln 8 to ~1e-6 whatever the batch, so the loss alone would not tell
  // two runs apart; the gradient norm (a function of every weight and sample, ~1e-5 here) and the
  // per-k accuracies do: a different batch, init or kernel changes them by far more than 1e-5.
  const close = (a: number, e: number) => Math.abs(a - e) <= 1e-6 + 1e-5 * Math.abs(e);
  for (let i = 0; i < N; i++) {
    expect(close(b[i]!.loss, r.losses[i]!), `loss step ${i + 1}: browser ${b[i]!.loss} vs node ${r.losses[i]}`).toBe(true);
    expect(close(b[i]!.gradNorm, r.gradNorm[i]!), `grad norm step ${i + 1}: browser ${b[i]!.gradNorm} vs node ${r.gradNorm[i]}`).toBe(true);
    b[i]!.lossPerK.forEach((v, k) => expect(close(v, r.lossPerK[i]![k]!), `loss k=${k + 1} step ${i + 1}`).toBe(true));
    b[i]!.accPerK.forEach((v, k) => expect(close(v, r.accPerK[i]![k]!), `acc k=${k + 1} step ${i + 1}`).toBe(true));
  }
}, 120_000);

it('trains on dropped WAV files (decoded by the browser, mixed to mono, resampled to 16 kHz)', async () => {
  // Two "speakers", two stereo 22.05 kHz files each, 1.5 s: longer than tiny's 0.64 s window.
  const rate = 22050;
  const n = Math.round(1.5 * rate);
  const file = (name: string, hz: number, seed: number) => {
    // A tone per speaker plus a little deterministic noise (so windows differ), in both channels.
    const noise = (k: number) => Float64Array.from({ length: n }, (_, i) => 0.05 * Math.sin(i * 12.9898 * (seed + k) + seed) * Math.sin(i * 0.013 * seed));
    const nl = noise(1);
    const nr = noise(2);
    const l = sine(n, rate, hz, 0.4).map((v, i) => v + nl[i]!);
    const r = sine(n, rate, hz * 1.5, 0.3).map((v, i) => v + nr[i]!);
    return { name, mimeType: 'audio/wav', buffer: Buffer.from(makeWav(rate, '16', [l, r]).bytes) };
  };
  await page.setInputFiles('#files', [file('alice_1.wav', 220, 1), file('alice_2.wav', 230, 2), file('bob_1.wav', 140, 3), file('bob_2.wav', 150, 4)]);
  await page.locator('#data-summary', { hasText: '4 files, 2 speaker(s)' }).waitFor({ timeout: 30_000 });
  expect(await page.isChecked('#data-audio')).toBe(true);
  await page.selectOption('#preset', 'tiny');
  await page.fill('#max-steps', '3');
  await page.click('#start');
  await waitFor((x) => (x.runState === 'paused' && x.step >= 3) || x.errors.length > 0, 120_000);
  const s = await state();
  expect(s.errors).toEqual([]);
  expect(s.model!.dataName).toBe('audio(4 files, 2 speakers)');
  expect(s.notices.filter((m) => m.includes('resampled 22050 Hz → 16000 Hz'))).toHaveLength(4);
  expect(s.metrics.map((r) => r.step)).toEqual([1, 2, 3]);
  expect(s.metrics.every((r) => Number.isFinite(r.loss))).toBe(true);
  expect(consoleErrors).toEqual([]);
}, 120_000);
