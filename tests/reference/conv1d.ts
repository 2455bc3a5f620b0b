// 1-D convolution exactly as torch.nn.Conv1d with padding 0, dilation 1, groups 1.
// Layouts (row-major): x [B, Cin, L], w [Cout, Cin, K] (PyTorch's), b [Cout], y [B, Cout, Lout].

export interface Conv1dDims {
  B: number;
  Cin: number;
  L: number;
  Cout: number;
  K: number;
  stride: number;
}

/** Lout = floor((L − K) / stride) + 1; trailing samples that do not fill a window are dropped. */
export function conv1dOutputLength(L: number, K: number, stride: number): number {
  if (L < K) throw new RangeError(`conv1d: input length ${L} shorter than kernel ${K}`);
  return Math.floor((L - K) / stride) + 1;
}

function checkLen(name: string, a: ArrayLike<number>, n: number): void {
  if (a.length !== n) throw new RangeError(`conv1d: ${name} has length ${a.length}, expected ${n}`);
}

export function conv1dForward(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  dims: Conv1dDims,
): { y: Float64Array; Lout: number } {
  const { B, Cin, L, Cout, K, stride } = dims;
  const Lout = conv1dOutputLength(L, K, stride);
  checkLen('x', x, B * Cin * L);
  checkLen('w', w, Cout * Cin * K);
  if (b) checkLen('b', b, Cout);
  const y = new Float64Array(B * Cout * Lout);
  for (let bi = 0; bi < B; bi++) {
    for (let co = 0; co < Cout; co++) {
      const yRow = (bi * Cout + co) * Lout;
      for (let t = 0; t < Lout; t++) {
        let acc = b ? b[co] : 0;
        for (let ci = 0; ci < Cin; ci++) {
          const xRow = (bi * Cin + ci) * L + t * stride;
          const wRow = (co * Cin + ci) * K;
          for (let k = 0; k < K; k++) acc += w[wRow + k] * x[xRow + k];
        }
        y[yRow + t] = acc;
      }
    }
  }
  return { y, Lout };
}

/**
 * Gradients of conv1dForward given dy [B, Cout, Lout]. Input samples past the last full window
 * get dx = 0 (they never reached the output). db is always returned (sum of dy); callers without
 * a bias ignore it.
 */
export function conv1dBackward(
  x: Float64Array,
  w: Float64Array,
  dy: Float64Array,
  dims: Conv1dDims,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const { B, Cin, L, Cout, K, stride } = dims;
  const Lout = conv1dOutputLength(L, K, stride);
  checkLen('x', x, B * Cin * L);
  checkLen('w', w, Cout * Cin * K);
  checkLen('dy', dy, B * Cout * Lout);
  const dx = new Float64Array(B * Cin * L);
  const dw = new Float64Array(Cout * Cin * K);
  const db = new Float64Array(Cout);
  for (let bi = 0; bi < B; bi++) {
    for (let co = 0; co < Cout; co++) {
      const yRow = (bi * Cout + co) * Lout;
      for (let t = 0; t < Lout; t++) {
        const g = dy[yRow + t];
        db[co] += g;
        for (let ci = 0; ci < Cin; ci++) {
          const xRow = (bi * Cin + ci) * L + t * stride;
          const wRow = (co * Cin + ci) * K;
          for (let k = 0; k < K; k++) {
            dw[wRow + k] += g * x[xRow + k];
            dx[xRow + k] += g * w[wRow + k];
          }
        }
      }
    }
  }
  return { dx, dw, db };
}
