// What users expect of a command-line tool, run as real processes (bin/cpc-webgpu.mjs → dist/):
// --version, --help on every subcommand, exit 2 on a usage error, SIGTERM (the stop signal of
// containers and job schedulers) saves a checkpoint like Ctrl-C, and `--resume` — with the run's own
// --preset repeated — continues bitwise. Help and usage cases fail before a device is acquired.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointInfo } from '../src/cpc/checkpoint.ts';
import { BIN, cli, lastJson } from './helpers/cli.ts';

const version = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

interface MetricsRow { step: number; loss: number; acc: number[] }

async function metricsOf(dir: string): Promise<MetricsRow[]> {
  const text = await readFile(join(dir, 'metrics.jsonl'), 'utf8');
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as MetricsRow);
}

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'cpc-cli-conv-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

describe('cpc-webgpu command-line conventions', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it.each(['info', 'train', 'tune', 'eval', 'grads', 'bench', 'batches', 'encode'])('%s --help and -h print its usage and exit 0', async (cmd) => {
    for (const flag of ['--help', '-h']) {
      const r = await cli([cmd, flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: cpc-webgpu ${cmd}\\b`));
      // Help texts point only at files an installed package has.
      expect(r.stdout).not.toMatch(/src\/|DESIGN\.md/);
    }
  });

  it("normal runs are quiet: Dawn's adapter-enumeration warnings only with --verbose", async () => {
    const run = (args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
    const quiet = await run(['info', '--json']);
    expect(quiet.stderr).toBe('');
    const info = JSON.parse(quiet.stdout) as { version: string; adapter: { description: string } };
    expect(info.version).toBe(version);
    const verbose = await run(['info', '--json', '--verbose']);
    expect(JSON.parse(verbose.stdout)).toEqual(info);
    // lavapipe reports 10⁶ dynamic buffers per pipeline layout and Dawn clamps it with a warning
    // (other drivers report small numbers and print nothing).
    if (/llvmpipe/.test(info.adapter.description)) expect(verbose.stderr).toMatch(/artificially reduced/);
  });

  it('usage errors exit 2 with one error line; no command prints the usage and exits 2', async () => {
    for (const args of [['train', '--no-such-flag'], ['info', '--bogus'], ['bench', '--only', 'nope'], ['train', '--steps', 'x'], ['eval'], ['tune', '--bogus'], ['tune', '--preset', 'tiny', '--ops', 'conv9.fwd']]) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^usage: cpc-webgpu <command>/);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
  });

  it('SIGTERM finishes the step, saves and exits 143; --resume --preset tiny continues bitwise', async () => {
    // The LR horizon is pinned in the config, so a run's target (--steps) does not change its schedule:
    // the stopped run, the resumed run and the uninterrupted baseline all follow the same losses.
    const configPath = join(root, 'tiny.json');
    await writeFile(configPath, JSON.stringify({ preset: 'tiny', optimizer: { totalSteps: 1000 } }));
    const out = join(root, 'sigterm');
    let sent = false;
    const stopped = await cli(['train', '--config', configPath, '--steps', '1000', '--out', out, '--json'], {
      whileRunning: (child) => {
        const poll = setInterval(() => {
          void metricsOf(out).then((rows) => {
            if (rows.length >= 3 && !sent) { sent = true; clearInterval(poll); child.kill('SIGTERM'); }
          }, () => undefined);
        }, 200);
        child.on('close', () => clearInterval(poll));
      },
    });
    expect(sent).toBe(true);
    expect(stopped.code, stopped.stderr).toBe(143);
    const summary = lastJson(stopped.stdout);
    expect(summary.interrupted).toBe(true);
    const savedAt = summary.steps as number;
    expect(savedAt).toBeGreaterThanOrEqual(3);
    expect(savedAt).toBeLessThan(1000);
    const ckpt = join(out, 'checkpoint.safetensors');
    expect(readCheckpointInfo(new Uint8Array(await readFile(ckpt)), ckpt).step).toBe(savedAt);

    const target = savedAt + 4;
    const baselineOut = join(root, 'baseline');
    const baseline = await cli(['train', '--config', configPath, '--steps', String(target), '--out', baselineOut, '--json']);
    expect(baseline.code, baseline.stderr).toBe(0);

    // --preset naming another preset is refused (exit 2); the checkpoint's own preset is accepted.
    const other = await cli(['train', '--preset', 'small', '--out', out, '--resume', '--steps', String(target)]);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/^error: --preset: 'small' is not the config of /m);
    const resumed = await cli(['train', '--preset', 'tiny', '--out', out, '--resume', '--steps', String(target), '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout).steps).toBe(target);

    const want = await metricsOf(baselineOut);
    const got = await metricsOf(out);
    expect(want.map((m) => m.step)).toEqual(Array.from({ length: target }, (_, i) => i + 1));
    expect(got.map((m) => m.step)).toEqual(want.map((m) => m.step));
    // JSON round-trips float32 values exactly, so equal numbers are equal bits.
    expect(got.map((m) => m.loss)).toEqual(want.map((m) => m.loss));
    expect(got.map((m) => m.acc)).toEqual(want.map((m) => m.acc));
    expect(existsSync(`${ckpt}.tmp`)).toBe(false);
  }, 240_000);
});
