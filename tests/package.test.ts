// The npm package as a user gets it: `npm pack`, install the tarball into fresh consumer folders
// (dependencies from the npm registry, through the local npm cache), then use it only through the
// installed package — never this checkout's sources:
//   node consumer (default install, with Dawn): the README's Node script as plain .mjs under plain
//     node; `npx cpc-webgpu --version`, `info --json`, `bench --e2e` without the tfjs peer; a
//     consumer .ts type-checked under moduleResolution nodenext;
//   web consumer (`--omit=optional`, no Dawn): the node entry and the CLI name the missing package;
//     the same .ts under moduleResolution bundler;
//     `vite build`; the vite dev server + headless Chromium runs the README's browser snippet.
// Plus publint and @arethetypeswrong/cli on the tarball, and what the tarball holds.
// Tools (tsc, vite, playwright, publint, attw) are this repo's devDependencies, run on the consumer
// folders; what is under test is only the tarball.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, build, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedBrowser } from './helpers/chromium.ts';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..');
const bin = (tool: string) => join(repo, 'node_modules', '.bin', tool);
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string };
const readme = readFileSync(join(repo, 'README.md'), 'utf8');

/** The fenced ```js block of README.md that follows `marker` (the README's examples are the test's code). */
function readmeBlock(marker: string): string {
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no '${marker}'`);
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`README.md has no js block after '${marker}'`);
  return m[1]!;
}

/** Runs a command; resolves with its output, rejects with the output in the message. */
async function sh(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(file, args, { cwd, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp', ...env }, maxBuffer: 64 * 2 ** 20 });
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}) failed with ${err.code}:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`);
  }
}

/** Bytes under a folder (what `du` would count, without following links). */
function folderBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += folderBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

const CONSUMER_TS = `
import { CpcTrainer, CpcError, resolveConfig, createSyntheticDataset, WindowSampler, type StepMetrics } from 'cpc-webgpu';
import { acquireNodeDevice, nodeCheckpointStore } from 'cpc-webgpu/node';

export async function firstLoss(): Promise<number | undefined> {
  const ctx = await acquireNodeDevice();
  const config = resolveConfig('tiny', { optimizer: { lr: 1e-3 } });
  const trainer = await CpcTrainer.create(ctx, config, { metricsEvery: 1, store: nodeCheckpointStore });
  const sampler = new WindowSampler(createSyntheticDataset({ seed: 1 }), 'train', { B: config.batchSize, L: config.window, seed: 1 });
  await trainer.trainStep(sampler.next().signal);
  const rows: StepMetrics[] = await trainer.flush();
  const limit: number = ctx.device.limits.maxStorageBufferBindingSize;
  // The declarations are real types, not any: each of these lines must be an error.
  // @ts-expect-error stepCount is a number
  const wrong: string = trainer.stepCount;
  // @ts-expect-error the device is a GPUDevice (@webgpu/types, referenced by the declarations)
  const notDevice: number = ctx.device;
  void wrong; void notDevice; void limit;
  trainer.dispose(); ctx.dispose();
  // noUncheckedIndexedAccess: rows[0] may be undefined.
  return rows[0]?.loss;
}

export function isOurs(e: unknown): boolean {
  return e instanceof CpcError;
}
`;

function tsconfig(module: 'nodenext' | 'bundler'): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: module === 'nodenext' ? 'NodeNext' : 'ESNext',
      moduleResolution: module === 'nodenext' ? 'NodeNext' : 'Bundler',
      lib: module === 'nodenext' ? ['ES2022'] : ['ES2022', 'DOM'],
      types: [],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      noEmit: true,
    },
    files: ['consumer.ts'],
  });
}

