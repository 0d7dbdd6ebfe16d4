/**
 * GPT-Neo with no attention mask and with an all-ones one (a key mask input the fused attention reads):
 * both run the fused primitive and must agree, in the logits and in the gradients of a loss, for global
 * and local (windowed) layers. attention-routing.test.ts compares the fused path with the composite.
 */
import { describe, expect, it } from 'vitest';
import * as T from '@llm-modules/tensor';
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

describe('GPT-Neo joint q/k/v weight', () => {
  const concats = (t: Tensor): Tensor[] => {
    const seen = new Set<Tensor>();
    const found: Tensor[] = [];
    const stack = [t];
    while (stack.length) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      if (x.op === 'concat' && x.shape[0] === 3 * config.hidden_size) found.push(x);
      stack.push(...x.inputs);
    }
    return found;
  };

  it('is joined once for weights that are values (no concat per call), and stays a lazy concat under autodiff', async () => {
    setBackend('webasm');
    const model = gptNeo(config);
    const params = model.init(prngKey(4));
    const ids = tensor(Int32Array.from([1, 2, 3, 4]), [1, 4]);
    const first = model.apply(params, ids).logits;
    expect(concats(first)).toEqual([]);
    // the same joint tensors on the next call: built once, reused
    const joints = (t: Tensor) => {
      const out = new Set<Tensor>();
      const stack = [t];
      const seen = new Set<Tensor>();
      while (stack.length) {
        const x = stack.pop()!;
        if (seen.has(x)) continue;
        seen.add(x);
        if (x.inputs.length === 0 && x.shape[0] === 3 * config.hidden_size) out.add(x);
        stack.push(...x.inputs);
      }
      return out;
    };
    const [a, b] = [joints(first), joints(model.apply(params, ids).logits)];
    expect(a.size).toBe(config.num_layers);
    expect([...a].every((j) => b.has(j))).toBe(true);
    let traced = 0;
    valueAndGrad((p: typeof params) => {
      const logits = model.apply(p, ids).logits;
      traced = concats(logits).length;
      return causalLMLoss(logits, ids);
    })(params);
    expect(traced).toBe(config.num_layers);
    // equal to the unjoined weights' product: the same logits as a model reading copies of the params
    const copies = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, T.mul(t, 1)]));
    expect(await maxDiff(first, model.apply(copies, ids).logits)).toBeLessThan(1e-6);
  });
});
