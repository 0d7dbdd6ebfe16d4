/** float64 reference loops of the fused LayerNorm primitives (see primitive.ts). */
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { layerNormDims, type LayerNormAttrs } from './attrs.js';

type Dense = { shape: Shape; data: Float64Array };

/** Mean and 1/√(σ² + eps) of row n (two passes). */
function rowStats(x: Float64Array, n: number, C: number, eps: number): [number, number] {
  let m = 0;
  for (let c = 0; c < C; c++) m += x[n * C + c];
  m /= C;
  let v = 0;
  for (let c = 0; c < C; c++) v += (x[n * C + c] - m) ** 2;
  return [m, 1 / Math.sqrt(v / C + eps)];
}

export function referenceLayerNorm(node: Tensor, [x, w, b]: readonly Dense[]): Float64Array {
  const { eps } = node.attrs as LayerNormAttrs;
  const { R, C } = layerNormDims(x.shape);
  const out = new Float64Array(R * C);
  for (let n = 0; n < R; n++) {
    const [m, r] = rowStats(x.data, n, C, eps);
    for (let c = 0; c < C; c++) out[n * C + c] = (x.data[n * C + c] - m) * r * w.data[c] + b.data[c];
  }
  return out;
}

/** [dx rows | dweight | dbias], `[R + 2, C]`. */
export function referenceLayerNormGrad(node: Tensor, [x, w, g]: readonly Dense[]): Float64Array {
  const { eps } = node.attrs as LayerNormAttrs;
  const { R, C } = layerNormDims(x.shape);
  const out = new Float64Array((R + 2) * C);
  for (let n = 0; n < R; n++) {
    const [m, r] = rowStats(x.data, n, C, eps);
    const xh = (c: number) => (x.data[n * C + c] - m) * r;
    const a = (c: number) => g.data[n * C + c] * w.data[c];
    let sa = 0;
    let sx = 0;
    for (let c = 0; c < C; c++) {
      sa += a(c);
      sx += a(c) * xh(c);
      out[R * C + c] += g.data[n * C + c] * xh(c);
      out[(R + 1) * C + c] += g.data[n * C + c];
    }
    for (let c = 0; c < C; c++) out[n * C + c] = r * (a(c) - sa / C - (xh(c) * sx) / C);
  }
  return out;
}
