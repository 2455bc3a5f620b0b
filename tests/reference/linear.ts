// y = x Wᵀ + b as torch.nn.Linear: x [N, In], w [Out, In], b [Out] | null, y [N, Out].
// The shapes are recovered from the array lengths whenever they determine them (forward with a
// bias; backward always, since N·In, Out·In and N·Out fix N, In and Out). A bias-free forward is
// ambiguous from lengths alone, so it needs `dims`.

export interface LinearDims {
  N: number;
  In: number;
  Out: number;
}

function checked(dims: LinearDims, x: Float64Array, w: Float64Array): LinearDims {
  const { N, In, Out } = dims;
  for (const v of [N, In, Out]) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`linear: bad dims ${JSON.stringify(dims)}`);
  }
  if (x.length !== N * In) throw new RangeError(`linear: x has ${x.length} entries, expected ${N}×${In}`);
  if (w.length !== Out * In) throw new RangeError(`linear: w has ${w.length} entries, expected ${Out}×${In}`);
  return dims;
}

export function linearForward(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  dims?: LinearDims,
): Float64Array {
  let d: LinearDims;
  if (dims) d = dims;
  else if (b) {
    const Out = b.length;
    const In = w.length / Out;
    d = { N: x.length / In, In, Out };
  } else throw new RangeError('linearForward: without a bias the shapes are ambiguous; pass dims');
  const { N, In, Out } = checked(d, x, w);
  if (b && b.length !== Out) throw new RangeError('linear: bias length mismatch');
  const y = new Float64Array(N * Out);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < In; i++) acc += w[o * In + i] * x[n * In + i];
      y[n * Out + o] = acc;
    }
  }
  return y;
}

/** dx = dy W, dw = dyᵀ x, db = Σ_n dy. */
export function linearBackward(
  x: Float64Array,
  w: Float64Array,
  dy: Float64Array,
  dims?: LinearDims,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  let d: LinearDims;
  if (dims) d = dims;
  else {
    // N² = (N·In)(N·Out)/(Out·In).
    const N = Math.round(Math.sqrt((x.length * dy.length) / w.length));
    d = { N, In: x.length / N, Out: dy.length / N };
  }
  const { N, In, Out } = checked(d, x, w);
  if (dy.length !== N * Out) throw new RangeError('linear: dy shape mismatch');
  const dx = new Float64Array(N * In);
  const dw = new Float64Array(Out * In);
  const db = new Float64Array(Out);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      const g = dy[n * Out + o];
      db[o] += g;
      for (let i = 0; i < In; i++) {
        dx[n * In + i] += g * w[o * In + i];
        dw[o * In + i] += g * x[n * In + i];
      }
    }
  }
  return { dx, dw, db };
}
