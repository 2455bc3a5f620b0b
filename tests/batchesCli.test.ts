// `cpc-webgpu batches`: the run's training batch stream for other trainers (interop/pytorch). It must
// be exactly the stream `train` draws, with the sampler state after each batch, and it must continue
// from a checkpoint's sampler state.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpointInfo } from '../src/cpc/checkpoint.ts';
import { resolveConfig } from '../src/cpc/config.ts';
import { parseDataArg } from '../src/cli/data.ts';
import { openRunData } from '../src/cli/trainSetup.ts';
import { BIN, cli } from './helpers/cli.ts';

/** Runs the command, returning stdout as bytes (the stream is binary). */
function streamOf(args: string[]): Promise<{ code: number | null; out: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(chunks), stderr }));
  });
}

function parseStream(out: Buffer, B: number, L: number): { header: Record<string, unknown>; steps: { step: number; sampler: { rng: number; batches: number }; signal: Float32Array }[] } {
  let at = out.indexOf(10);
  const header = JSON.parse(out.subarray(0, at).toString()) as Record<string, unknown>;
  at++;
  const steps = [];
  while (at < out.length) {
    const nl = out.indexOf(10, at);
    const rec = JSON.parse(out.subarray(at, nl).toString()) as { step: number; sampler: { rng: number; batches: number } };
    const bytes = out.subarray(nl + 1, nl + 1 + 4 * B * L);
    steps.push({ ...rec, signal: new Float32Array(Uint8Array.from(bytes).buffer) });
    at = nl + 1 + 4 * B * L;
  }
  return { header, steps };
}

describe('cpc-webgpu batches', () => {
  it('writes a step-0 checkpoint, then the batches train would draw, and continues from the checkpoint', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'cpc-batches-')), 'run');
    const cfg = resolveConfig('tiny');
    const fresh = await streamOf(['batches', '--out', dir, '--preset', 'tiny', '--steps', '2']);
    expect(fresh.code, fresh.stderr).toBe(0);
    const a = parseStream(fresh.out, cfg.batchSize, cfg.window);
    expect(a.header).toMatchObject({ format: 'cpc-webgpu.batches.v1', B: 8, L: 10240, start_step: 0, target_step: 2 });
    const want = (await openRunData(parseDataArg('synthetic'), cfg, () => {})).sampler;
    for (const s of a.steps) {
      expect(Array.from(s.signal)).toEqual(Array.from((await want.next()).signal));
      expect(s.sampler).toEqual(want.getState());
    }
    expect(a.steps.map((s) => s.step)).toEqual([1, 2]);
    const info = readCheckpointInfo(new Uint8Array(await readFile(join(dir, 'checkpoint.safetensors'))));
    expect(info.step).toBe(0);
    expect(JSON.parse(info.metadata['cpc.sampler']!)).toEqual({ rng: (await openRunData(parseDataArg('synthetic'), cfg, () => {})).sampler.getState().rng, batches: 0 });
    // --resume from the step-0 checkpoint: the same stream again.
    const again = parseStream((await streamOf(['batches', '--out', dir, '--resume', '--steps', '1'])).out, cfg.batchSize, cfg.window);
    expect(again.header.start_step).toBe(0);
    expect(Array.from(again.steps[0]!.signal)).toEqual(Array.from(a.steps[0]!.signal));
  });

  it('refuses a missing --steps and a fresh run over an existing checkpoint, in one line', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'cpc-batches-')), 'run');
    // Both are usage errors (a missing flag; --resume or --overwrite needed): exit 2, as for train.
    const r = await cli(['batches', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^error: .*--steps.*is required/);
    expect((await cli(['batches', '--out', dir, '--preset', 'tiny', '--steps', '0'])).code).toBe(0);
    const twice = await cli(['batches', '--out', dir, '--preset', 'tiny', '--steps', '0']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/already exists; pass --resume/);
  });
});
