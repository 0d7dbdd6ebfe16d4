/**
 * The cotangent of a transposed product operand (a linear layer's Wᵀ) is computed as the transposed
 * product (P·Q)ᵀ = Qᵀ·Pᵀ (the permute primitive's rule), so a weight gradient comes out contiguous in the
 * weight's layout. Values against hand-written float64 loops; the broadcast case keeps the plain rule.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';
import { grad } from '../src/index.js';

beforeAll(() => T.setBackend('reference'));

const values = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));

/** d/dW of Σ c ⊙ (x · Wᵀ) = cᵀ·x per batch item: [out, in] */
function expected(x: Float64Array, c: Float64Array, batch: number, rows: number, inDim: number, out: number): number[] {
  const g = new Array<number>(batch * out * inDim).fill(0);
  for (let b = 0; b < batch; b++)
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inDim; i++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += c[(b * rows + r) * out + o] * x[(b * rows + r) * inDim + i];
        g[(b * out + o) * inDim + i] = s;
      }
  return g;
}

describe('gradient of a transposed product operand', () => {
  for (const [name, batch] of [
    ['2-D (a linear layer)', 0],
    ['batched [2, …]', 2],
  ] as const) {
    it(`${name}: the weight gradient is a product in the weight's own layout, with the right values`, async () => {
      const [rows, inDim, out] = [5, 4, 3];
      const lead = batch ? [batch] : [];
      const nb = batch || 1;
      const [xv, wv, cv] = [values(nb * rows * inDim, 1), values(nb * out * inDim, 2), values(nb * rows * out, 3)];
      const x = T.tensor(xv, [...lead, rows, inDim]);
      const c = T.tensor(cv, [...lead, rows, out]);
      const swap = batch ? [0, 2, 1] : [1, 0];
      const gw = grad((w: Tensor) => T.sum(T.mul(T.matmul(x, T.permute(w, swap)), c)))(T.tensor(wv, [...lead, out, inDim])) as Tensor;
      expect(gw.op).toBe('matmul'); // not a transposed view of xᵀ·c
      expect(gw.shape).toEqual([...lead, out, inDim]);
      const got = Array.from(await T.readFloat64(gw));
      expected(xv, cv, nb, rows, inDim, out).forEach((v, k) => expect(got[k]).toBeCloseTo(v, 12));
      const view = gw.view!;
      expect(view.strides).toEqual(batch ? [out * inDim, inDim, 1] : [inDim, 1]);
    });
  }

  it('a weight shared over a broadcast batch keeps the summed, transposed rule (same values)', async () => {
    const [rows, inDim, out] = [5, 4, 3];
    const [xv, wv, cv] = [values(2 * rows * inDim, 4), values(out * inDim, 5), values(2 * rows * out, 6)];
    const x = T.tensor(xv, [2, rows, inDim]);
    const c = T.tensor(cv, [2, rows, out]);
    const gw = grad((w: Tensor) => T.sum(T.mul(T.matmul(x, T.transpose(w)), c)))(T.tensor(wv, [out, inDim])) as Tensor;
    const per = expected(xv, cv, 2, rows, inDim, out);
    const got = Array.from(await T.readFloat64(gw));
    got.forEach((v, k) => expect(v).toBeCloseTo(per[k] + per[k + out * inDim], 12));
  });
});
