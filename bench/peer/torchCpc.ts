// The PyTorch-CPU peer of the end-to-end benchmark: the same model, loss, optimizer and batch as our
// step, run by interop/pytorch/cpc_torch.py (`bench`) in float32 on Debian's python3-torch. Present
// only where /usr/bin/python3 imports torch; otherwise the row says why it is absent.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeCheckpoint } from '../../src/cpc/checkpoint.ts';
import type { CpcTrainConfig } from '../../src/cpc/config.ts';
import { initParams, packParams, paramLayout } from '../../src/cpc/params.ts';
import { encodeSafetensors } from '../../src/cpc/safetensors.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '..', '..', 'interop', 'pytorch', 'cpc_torch.py');

export interface TorchPeerResult {
  /** e.g. "pytorch-cpu@1.13.0 (float32, 2 threads)" */
  name: string;
  msPerStep: number;
  losses: number[];
}

/** Why the torch peer cannot run here, or null. */
export function torchPeerMissing(): string | null {
  try {
    execFileSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'pipe', timeout: 120_000 });
    return null;
  } catch {
    return `${PYTHON} cannot import torch (apt-get install python3-torch python3-numpy)`;
  }
}

/** Median ms per training step of the torch peer on our init and `signal` [B·L]. */
export async function timeTorchPeer(cfg: CpcTrainConfig, signal: Float32Array, opts: { warmup: number; steps: number }): Promise<TorchPeerResult> {
  const dir = await mkdtemp(join(tmpdir(), 'cpc-torch-peer-'));
  try {
    const layout = paramLayout(cfg);
    const zeros = new Float32Array(layout.total);
    await writeFile(join(dir, 'w.safetensors'), encodeCheckpoint(cfg, layout, 0, { params: packParams(layout, initParams(cfg, cfg.seed)), m: zeros, v: zeros }));
    await writeFile(join(dir, 'x.safetensors'), encodeSafetensors({ signal: { dtype: 'F32', shape: [cfg.batchSize, cfg.window], data: signal } }));
    const { stdout } = await promisify(execFile)(PYTHON, [SCRIPT, 'bench', '--checkpoint', join(dir, 'w.safetensors'), '--batch', join(dir, 'x.safetensors'),
      '--warmup', String(opts.warmup), '--steps', String(opts.steps)], { maxBuffer: 1 << 20 });
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { ms_per_step: number; losses: number[]; threads: number; torch: string };
    return { name: `pytorch-cpu@${r.torch} (float32, ${r.threads} threads)`, msPerStep: r.ms_per_step, losses: r.losses };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
