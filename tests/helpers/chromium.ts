// Debian's headless Chromium with WebGPU (SwiftShader), driven by playwright-core. Playwright's own
// browser download does not work on these machines; we always use /usr/bin/chromium.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CPC_WEBGPU_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_INSTALL_HINT = 'install it with: apt-get install -y chromium (or run scripts/install-system-deps.sh)';

export interface LaunchedBrowser { browser: Browser; close(): Promise<void>; }

// playwright gives every launch a fresh temporary profile (it refuses --user-data-dir in launch()).
/** `extraArgs`: more Chromium switches, e.g. --host-resolver-rules to serve a page under a non-localhost name. */
export async function launchChromium(opts: { extraArgs?: string[] } = {}): Promise<LaunchedBrowser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH}; ${CHROMIUM_INSTALL_HINT}`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(opts.extraArgs ?? []),
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}
