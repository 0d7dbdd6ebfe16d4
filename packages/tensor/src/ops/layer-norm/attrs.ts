/** The LayerNorm primitives' attributes, dimensions and input checks (shared by every file of the op). */
import { TensorError, fmtShape } from '../../errors.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

export interface LayerNormAttrs {
  readonly eps: number;
  readonly [k: string]: unknown;
}

/** Rows and row length of a LayerNorm input (R = 0 for an empty batch). */
export function layerNormDims(shape: Shape): { R: number; C: number } {
  const C = shape[shape.length - 1];
  return { R: shape.slice(0, -1).reduce((a, b) => a * b, 1), C };
}

/** Checks x (float32, rank ≥ 1, C ≥ 1), eps and each of `others` (name, tensor or absent, its shape given C). */
export function checkInputs(op: string, x: Tensor, eps: number, others: readonly [string, Tensor | null | undefined, (C: number) => Shape][]): void {
  if (x.rank < 1 || x.dtype !== 'float32') throw new TensorError(op, `x must be float32 of rank ≥ 1, got ${x.dtype} ${fmtShape(x.shape)}`);
  const C = x.shape[x.rank - 1];
  if (C < 1) throw new TensorError(op, `needs at least one element per row, got x ${fmtShape(x.shape)}`);
  for (const [name, t, shapeOf] of others) {
    if (!t) continue;
    const want = shapeOf(C);
    if (t.dtype !== 'float32' || t.rank !== want.length || t.shape.some((d, k) => d !== want[k])) {
      throw new TensorError(op, `${name} must be float32 ${fmtShape(want)} for x ${fmtShape(x.shape)}, got ${t.dtype} ${fmtShape(t.shape)}`);
    }
  }
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new TensorError(op, `eps must be a finite number ≥ 0, got ${eps}`);
}
