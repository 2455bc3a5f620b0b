"""The cpc-webgpu CPC model as a torch.nn.Module, its loss, its optimizer and its checkpoint format.

Parameter names and shapes are those of our safetensors checkpoints (src/cpc/config.ts paramShapes),
so `load_state_dict(strict=True)` moves weights both ways. The math follows the float64 oracle
tests/reference/cpcModel.ts: Conv1d (no padding) -> [ChannelNorm: unbiased variance, eps 1e-5] -> ReLU
per layer; one GRU layer (h0 = 0); K linear predictors; InfoNCE with `batch`, `batch-time` or
`sampled` negatives, loss = (1/K) sum_k mean over the B*(T-k) valid rows of step k.

Usage (the parity check run by tests/pytorchParity.test.ts; the bench peer of `cpc-webgpu bench --e2e`):
  python3 cpc_torch.py grads --checkpoint W.safetensors --batch X.safetensors --out G.safetensors [--dtype float64]
  python3 cpc_torch.py bench --checkpoint W.safetensors --batch X.safetensors [--warmup 1] [--steps 3]
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CHECKPOINT_FORMAT = 'cpc-webgpu.checkpoint.v1'
CHANNEL_NORM_EPS = 1e-5
SHAPE_FIELDS = ('channels', 'hidden', 'predictionSteps', 'kernels', 'strides', 'norm', 'predictorBias')


class CheckpointError(Exception):
    """A malformed or mismatching file: the CLIs print it as one line."""


# ------------------------------------------------------------------------------------ safetensors
# Debian 12 has no python3-safetensors; the format is small enough to read and write here.

_DTYPES = {'F64': ('<f8', 8), 'F32': ('<f4', 4), 'I64': ('<i8', 8), 'U32': ('<u4', 4), 'I32': ('<i4', 4),
           'F16': ('<f2', 2), 'U8': ('u1', 1)}
_ALIGN_RANK = {'U8': 0, 'F16': 1, 'I32': 3, 'U32': 4, 'F32': 5, 'F64': 6, 'I64': 7}
_TORCH_DTYPE = {torch.float64: 'F64', torch.float32: 'F32', torch.int64: 'I64', torch.int32: 'I32',
                torch.float16: 'F16', torch.uint8: 'U8'}


def read_safetensors(path):
    """{name: torch tensor} and the string metadata of a safetensors file, every offset checked."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError(f'{path}: cannot read: {e.strerror}') from None
    if len(data) < 8:
        raise CheckpointError(f'{path}: {len(data)} bytes, shorter than the 8-byte header length')
    (n,) = struct.unpack('<Q', data[:8])
    if n == 0 or n > len(data) - 8 or n > 100_000_000:
        raise CheckpointError(f'{path}: header length {n} does not fit the file size {len(data)}')
    try:
        header = json.loads(data[8:8 + n].decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f'{path}: header is not valid JSON ({e})') from None
    if not isinstance(header, dict):
        raise CheckpointError(f'{path}: header is not a JSON object')
    meta = header.pop('__metadata__', None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f'{path}: __metadata__ must be an object of strings')
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, h in header.items():
        dt = h.get('dtype') if isinstance(h, dict) else None
        if dt not in _DTYPES:
            raise CheckpointError(f'{path}: tensor {name!r} has unsupported dtype {dt!r}')
        np_dt, size = _DTYPES[dt]
        shape = h.get('shape')
        offsets = h.get('data_offsets')
        begin, end = offsets if isinstance(offsets, list) and len(offsets) == 2 else (None, None)
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise CheckpointError(f'{path}: tensor {name!r} has an invalid shape {shape!r}')
        want = math.prod(shape) * size
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(body) and end - begin == want):
            raise CheckpointError(f'{path}: tensor {name!r} [{", ".join(map(str, shape))}] x {dt} needs {want} bytes, '
                                  f'data_offsets are {begin}..{end} of a {len(body)}-byte data section')
        arr = np.frombuffer(body[begin:end], dtype=np_dt).reshape(shape)
        tensors[name] = torch.from_numpy(arr.astype(arr.dtype.newbyteorder('='), copy=True))
    return tensors, meta


