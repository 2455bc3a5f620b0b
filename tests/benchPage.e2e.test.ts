// The browser bench page (demo/bench.html) end to end: build the demo site (both pages) with its
// vite config, serve it, open bench.html in Debian's headless Chromium (WebGPU on SwiftShader), pick
// one quick suite with the keyboard, run it, and check what a visitor gets: a table row per result,
// the measured peak, and a downloaded JSON with exactly the format of `cpc-webgpu bench --json` —
// compared key for key (top level, adapter, peak, each row, names in order, shapes) against the CLI
// run here on the same suite. Without WebGPU the page says so and cannot start. axe-core finds no
// serious or critical accessibility violation before, after a run, and without WebGPU.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BenchSnapshot } from '../demo/bench.ts';
import type { BenchReport } from '../bench/run.ts';
import { axeSeriousViolations } from './helpers/axe.ts';
import { launchChromium, type LaunchedBrowser } from './helpers/chromium.ts';
import { cli, lastJson } from './helpers/cli.ts';
import { buildAndServe, type ServedSite } from './helpers/staticSite.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
/** The cheapest suite (three memory-bound kernels and their baselines): the page's plumbing is under test, not the kernels. */
const SUITE = 'adam';

let site: ServedSite;
let chrome: LaunchedBrowser;
let cliReport: BenchReport;
const pageErrors: string[] = [];

const state = (p: Page): Promise<BenchSnapshot> => p.evaluate(() => window.__cpcBench!.state());

async function expectAccessible(p: Page, where: string): Promise<void> {
  const v = await axeSeriousViolations(p);
  expect(v, `accessibility (${where}):\n${v.join('\n')}`).toEqual([]);
}

beforeAll(async () => {
  // The CLI run and the site build are independent: overlap them.
  const [run, served] = await Promise.all([
    cli(['bench', '--only', SUITE, '--quick', '--json']),
    buildAndServe(`${repo}demo`, { configFile: `${repo}demo/vite.config.ts` }),
  ]);
  site = served;
  expect(run.code, run.stderr).toBe(0);
  cliReport = lastJson(run.stdout) as unknown as BenchReport;
  chrome = await launchChromium();
}, 120_000);

afterAll(async () => {
  await chrome?.close();
  await site?.close();
});

