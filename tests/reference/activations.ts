// ReLU. The backward takes either the input x or the output y = max(x, 0): both are > 0 exactly
// where x > 0, so a kernel may keep whichever tensor it already has alive.

export function reluForward(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/** dx = dy where the input was > 0, else 0 (PyTorch's choice of subgradient 0 at x = 0). */
export function reluBackward(yOrX: Float64Array, dy: Float64Array): Float64Array {
  if (yOrX.length !== dy.length) {
    throw new RangeError(`reluBackward: lengths ${yOrX.length} and ${dy.length} differ`);
  }
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) dx[i] = yOrX[i] > 0 ? dy[i] : 0;
  return dx;
}
