// ChannelNorm as CPC_audio defines it, run in real PyTorch (Debian's python3-torch at /usr/bin/python3,
// float64 autograd), against our float64 oracle (tests/reference/channelNorm.ts), forward and
// backward. The GPU kernel (src/shaders/channelNorm.wgsl, via the conv1d norm path) is checked
// against that oracle in tests/conv1d.test.ts and tests/encoderStack.test.ts; this closes the chain
// GPU → oracle → CPC_audio. The Python class is CPC_audio's cpc/model.py ChannelNorm transcribed:
// weight and bias of shape (1, C, 1) (ours: encoder.{i}.norm.weight / .bias [C], the same numbers),
// torch.var's default unbiased variance over dim 1, eps 1e-5, reset to weight 1 and bias 0.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { channelNormBackward, channelNormForward } from './reference/channelNorm.ts';
import { randomArray } from './reference/random.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = `
import json, sys, torch
class ChannelNorm(torch.nn.Module):
    def __init__(self, numFeatures, epsilon=1e-05, affine=True):
        super().__init__()
        if affine:
            self.weight = torch.nn.parameter.Parameter(torch.Tensor(1, numFeatures, 1))
            self.bias = torch.nn.parameter.Parameter(torch.Tensor(1, numFeatures, 1))
        else:
            self.weight = None
            self.bias = None
        self.epsilon = epsilon
        self.p = 0
        self.affine = affine
        self.reset_parameters()
    def reset_parameters(self):
        if self.affine:
            torch.nn.init.ones_(self.weight)
            torch.nn.init.zeros_(self.bias)
    def forward(self, x):
        cumMean = x.mean(dim=1, keepdim=True)
        cumVar = x.var(dim=1, keepdim=True)
        x = (x - cumMean)*torch.rsqrt(cumVar + self.epsilon)
        if self.weight is not None:
            x = x * self.weight + self.bias
        return x
d = json.load(sys.stdin)
B, C, T = d['B'], d['C'], d['T']
m = ChannelNorm(C).double()
fresh = [m.weight.detach().flatten().tolist(), m.bias.detach().flatten().tolist()]
with torch.no_grad():
    m.weight.copy_(torch.tensor(d['gamma'], dtype=torch.float64).view(1, C, 1))
    m.bias.copy_(torch.tensor(d['beta'], dtype=torch.float64).view(1, C, 1))
x = torch.tensor(d['x'], dtype=torch.float64).view(B, C, T).requires_grad_(True)
y = m(x)
(y * torch.tensor(d['dy'], dtype=torch.float64).view(B, C, T)).sum().backward()
json.dump({'y': y.detach().flatten().tolist(), 'dx': x.grad.flatten().tolist(),
           'dgamma': m.weight.grad.flatten().tolist(), 'dbeta': m.bias.grad.flatten().tolist(), 'fresh': fresh}, sys.stdout)
`;

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!) / (1e-12 + Math.abs(b[i]!)));
  return w;
}

describe('ChannelNorm vs CPC_audio (PyTorch float64)', () => {
  it('forward and backward agree with the oracle to float64 rounding; init γ = 1, β = 0', () => {
    const dims = { B: 2, C: 7, T: 5 };
    const n = dims.B * dims.C * dims.T;
    const x = randomArray(n, 3, 2);
    const gamma = randomArray(dims.C, 4).map((v) => 1 + v);
    const beta = randomArray(dims.C, 5);
    const dy = randomArray(n, 6);
    const run = spawnSync(PYTHON, ['-c', SCRIPT], {
      input: JSON.stringify({ ...dims, x: [...x], gamma: [...gamma], beta: [...beta], dy: [...dy] }), encoding: 'utf8', timeout: 120_000,
    });
    expect(run.status, `python3-torch (${PYTHON}) is the reference here: ${run.error?.message ?? run.stderr}`).toBe(0);
    const torch = JSON.parse(run.stdout) as Record<'y' | 'dx' | 'dgamma' | 'dbeta', number[]> & { fresh: number[][] };
    const f = channelNormForward(x, gamma, beta, dims);
    const g = channelNormBackward(x, gamma, dy, dims);
    // Both sides are float64 with sums of ≤ C·B·T = 70 terms of O(1): relative agreement ~1e-14;
    // 1e-10 leaves room for torch's different summation order. A biased variance (÷C instead of
    // ÷(C − 1)) changes y by √(6/7) − 1 ≈ 7 %.
    expect(maxRel(f.y, torch.y)).toBeLessThan(1e-10);
    expect(maxRel(g.dx, torch.dx)).toBeLessThan(1e-10);
    expect(maxRel(g.dgamma, torch.dgamma)).toBeLessThan(1e-10);
    expect(maxRel(g.dbeta, torch.dbeta)).toBeLessThan(1e-10);
    expect(torch.fresh[0]).toEqual(new Array(7).fill(1));
    expect(torch.fresh[1]).toEqual(new Array(7).fill(0));
  }, 180_000);
});
