/**
 * GPT-Neo with no attention mask and with an all-ones one (a key mask input the fused attention reads):
 * both run the fused primitive and must agree, in the logits and in the gradients of a loss, for global
 * and local (windowed) layers. attention-routing.test.ts compares the fused path with the composite.
 */
import { describe, expect, it } from 'vitest';
import { ones, prngKey, setBackend, tensor, type Tensor } from '@llm-modules/tensor';
import { treeLeaves, valueAndGrad } from '@llm-modules/autograd';
import { causalLMLoss, gptNeo } from '../src/index.js';
import { tinyGptNeoConfig } from './tiny-gpt-neo.js';

const config = tinyGptNeoConfig;

const maxDiff = async (a: Tensor, b: Tensor) => {
  const [x, y] = [await a.data(), await b.data()];
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
  return m;
};

describe.each(['cpu', 'webasm'] as const)('GPT-Neo fused attention path (%s)', (backend) => {
  it('no mask and an all-ones mask agree in logits and gradients', async () => {
    setBackend(backend);
    const model = gptNeo(config);
    const params = model.init(prngKey(3));
    const ids = tensor(Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 7 + 3) % 40), [2, 9]);
    const allOnes = ones([2, 9], 'int32');
    const fused = (p: typeof params) => causalLMLoss(model.apply(p, ids).logits, ids);
    const composite = (p: typeof params) => causalLMLoss(model.apply(p, ids, { attentionMask: allOnes }).logits, ids);
    expect(await maxDiff(model.apply(params, ids).logits, model.apply(params, ids, { attentionMask: allOnes }).logits)).toBeLessThan(1e-5);
    const [lf, gf] = valueAndGrad(fused)(params);
    const [lc, gc] = valueAndGrad(composite)(params);
    expect(await maxDiff(lf, lc)).toBeLessThan(1e-5);
    const [a, b] = [treeLeaves(gf), treeLeaves(gc)];
    expect(a.length).toBe(b.length);
    for (let i = 0; i < a.length; i++) expect(await maxDiff(a[i], b[i])).toBeLessThan(1e-4);
  });
});
