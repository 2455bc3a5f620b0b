"""Data-parallel training of a cpc-webgpu run with PyTorch, when one device is not enough.

  torchrun --standalone --nproc_per_node=N interop/pytorch/train_ddp.py --run DIR --steps S

Reads DIR/checkpoint.safetensors (ours: parameters, Adam moments, config, step, sampler state) and
trains to step S, writing the same format back (every --checkpoint-every steps and at the end) and
appending DIR/metrics.jsonl, so `cpc-webgpu train --resume --out DIR`, `cpc-webgpu eval` and the
browser demo continue from it. Without a checkpoint in DIR it first starts the run the way `train`
would (`cpc-webgpu batches --steps 0` with --preset/--config/--data/--seed).

Data: rank 0 runs `cpc-webgpu batches --out DIR --resume --steps S` — the very batch stream
`cpc-webgpu train` would draw (same WAV/synthetic loader, same seeded sampler), each batch with the
sampler state after it — and broadcasts each [B, L] batch; rank r trains on windows
[r*B/N, (r+1)*B/N). config.batchSize B is the GLOBAL batch.

Why a step here equals one single-process step on the whole batch: the InfoNCE candidates of
`batch`/`batch-time`/`sampled` negatives are frames of the WHOLE batch, so every rank all-gathers z
(with gradient: the backward all-reduces dLoss/dz and keeps its own slice), normalises each step k
by the global row count B*(T-k), and the parameter gradients are all-reduced as a SUM (one flat
buffer, after backward). This is torch.distributed under torchrun, not the DistributedDataParallel
wrapper: the gather needs a collective inside the backward, and DDP's bucketed hooks would
interleave with it; one explicit all-reduce of one flat buffer is the same sum, in a fixed order.
Backend: nccl when CUDA is available, else gloo.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpc_torch import (CheckpointError, CpcModel, adam_step, encode_checkpoint, forward_backward,  # noqa: E402
                       load_checkpoint, write_file_atomic)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CLI = os.path.join(REPO, 'bin', 'cpc-webgpu.mjs')
BATCHES_FORMAT = 'cpc-webgpu.batches.v1'
CHECKPOINT_FILE = 'checkpoint.safetensors'
METRICS_FILE = 'metrics.jsonl'


class GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward: all-reduce (sum) the gradient, keep this rank's slice."""

    @staticmethod
    def forward(ctx, x):
        ctx.rows = x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        r = dist.get_rank()
        return grad[r * ctx.rows:(r + 1) * ctx.rows]


class BatchStream:
    """Reads `cpc-webgpu batches` output from a child process."""

    def __init__(self, cmd, B, L):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        self.B, self.L = B, L
        header = self._json_line()
        if header.get('format') != BATCHES_FORMAT or header.get('B') != B or header.get('L') != L:
            raise CheckpointError(f'batch stream header {header} does not match B={B}, L={L}')
        self.header = header

    def _json_line(self):
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise CheckpointError(f'the batch stream ({" ".join(self.proc.args[:3])} …) ended early (exit {code})')
        return json.loads(line)

    def next(self):
        rec = self._json_line()
        n = self.B * self.L * 4
        raw = self.proc.stdout.read(n)
        if len(raw) != n:
            raise CheckpointError(f"the batch stream ended inside step {rec.get('step')}'s batch")
        signal = torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(self.B, self.L)
        return rec, signal

    def close(self):
        self.proc.stdout.close()
        self.proc.wait()


def parse_args(argv):
    ap = argparse.ArgumentParser(prog='train_ddp.py', description=__doc__.split('\n')[0])
    ap.add_argument('--run', required=True, help='run folder (checkpoint.safetensors, metrics.jsonl)')
    ap.add_argument('--steps', type=int, required=True, help='train until this step')
    ap.add_argument('--checkpoint-every', type=int, default=100)
    ap.add_argument('--dtype', default='float32', choices=['float32', 'float64'],
                    help='compute dtype (checkpoints are float32 either way)')
    ap.add_argument('--node', default=os.environ.get('NODE', 'node'))
    ap.add_argument('--cli', default=os.environ.get('CPC_WEBGPU_CLI', DEFAULT_CLI), help='bin/cpc-webgpu.mjs')
    ap.add_argument('--preset'), ap.add_argument('--config'), ap.add_argument('--data'), ap.add_argument('--seed')
    return ap.parse_args(argv)