def encode_safetensors(tensors, metadata=None):
    """Bytes in the reference writer's layout: tensors by descending dtype alignment, then name."""
    items = []
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _TORCH_DTYPE:
            raise CheckpointError(f'encode_safetensors: tensor {name!r} has unsupported dtype {t.dtype}')
        dt = _TORCH_DTYPE[t.dtype]
        items.append((name, dt, list(t.shape), t.numpy().astype(_DTYPES[dt][0], copy=False).tobytes()))
    items.sort(key=lambda it: (-_ALIGN_RANK[it[1]], it[0].encode('utf-8')))
    header = {}
    if metadata is not None:
        header['__metadata__'] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    for name, dt, shape, raw in items:
        header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    return struct.pack('<Q', len(text)) + text + b''.join(raw for *_, raw in items)


def write_file_atomic(path, data):
    """Write to a sibling temp file, fsync, rename: a checkpoint is never half-written."""
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ model

def param_shapes(cfg):
    """Our parameter names and shapes in checkpoint order (src/cpc/config.ts paramShapes)."""
    C, H = cfg['channels'], cfg['hidden']
    shapes = {}
    for i, k in enumerate(cfg['kernels']):
        shapes[f'encoder.{i}.weight'] = [C, 1 if i == 0 else C, k]
        shapes[f'encoder.{i}.bias'] = [C]
        if cfg['norm']:
            shapes[f'encoder.{i}.norm.weight'] = [C]
            shapes[f'encoder.{i}.norm.bias'] = [C]
    shapes['gru.weight_ih_l0'] = [3 * H, C]
    shapes['gru.weight_hh_l0'] = [3 * H, H]
    shapes['gru.bias_ih_l0'] = [3 * H]
    shapes['gru.bias_hh_l0'] = [3 * H]
    for k in range(cfg['predictionSteps']):
        shapes[f'predictors.{k}.weight'] = [C, H]
        if cfg['predictorBias']:
            shapes[f'predictors.{k}.bias'] = [C]
    return shapes


class ChannelNorm(nn.Module):
    """CPC_audio's ChannelNorm: per frame over channels, UNBIASED variance, affine per channel.
    Weight and bias are [C] (ours), not CPC_audio's (1, C, 1)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):  # x [B, C, T]
        mu = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, keepdim=True, unbiased=True)
        return (x - mu) * torch.rsqrt(var + CHANNEL_NORM_EPS) * self.weight[None, :, None] + self.bias[None, :, None]


class EncoderLayer(nn.Conv1d):
    """Conv1d (no padding) -> [ChannelNorm] -> ReLU; named so its norm is encoder.{i}.norm.*."""

    def __init__(self, cin, cout, kernel, stride, norm):
        super().__init__(cin, cout, kernel, stride=stride)
        if norm:
            self.norm = ChannelNorm(cout)
        else:
            self.norm = None

    def forward(self, x):
        y = super().forward(x)
        if self.norm is not None:
            y = self.norm(y)
        return F.relu(y)


class CpcModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, H = cfg['channels'], cfg['hidden']
        self.cfg = cfg
        self.encoder = nn.ModuleList(
            EncoderLayer(1 if i == 0 else C, C, k, s, cfg['norm']) for i, (k, s) in enumerate(zip(cfg['kernels'], cfg['strides'])))
        self.gru = nn.GRU(C, H, num_layers=1, batch_first=True)
        self.predictors = nn.ModuleList(nn.Linear(H, C, bias=cfg['predictorBias']) for _ in range(cfg['predictionSteps']))

    def forward(self, signal):
        """signal [B, L] -> z [B, T, C] (frames) and c [B, T, H] (context)."""
        x = signal[:, None, :]
        for layer in self.encoder:
            x = layer(x)
        z = x.transpose(1, 2)
        c, _ = self.gru(z)
        return z, c


# ------------------------------------------------------------------------- negatives and the loss

_M32 = 0xFFFFFFFF


def pcg_hash(v):
    """tests/reference/infonce.ts pcgHash on uint32 values held in int64 tensors (or a Python int)."""
    state = (v * 747796405 + 2891336453) & _M32
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & _M32
    return ((word >> 22) ^ word) & _M32


def negative_sampling_seed(seed, step):
    """src/shaders/infonce.ts negativeSamplingSeed: the sampled mode's seed of optimizer step `step`."""
    return pcg_hash((seed ^ pcg_hash(step & _M32)) & _M32)


