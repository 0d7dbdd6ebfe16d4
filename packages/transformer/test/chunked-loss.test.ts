/** The chunked head loss against the unchunked composite: same value and gradients. */
import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '@llm-modules/autograd';
import { prngKey, randomNormal, tensor, type Tensor } from '@llm-modules/tensor';
import { causalLMLoss, chunkedCausalLMLoss, IGNORE_INDEX, linear } from '../src/index.js';

const close = (a: Float32Array, b: Float32Array, tol: number) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i])));
  expect(worst).toBeLessThan(tol);
};

describe('chunkedCausalLMLoss', () => {
  for (const chunk of [1, 3, 7, 64]) {
    it(`equals causalLMLoss(linear(h, W)) in value and gradients (T = 7, chunk ${chunk}, ignored labels)`, async () => {
      const [B, T, D, V] = [2, 7, 5, 11];
      const h = randomNormal(prngKey(1), [B, T, D]);
      const W = randomNormal(prngKey(2), [V, D]);
      const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % V);
      ids[3] = IGNORE_INDEX;
      ids[B * T - 2] = IGNORE_INDEX;
      const labels = tensor(ids, [B, T], 'int32');
      const full = valueAndGrad(([x, w]: Tensor[]) => causalLMLoss(linear(x, w), labels))([h, W]) as [Tensor, Tensor[]];
      const chunked = valueAndGrad(([x, w]: Tensor[]) => chunkedCausalLMLoss(x, w, labels, chunk))([h, W]) as [Tensor, Tensor[]];
      close(await chunked[0].data() as Float32Array, await full[0].data() as Float32Array, 1e-5);
      for (let k = 0; k < 2; k++) close(await chunked[1][k].data() as Float32Array, await full[1][k].data() as Float32Array, 1e-4);
    });
  }
});