let work: string;
let tarball: string;
let nodeApp: string;
let webApp: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cpc-webgpu-pkg-'));
  // dist/ is current (the globalSetup rebuilds it when a source is newer). --ignore-scripts: `prepare`
  // would rebuild dist/ in place while CLI tests in another worker run it.
  const packed = await sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], repo);
  const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  const t = info[0]!;
  tarball = join(work, t.filename);
  const paths = t.files.map((f) => f.path);
  console.log(`[package] ${t.filename}: ${(t.size / 1024).toFixed(0)} kB packed, ${MiB(t.unpackedSize)} unpacked, ${paths.length} files`);
  expect(paths.filter((p) => /^(src|tests|bench|scripts|demo)\//.test(p) || p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
  expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'bin/cpc-webgpu.mjs', 'dist/index.js', 'dist/node/index.js', 'dist/cli/main.js', 'dist/types/index.d.ts', 'dist/types/node/index.d.ts']));

  const install = async (dir: string, extra: string[]) => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await sh('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', ...extra], dir);
  };
  nodeApp = join(work, 'node-app');
  webApp = join(work, 'web-app');
  for (const d of [nodeApp, webApp]) mkdirSync(d);
  await install(nodeApp, []);
  await install(webApp, ['--omit=optional']);
  console.log(`[package] installed node_modules: ${MiB(folderBytes(join(nodeApp, 'node_modules')))} with Dawn (default), ` +
    `${MiB(folderBytes(join(webApp, 'node_modules')))} with --omit=optional`);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed cpc-webgpu, installed into a fresh folder', () => {
  it('passes publint and @arethetypeswrong/cli (ESM-only profile)', async () => {
    const lint = await sh(bin('publint'), ['run', tarball, '--strict'], work);
    expect(lint.stdout).toMatch(/All good/);
    // esm-only: the package is ES modules only; require() of it (node16-cjs) and node10 subpaths are out of scope.
    await sh(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], work);
  }, 120_000);

  it("runs the README's Node script with plain node: every logged step is printed", async () => {
    writeFileSync(join(nodeApp, 'train.mjs'), readmeBlock('**Node script.**'));
    const r = await sh(process.execPath, ['train.mjs'], nodeApp);
    const steps = [...r.stdout.matchAll(/^step (\d+) loss (\d+\.\d+) acc( \d\.\d{3}){4}$/gm)].map((m) => Number(m[1]));
    // metricsEvery 5 over 20 steps logs step 1 and every 5th; the last ones reach the loop only
    // through flush()'s return value.
    expect(steps, r.stdout).toEqual([1, 5, 10, 15, 20]);
    expect(r.stdout).toMatch(/^loss \d+\.\d+, \d+ gradients, z \d+ and c \d+ floats$/m);
    expect(existsSync(join(nodeApp, 'run', 'checkpoint.safetensors'))).toBe(true);
  }, 180_000);

  it('npx cpc-webgpu: --version, info --json, bench --e2e without the tfjs peer', async () => {
    const v = await sh('npx', ['cpc-webgpu', '--version'], nodeApp);
    expect(v.stdout.trim()).toBe(pkg.version);
    const info = await sh('npx', ['cpc-webgpu', 'info', '--json'], nodeApp);
    const j = JSON.parse(info.stdout) as { version: string; adapter: { description: string }; limits: Record<string, number> };
    expect(j.version).toBe(pkg.version);
    expect(info.stderr).not.toMatch(/artificially reduced/);
    expect(j.adapter.description.length).toBeGreaterThan(0);
    expect(j.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const e2e = await sh('npx', ['cpc-webgpu', 'bench', '--e2e'], nodeApp).then(() => null, (e: Error) => e.message);
    expect(e2e).toMatch(/failed with 1/);
    expect(e2e).toMatch(/^error: bench: .*npm install @tensorflow\/tfjs@4\.22\.0 @tensorflow\/tfjs-backend-webgpu@4\.22\.0$/m);
    expect(e2e).not.toMatch(/\n\s+at .+:\d+:\d+/);
  }, 120_000);

  it('without the optional Dawn package, the node entry and the CLI say how to install it in one line', async () => {
    expect(existsSync(join(webApp, 'node_modules', 'webgpu'))).toBe(false);
    const script = "import('cpc-webgpu/node').then((m) => m.acquireNodeDevice()).then(() => console.log('acquired'), (e) => console.log(`${e.name}: ${e.message}`))";
    const r = await sh(process.execPath, ['--input-type=module', '-e', script], webApp);
    expect(r.stdout.trim()).toBe("NoAdapterError: createNodeGpu: the 'webgpu' package (Dawn for Node) is not installed; install it with: npm install webgpu@0.6.2");
    const info = await sh('npx', ['cpc-webgpu', 'info'], webApp).then(() => null, (e: Error) => e.message);
    expect(info).toMatch(/failed with 1/);
    expect(info).toMatch(/^error: createNodeGpu: the 'webgpu' package .* npm install webgpu@0\.6\.2$/m);
    expect(info).not.toMatch(/\n\s+at .+:\d+:\d+/);
  }, 60_000);

  it('type-checks a consumer under nodenext and bundler (strict, noUncheckedIndexedAccess, skipLibCheck)', async () => {
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const [dir, mode] of [[nodeApp, 'nodenext'], [webApp, 'bundler']] as const) {
      writeFileSync(join(dir, 'consumer.ts'), CONSUMER_TS);
      writeFileSync(join(dir, `tsconfig.${mode}.json`), tsconfig(mode));
      await sh(process.execPath, [tsc, '-p', `tsconfig.${mode}.json`], dir);
    }
  }, 120_000);

  describe('a vite app importing cpc-webgpu (installed without Dawn)', () => {
    let server: ViteDevServer | null = null;
    let chrome: LaunchedBrowser | null = null;
    afterAll(async () => {
      await chrome?.close();
      await server?.close();
    });

    it('builds with vite build, and trains a step under the vite dev server in headless Chromium', async () => {
      expect(existsSync(join(webApp, 'node_modules', 'webgpu'))).toBe(false);
      writeFileSync(join(webApp, 'index.html'), '<!doctype html><html><head><link rel="icon" href="data:,"></head><body>loading</body><script type="module" src="./main.js"></script></html>\n');
      writeFileSync(join(webApp, 'main.js'), readmeBlock('**Browser app (vite or any bundler).**'));
      const out = join(work, 'web-dist');
      await build({ root: webApp, configFile: false, logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
      const assets = readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.js'));
      expect(assets.length).toBeGreaterThan(0);
      const bundle = assets.map((f) => readFileSync(join(out, 'assets', f), 'utf8')).join('\n');
      // The WGSL is inside the bundle, and nothing Node-only came along.
      expect(bundle).toMatch(/@compute/);
      expect(bundle).not.toMatch(/dawn\.node|from\s*["']node:/);

      server = await createServer({
        root: webApp, configFile: false, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, strictPort: false },
      });
      await server.listen();
      const url = server.resolvedUrls?.local[0];
      expect(url).toBeTruthy();
      chrome = await launchChromium();
      const page = await chrome.browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await page.goto(url!);
      // The page replaces 'loading' when its step is done; an exception ends the wait at once.
      let text: string | null = 'loading';
      for (const t0 = Date.now(); text === 'loading' && errors.length === 0 && Date.now() - t0 < 150_000;) {
        await new Promise((r) => setTimeout(r, 250));
        text = await page.evaluate(() => (document.body.textContent ?? '').trim());
      }
      expect(errors).toEqual([]);
      expect(text).toMatch(/^step 1: loss \d+\.\d{4}$/);
      const loss = Number(/loss (\S+)/.exec(text ?? '')![1]);
      expect(Number.isFinite(loss) && loss > 0).toBe(true);
    }, 240_000);
  });
});