def sampled_negatives(seed, step, B, T, k, b0, rows_b, n, device=None, shared=False):
    """negIdx[k-1, b, t, 0..n-1] for b in [b0, b0 + rows_b), t < T - k (flat frame indices b'T + t').

    shared (negatives.shared): the hash takes the position b*T + t instead of the row, so every k of
    a position draws the same n negatives (CPC_audio's sampling), as src/shaders/infonceSampler.wgsl.
    """
    s = pcg_hash(negative_sampling_seed(seed, step))
    b = torch.arange(b0, b0 + rows_b, dtype=torch.int64, device=device)[:, None, None]
    t = torch.arange(T - k, dtype=torch.int64, device=device)[None, :, None]
    j = torch.arange(n, dtype=torch.int64, device=device)[None, None, :]
    row = b * T + t if shared else ((k - 1) * B + b) * T + t
    return pcg_hash(pcg_hash(s ^ row) ^ j) % (B * T)


def cpc_loss(model, z, c, z_all, b0, B, negatives, step=1, seed=0):
    """InfoNCE over this process's rows (windows b0 .. b0 + len(z) of a global batch of B).

    z [Bl, T, C], c [Bl, T, H]: this process's frames and context; z_all [B, T, C]: every frame of the
    global batch (the candidates). Each step k is normalised by the GLOBAL row count B*(T-k), so the
    per-process losses sum to the loss of the whole batch. Returns (loss, loss_sum_per_k [K],
    correct_per_k [K]) with the sums un-normalised for logging.
    """
    Bl, T, C = z.shape
    K = len(model.predictors)
    kind = negatives['kind']
    flat = z_all.reshape(B * T, C)
    dev = z.device  # index tensors live with the data (gather and fancy indexing on CUDA need it)
    bidx = torch.arange(b0, b0 + Bl, device=dev)
    rows_l = torch.arange(Bl, device=dev)
    loss = z.new_zeros(())
    sums, correct = [], []
    for k in range(1, K + 1):
        p = model.predictors[k - 1](c[:, :T - k])  # [Bl, T-k, C]
        if kind == 'batch':
            scores = torch.einsum('btc,ntc->btn', p, z_all[:, k:])  # [Bl, T-k, B]
            s_pos = scores[rows_l, :, bidx]
        elif kind == 'batch-time':
            scores = p @ flat.T  # [Bl, T-k, B*T]
            pos = (bidx[:, None] * T + torch.arange(T - k, device=dev)[None, :] + k)
            s_pos = torch.gather(scores, 2, pos[:, :, None]).squeeze(2)
        elif kind == 'sampled':
            # Slot 0 is the positive, scored by the same contraction as the negatives so that a
            # sampled duplicate of it ties exactly (ties count as correct, as in the oracle).
            pos = (bidx[:, None] * T + torch.arange(T - k, device=dev)[None, :] + k)
            idx = torch.cat([pos[:, :, None], sampled_negatives(seed, step, B, T, k, b0, Bl, negatives['n'], dev, negatives.get('shared', False))], dim=2)
            scores = torch.einsum('btc,btnc->btn', p, flat[idx])
            s_pos = scores[:, :, 0]
        else:
            raise CheckpointError(f"negatives.kind {kind!r} is not 'batch', 'batch-time' or 'sampled'")
        row = torch.logsumexp(scores, dim=2) - s_pos
        sums.append(row.sum())
        # Ties count as correct, as in the oracle: the positive is (one of) the best.
        correct.append((s_pos >= scores.max(dim=2).values).sum())
        loss = loss + row.sum() / (B * (T - k))
    return loss / K, torch.stack(sums).detach(), torch.stack(correct)


def forward_backward(model, x, cfg, step, b0=0, B=None, gather=None):
    """Loss of windows x (rows b0.. of a global batch of B; `gather` all-gathers z across processes)
    and its backward into the parameters' .grad. Returns (loss, loss_sum_per_k, correct_per_k, T)."""
    z, c = model(x)
    z_all = gather(z) if gather else z
    loss, sums, correct = cpc_loss(model, z, c, z_all, b0, B or x.shape[0], cfg['negatives'], step=step, seed=cfg['seed'])
    loss.backward()
    return loss, sums, correct, z.shape[1]


# ------------------------------------------------------------------------------------ checkpoints

def config_from_metadata(meta, source):
    if meta.get('format') not in (None, CHECKPOINT_FORMAT):
        raise CheckpointError(f"{source}: unsupported format {meta['format']!r} (this reads {CHECKPOINT_FORMAT!r})")
    if 'config' not in meta:
        raise CheckpointError(f"{source}: no 'config' in the metadata (not written by cpc-webgpu)")
    try:
        cfg = json.loads(meta['config'])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{source}: metadata 'config' is not valid JSON ({e})") from None
    missing = [f for f in SHAPE_FIELDS + ('negatives', 'window', 'batchSize', 'optimizer', 'seed') if f not in cfg]
    if missing:
        raise CheckpointError(f"{source}: metadata 'config' lacks {', '.join(missing)} (a resolved cpc-webgpu config is needed)")
    return cfg


