import { test, expect } from 'vitest';
import * as T from '@llm-modules/tensor';
import { grad, valueAndGrad, vjp, checkpoint, customVjp } from '../src/index.js';
test('scratch', async () => {
  T.setBackend('reference');
  const x = T.tensor(new Float64Array([0.5, -1, 2]), [3]);
  const g = grad((x: T.Tensor) => T.sum(T.tanh(x)))(x);
  console.log(await g.data());
  const g2 = grad((x: T.Tensor) => T.sum(grad((y: T.Tensor) => T.sum(T.tanh(y)))(x)))(x);
  console.log(await g2.data());
  const [v, gs] = valueAndGrad((p: { w: T.Tensor }, x: T.Tensor) => T.sum(T.mul(p.w, x)), [0, 1])({ w: x }, x);
  console.log(await v.data(), await gs[0].w.data(), await gs[1].data());
  const gc = grad((x: T.Tensor) => T.sum(checkpoint((h: T.Tensor) => T.tanh(T.mul(h, h)))(x)))(x);
  console.log(await gc.data());
});