it('runs a suite on the visitor’s GPU and downloads the CLI’s JSON format', async () => {
  const page = await chrome.browser.newPage({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  await page.goto(new URL('bench.html', site.url).href);
  await page.waitForFunction(() => window.__cpcBench!.state().status !== 'looking', null, { timeout: 60_000 });
  const ready = await state(page);
  expect(ready.status, JSON.stringify(ready.errors)).toBe('ready');
  expect(await page.locator('#adapter').textContent()).toMatch(/^Adapter: .*swiftshader/i);
  await expectAccessible(page, 'before a run');

  // Keyboard only: Space toggles each suite checkbox so only SUITE stays checked; Tab reaches Run.
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const reached: string[] = [];
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement as HTMLInputElement | null;
      return e ? { id: e.id, name: e.name, value: e.value, checked: e.checked } : null;
    });
    if (!f) continue;
    if (f.name === 'suite') {
      reached.push(f.value);
      if (f.checked !== (f.value === SUITE)) await page.keyboard.press('Space');
    }
    if (f.id === 'run') break;
  }
  expect(reached).toEqual(['conv', 'gru', 'infonce', 'adam', 'e2e']);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('run');
  expect(await page.locator('#mode-quick').isChecked()).toBe(true);
  await page.keyboard.press('Enter');
  expect((await state(page)).status).toBe('running');
  expect(await page.locator('#run').isDisabled()).toBe(true);
  await page.waitForFunction(() => ['done', 'failed'].includes(window.__cpcBench!.state().status), null, { timeout: 90_000, polling: 200 });
  const done = await state(page);
  expect(done.status, JSON.stringify(done.errors)).toBe('done');
  expect(done.errors).toEqual([]);

  // The table: one row per result, in order, with the report's numbers.
  const report = done.report!;
  const rows = page.locator('#results tbody tr[data-name]');
  expect(await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.name))).toEqual(report.results.map((r) => r.name));
  for (const [i, r] of report.results.entries()) {
    const cells = await rows.nth(i).locator('td').allTextContents();
    // ms to 5 significant digits (whole from 1000 up): within 5e-5 relative, or 0.5 ms.
    expect(Math.abs(Number(cells[1]!.replace(/,/g, '')) - r.ms), `${r.name} ms cell ${cells[1]}`).toBeLessThanOrEqual(Math.max(5e-5 * r.ms, r.ms >= 1000 ? 0.5 : 0));
    // GFLOP/s and GB/s cells: empty when the row has none, else the value to 4 significant digits
    // (or a whole number from 1000 up), so within 5e-4 relative of the report's.
    for (const [cell, value] of [[cells[2]!, r.gflops], [cells[3]!, r.gbps]] as const) {
      if (value === null) expect(cell, `${r.name}: empty cell`).toBe('');
      else expect(Math.abs(Number(cell.replace(/,/g, '')) - value), `${r.name}: ${cell} vs ${value}`).toBeLessThanOrEqual(5e-4 * Math.abs(value));
    }
    if (r.speedup !== null) expect(cells[7]).toBe(`${Number(r.speedup.toPrecision(4))}×`);
  }
  expect(await page.locator('#peak').textContent()).toContain(`${report.peak.fma_gflops} GFLOP/s FMA`);
  expect(await page.locator('#progress').evaluate((p: HTMLProgressElement) => p.value === p.max)).toBe(true);
  await expectAccessible(page, 'after a run');

  // The download is the report, in exactly the CLI's format.
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
  expect(download.suggestedFilename()).toMatch(/^cpc-webgpu-bench-.*\.json$/);
  const text = readFileSync((await download.path())!, 'utf8');
  expect(text.endsWith('}\n')).toBe(true);
  const json = JSON.parse(text) as BenchReport;
  expect(json).toEqual(report);
  const keys = (o: object) => Object.keys(o).sort();
  expect(keys(json)).toEqual(keys(cliReport));
  expect(keys(json.adapter)).toEqual(keys(cliReport.adapter));
  expect(keys(json.peak)).toEqual(keys(cliReport.peak));
  expect(json.results.map((r) => r.name)).toEqual(cliReport.results.map((r) => r.name));
  for (const [i, r] of json.results.entries()) {
    const c = cliReport.results[i]!;
    expect(keys(r), r.name).toEqual(keys(c));
    expect(r.shape, r.name).toEqual(c.shape);
    expect(r.baseline, r.name).toBe(c.baseline);
    // Same kinds of value: a number where the CLI has one, null where it has none.
    for (const k of keys(c)) expect(typeof r[k], `${r.name}.${k}`).toBe(typeof c[k]);
    expect(r.ms).toBeGreaterThan(0);
  }
  expect(pageErrors).toEqual([]);
  await page.close();
}, 150_000);

it('says when the browser has no WebGPU, and cannot start', async () => {
  const p = await chrome.browser.newPage({ viewport: { width: 420, height: 900 } });
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }); });
  await p.goto(new URL('bench.html', site.url).href);
  const panel = p.locator('.error[data-kind="no-webgpu"]');
  await panel.waitFor({ timeout: 30_000 });
  expect(await panel.textContent()).toMatch(/Chrome or Edge 113/);
  expect(await p.locator('#adapter').textContent()).toMatch(/no WebGPU/);
  expect(await p.locator('#run').isDisabled()).toBe(true);
  expect(await p.locator('#download').isDisabled()).toBe(true);
  expect((await state(p)).status).toBe('no-webgpu');
  await expectAccessible(p, 'no WebGPU, 420 px');
  expect(errors).toEqual([]);
  await p.close();
}, 60_000);