def load_checkpoint(path):
    """(cfg, params, m, v, step, metadata) of one of our checkpoints; names and shapes matched strictly.
    m and v are None for a weights-only file."""
    tensors, meta = read_safetensors(path)
    cfg = config_from_metadata(meta, path)
    step = int(meta.get('step', '0')) if meta.get('step', '0').isdigit() else None
    if step is None:
        raise CheckpointError(f"{path}: metadata 'step' must be a non-negative integer, got {meta['step']!r}")
    shapes = param_shapes(cfg)
    groups = {'': {}, 'adam.m.': {}, 'adam.v.': {}}
    for name, t in tensors.items():
        prefix = 'adam.m.' if name.startswith('adam.m.') else 'adam.v.' if name.startswith('adam.v.') else ''
        base = name[len(prefix):]
        if base not in shapes:
            raise CheckpointError(f'{path}: unknown tensor {name!r} (not a parameter of this config)')
        if list(t.shape) != shapes[base] or t.dtype != torch.float32:
            raise CheckpointError(f'{path}: tensor {name!r} is {t.dtype} [{", ".join(map(str, t.shape))}]; '
                                  f'this model needs float32 [{", ".join(map(str, shapes[base]))}]')
        groups[prefix][base] = t
    for prefix, got in groups.items():
        if (prefix == '' or got) and len(got) != len(shapes):
            lack = next(n for n in shapes if n not in got)
            raise CheckpointError(f"{path}: missing tensor '{prefix}{lack}' [{', '.join(map(str, shapes[lack]))}]")
    m, v = groups['adam.m.'] or None, groups['adam.v.'] or None
    if (m is None) != (v is None):
        raise CheckpointError(f'{path}: has only one of the two Adam moments (adam.m.*, adam.v.*)')
    return cfg, groups[''], m, v, step, meta


def model_from_checkpoint(path, dtype=torch.float64):
    cfg, params, m, v, step, meta = load_checkpoint(path)
    model = CpcModel(cfg).to(dtype)
    model.load_state_dict({k: t.to(dtype) for k, t in params.items()}, strict=True)
    return model, cfg, m, v, step, meta


def encode_checkpoint(config_json, model, m, v, step, extra):
    """Our checkpoint: F32 parameters, adam.m.<name> / adam.v.<name>, metadata format/config/step."""
    tensors = {}
    for name, p in model.state_dict().items():
        tensors[name] = p.detach().float().cpu()
        tensors[f'adam.m.{name}'] = m[name].detach().float().cpu()
        tensors[f'adam.v.{name}'] = v[name].detach().float().cpu()
    meta = {**extra, 'format': CHECKPOINT_FORMAT, 'config': config_json, 'step': str(step)}
    return encode_safetensors(tensors, meta)


# ------------------------------------------------------------------------------------------ Adam

def learning_rate(step, o):
    """src/cpc/schedule.ts learningRate: linear warm-up, then cosine to minLr over totalSteps."""
    lr, warm, total, min_lr = o['lr'], o['warmupSteps'], o['totalSteps'], o['minLr']
    if warm > 0 and step <= warm:
        return lr * max(step, 0) / warm
    decay = total - warm
    if decay <= 0:
        return lr
    q = min(1.0, max(0.0, (step - warm) / decay))
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * q))


@torch.no_grad()
def adam_step(params, grads, m, v, step, o):
    """One optimizer step with our semantics (src/shaders/adam.wgsl, tests/reference/adam.ts):
    clip_grad_norm_ scale min(1, maxNorm/(|g| + 1e-6)); Adam L2 (g += wd p) or AdamW (p -= lr wd p);
    bias corrections with the GLOBAL step; a non-finite gradient leaves p, m, v unchanged (the step
    still counts). Returns (lr, |g| before clipping, non_finite)."""
    lr = learning_rate(step, o)
    sq = sum(float((g.double() ** 2).sum()) for g in grads.values())
    norm = math.sqrt(sq)
    if not math.isfinite(norm) or any(not bool(torch.isfinite(g).all()) for g in grads.values()):
        return lr, norm, True
    scale = 1.0 if o['maxGradNorm'] is None else min(1.0, o['maxGradNorm'] / (norm + 1e-6))
    b1, b2, eps, wd = o['beta1'], o['beta2'], o['eps'], o['weightDecay']
    step_size = lr / (1 - b1 ** step)
    inv_bc2_sqrt = 1 / math.sqrt(1 - b2 ** step)
    l2, decay = (0.0, lr * wd) if o['decoupled'] else (wd, 0.0)
    for name, p in params.items():
        g = grads[name] * scale + l2 * p
        p.sub_(decay * p)
        m[name].mul_(b1).add_((1 - b1) * g)
        v[name].mul_(b2).add_((1 - b2) * g * g)
        p.sub_(step_size * (m[name] / (v[name].sqrt() * inv_bc2_sqrt + eps)))
    return lr, norm, False