def start_run(args):
    """No checkpoint yet: the step-0 checkpoint `cpc-webgpu train` would start from."""
    cmd = [args.node, args.cli, 'batches', '--out', args.run, '--steps', '0']
    for flag in ('preset', 'config', 'data', 'seed'):
        if getattr(args, flag) is not None:
            cmd += [f'--{flag}', getattr(args, flag)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main(argv):
    args = parse_args(argv)
    distributed = 'RANK' in os.environ
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group('nccl' if cuda else 'gloo')
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    device = torch.device(f'cuda:{int(os.environ.get("LOCAL_RANK", 0))}' if cuda else 'cpu')
    dtype = getattr(torch, args.dtype)
    ckpt = os.path.join(args.run, CHECKPOINT_FILE)
    if rank == 0 and not os.path.exists(ckpt):
        start_run(args)
    if distributed:
        dist.barrier()
    cfg, params, m, v, start, meta = load_checkpoint(ckpt)
    B, L = cfg['batchSize'], cfg['window']
    if B % world:
        raise CheckpointError(f'batchSize {B} is not divisible by the {world} processes (each takes B/N windows)')
    Bl = B // world
    config_json = meta['config']
    model = CpcModel(cfg).to(device=device, dtype=dtype)
    model.load_state_dict({k: t.to(dtype) for k, t in params.items()}, strict=True)
    named = dict(model.named_parameters())
    m = {k: (m[k] if m else torch.zeros_like(params[k])).to(device=device, dtype=dtype) for k in named}
    v = {k: (v[k] if v else torch.zeros_like(params[k])).to(device=device, dtype=dtype) for k in named}
    stream = None
    if rank == 0 and args.steps > start:
        stream = BatchStream([args.node, args.cli, 'batches', '--out', args.run, '--resume', '--steps', str(args.steps)], B, L)
        metrics_path = os.path.join(args.run, METRICS_FILE)
        kept = []
        if os.path.exists(metrics_path):  # as `train --resume`: drop lines past the checkpoint's step
            with open(metrics_path) as f:
                for line in f:
                    try:
                        if json.loads(line).get('step', math.inf) <= start:
                            kept.append(line)
                    except json.JSONDecodeError:
                        pass
        write_file_atomic(metrics_path, ''.join(kept).encode())
        metrics = open(metrics_path, 'a')
    K = cfg['predictionSteps']
    sampler = None
    t0 = time.time()

    def save(step):
        extra = {k: meta[k] for k in meta if k not in ('format', 'config', 'step')}
        extra['cpc.sampler'] = json.dumps(sampler, separators=(',', ':'))
        extra['cpc.trainer'] = json.dumps({'by': 'interop/pytorch/train_ddp.py', 'world_size': world,
                                           'backend': dist.get_backend() if distributed else 'none', 'dtype': args.dtype})
        write_file_atomic(ckpt, encode_checkpoint(config_json, model, m, v, step, extra))

    try:
        for step in range(start + 1, args.steps + 1):
            signal = torch.empty(B, L, dtype=torch.float32, device=device)
            if rank == 0:
                rec, batch = stream.next()
                if rec['step'] != step:
                    raise CheckpointError(f"batch stream gave step {rec['step']}, expected {step}")
                sampler = rec['sampler']
                signal.copy_(batch)
            if distributed:
                dist.broadcast(signal, 0)
            x = signal[rank * Bl:(rank + 1) * Bl].to(dtype)
            model.zero_grad(set_to_none=False)
            loss, sums, correct, T = forward_backward(model, x, cfg, step, b0=rank * Bl, B=B,
                                                      gather=GatherWithGrad.apply if distributed else None)
            flat = torch.cat([p.grad.reshape(-1) for p in named.values()])
            stats = torch.cat([loss.detach().reshape(1), sums.to(dtype), correct.to(dtype)])
            if distributed:
                dist.all_reduce(flat)
                dist.all_reduce(stats)
            grads, at = {}, 0
            for k, p in named.items():
                grads[k] = flat[at:at + p.numel()].view_as(p)
                at += p.numel()
            lr, norm, non_finite = adam_step({k: p.data for k, p in named.items()}, grads, m, v, step, cfg['optimizer'])
            rows = [B * (T - k) for k in range(1, K + 1)]
            total = float(stats[0])
            if rank == 0:
                metrics.write(json.dumps({
                    'step': step, 'loss': total, 'acc': [float(stats[1 + K + i]) / rows[i] for i in range(K)],
                    'loss_per_k': [float(stats[1 + i]) / rows[i] for i in range(K)], 'lr': lr, 'grad_norm': norm,
                    'steps_per_s': round((step - start) / (time.time() - t0), 3)}) + '\n')
                metrics.flush()
            if non_finite or not math.isfinite(total):
                raise CheckpointError(f'non-finite loss or gradient at step {step} (loss {total}, gradient norm {norm}); '
                                      f'stopped without saving: the last good checkpoint is kept in {ckpt}')
            if rank == 0 and (step % args.checkpoint_every == 0 or step == args.steps):
                save(step)
    finally:
        if stream:
            stream.close()
            metrics.close()
    if rank == 0 and args.steps > start:
        print(json.dumps({'steps': args.steps, 'from_step': start, 'world_size': world, 'final_loss': total,
                          'seconds': round(time.time() - t0, 2), 'checkpoint': ckpt}))
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (CheckpointError, OSError, subprocess.CalledProcessError) as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
