/** float64 reference loops of the fused softmax cross-entropy primitives (see primitive.ts). */
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { countsLabel, type CrossEntropyAttrs } from './attrs.js';

type Dense = { shape: Shape; data: Float64Array };

/** logsumexp of row n of x [N, C], shifted by the row max (the kernels' `v > m` scan). */
function rowLogsumexp(x: Dense, n: number): number {
  const C = x.shape[1];
  let m = -Infinity;
  for (let c = 0; c < C; c++) if (x.data[n * C + c] > m) m = x.data[n * C + c];
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(x.data[n * C + c] - m);
  return m + Math.log(s);
}

export function referenceSoftmaxCrossEntropy(node: Tensor, [x, labels]: readonly Dense[]): Float64Array {
  const { ignoreIndex } = node.attrs as CrossEntropyAttrs;
  const [N, C] = x.shape;
  const out = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const l = labels.data[n];
    if (countsLabel(l, C, ignoreIndex)) out[n] = rowLogsumexp(x, n) - x.data[n * C + l];
  }
  return out;
}

/** g[n]·(softmax(row n) − onehot): the logsumexp from the logits themselves (the `fwd` input is a cache). */
export function referenceSoftmaxCrossEntropyGrad(node: Tensor, [x, labels, , g]: readonly Dense[]): Float64Array {
  const { ignoreIndex } = node.attrs as CrossEntropyAttrs;
  const [N, C] = x.shape;
  const out = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    const l = labels.data[n];
    if (!countsLabel(l, C, ignoreIndex)) continue;
    const lse = rowLogsumexp(x, n);
    for (let c = 0; c < C; c++) out[n * C + c] = g.data[n] * (Math.exp(x.data[n * C + c] - lse) - (c === l ? 1 : 0));
  }
  return out;
}
