// The same runtime modules, built by vite into a page, run a kernel in real headless Chromium
// (WebGPU on SwiftShader) and return the right numbers.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from './helpers/chromium.ts';
import { buildAndServe, type ServedSite } from './helpers/staticSite.ts';

let site: ServedSite;
let chrome: LaunchedBrowser;

beforeAll(async () => {
  site = await buildAndServe(fileURLToPath(new URL('./browser/smoke', import.meta.url)));
  chrome = await launchChromium();
});

afterAll(async () => {
  await chrome?.close();
  await site?.close();
});

it('runs a WGSL kernel through the runtime in headless Chromium', async () => {
  const page = await chrome.browser.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(site.url);
  await page.waitForFunction(() => window.smokeResult !== undefined, null, { timeout: 60_000 });
  const r = await page.evaluate(() => window.smokeResult!);
  expect(r.error).toBeUndefined();
  expect(r.ok).toBe(true);
  console.log(`[browser smoke] adapter: ${r.adapter}`);
  expect(r.output).toEqual(r.input!.map((v) => v * 1.5 + 0.25));
  expect(consoleErrors).toEqual([]);
  await page.close();
});