# ------------------------------------------------------------------------------------------- CLI

def grads_command(args):
    dtype = getattr(torch, args.dtype)
    model, cfg, _, _, step, _ = model_from_checkpoint(args.checkpoint, dtype)
    tensors, _ = read_safetensors(args.batch)
    if 'signal' not in tensors or tensors['signal'].dim() != 2:
        raise CheckpointError(f"{args.batch}: needs a tensor 'signal' [B, L]")
    signal = tensors['signal'].to(dtype)
    B = signal.shape[0]
    # The sampled mode's negatives are those of the step after the checkpoint's, as in `cpc-webgpu grads`.
    loss, sums, correct, T = forward_backward(model, signal, cfg, step + 1)
    K = len(model.predictors)
    rows = torch.tensor([B * (T - k) for k in range(1, K + 1)], dtype=torch.float64)
    summary = {'loss': float(loss), 'loss_per_k': (sums.double() / rows).tolist(),
               'acc_per_k': (correct.double() / rows).tolist(), 'B': B, 'T': T, 'torch': torch.__version__}
    out = {name: p.grad.detach().to(dtype) for name, p in model.named_parameters()}
    write_file_atomic(args.out, encode_safetensors(out, {k: json.dumps(v) for k, v in summary.items()}))
    print(json.dumps(summary))
    return 0


def bench_command(args):
    """ms per training step (forward, backward, our Adam) in float32 on a fixed batch: the PyTorch-CPU
    peer of `cpc-webgpu bench --e2e`."""
    import os
    import time
    # Every core this process may run on, set explicitly: the peer is PyTorch at its best here. Its
    # default is not that — on this 2-core host (2 cores × 1 thread) torch 1.13 started with 1
    # thread on one day and 2 on another (measured: conv1d 64→64, k 8, stride 4, B 8, T 4096: 5.6 ms
    # with 1 thread, 2.4 ms with 2).
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    model, cfg, m, v, step, _ = model_from_checkpoint(args.checkpoint, torch.float32)
    tensors, _ = read_safetensors(args.batch)
    signal = tensors['signal'].float()
    named = dict(model.named_parameters())
    m = {k: torch.zeros_like(p) for k, p in named.items()}
    v = {k: torch.zeros_like(p) for k, p in named.items()}
    times, losses = [], []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=False)
        loss, _, _, _ = forward_backward(model, signal, cfg, step + i + 1)
        adam_step({k: p.data for k, p in named.items()}, {k: p.grad for k, p in named.items()}, m, v, step + i + 1, cfg['optimizer'])
        losses.append(float(loss))  # the loss read back every step, as a user's loop would
        times.append(1000 * (time.perf_counter() - t0))
    timed = sorted(times[args.warmup:])
    print(json.dumps({'ms_per_step': timed[len(timed) // 2], 'step_ms': times, 'losses': losses,
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog='cpc_torch.py', description='cpc-webgpu model in PyTorch')
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('grads', help='loss and every gradient for a checkpoint and a batch')
    g.add_argument('--checkpoint', required=True)
    g.add_argument('--batch', required=True, help="safetensors with 'signal' [B, L]")
    g.add_argument('--out', required=True)
    g.add_argument('--dtype', default='float64', choices=['float64', 'float32'])
    b = sub.add_parser('bench', help='ms per float32 training step on a checkpoint and a batch')
    b.add_argument('--checkpoint', required=True)
    b.add_argument('--batch', required=True, help="safetensors with 'signal' [B, L]")
    b.add_argument('--warmup', type=int, default=1)
    b.add_argument('--steps', type=int, default=3)
    args = ap.parse_args(argv)
    try:
        return grads_command(args) if args.cmd == 'grads' else bench_command(args)
    except (CheckpointError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
