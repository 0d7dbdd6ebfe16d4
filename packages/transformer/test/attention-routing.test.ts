/**
 * `scaledDotProductAttention` runs masks made by causalMask / paddingMask / andMasks as the fused
 * attention primitive, and any other mask tensor as the composite. The two paths must give the same
 * values and gradients for every mask real callers build (trainer batches, GPT-Neo's local window, a
 * static KV cache while decoding, grouped KV heads, bridge cross-attention), and the models must reach
 * the fused path on padded batches: a right-padded row's logits equal that row run alone.
 */
import { describe, expect, it } from 'vitest';
import { mul, notEqual, prngKey, randomUniform, setBackend, sum, tanh, tensor, type Tensor } from '@llm-modules/tensor';
import { valueAndGrad } from '@llm-modules/autograd';
import { parseConfig, type Qwen2Config } from '@llm-modules/loaders';
import { andMasks, causalMask, gptNeo, maskParts, paddingMask, qwen2, scaledDotProductAttention } from '../src/index.js';
import { tinyGptNeoConfig } from './tiny-gpt-neo.js';

const rand = (shape: number[], seed: number) => randomUniform(prngKey(seed), shape, { min: -1, max: 1 });
const keys = (rows: number[][]) => tensor(Int32Array.from(rows.flat()), [rows.length, rows[0].length]); // [B, Tk]

/** Ops of every pending node behind `t`. */
function ops(t: Tensor): Map<string, number> {
  const seen = new Set<Tensor>();
  const out = new Map<string, number>();
  const stack = [t];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    out.set(x.op, (out.get(x.op) ?? 0) + 1);
    stack.push(...x.inputs);
  }
  return out;
}

const maxDiff = async (a: Tensor, b: Tensor): Promise<number> => {
  const [x, y] = [await a.data(), await b.data()];
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
  return m;
};

interface Case {
  name: string;
  B: number;
  H: number;
  KV: number;
  Tq: number;
  Tk: number;
  mask: () => Tensor | null;
  scale?: number;
}

const CASES: Case[] = [
  { name: 'trainer batch: causal + right padding', B: 2, H: 2, KV: 2, Tq: 7, Tk: 7, mask: () => andMasks(causalMask({ queryLength: 7, keyLength: 7 }), paddingMask(keys([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]]))) },
  { name: 'GPT-Neo local layer: window 3 + padding, scale 1', B: 2, H: 2, KV: 2, Tq: 6, Tk: 6, scale: 1, mask: () => andMasks(causalMask({ queryLength: 6, keyLength: 6, window: 3 }), paddingMask(keys([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]]))) },
  { name: 'decoding with a static cache: 1 query after 5, left padding, unwritten slots', B: 2, H: 2, KV: 2, Tq: 1, Tk: 10, mask: () => andMasks(causalMask({ queryLength: 1, keyLength: 10, pastLength: 5 }), paddingMask(keys([[1, 1, 1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]]))) },
  { name: 'Qwen2 GQA: 6 query heads over 2 KV heads, causal + padding', B: 2, H: 6, KV: 2, Tq: 5, Tk: 5, mask: () => andMasks(causalMask({ queryLength: 5, keyLength: 5 }), paddingMask(keys([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]))) },
  { name: 'bridge cross-attention: no causal rule, padded teacher tokens', B: 2, H: 2, KV: 2, Tq: 5, Tk: 8, mask: () => paddingMask(keys([[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0, 0]])) },
  { name: 'causal bridge over a query window starting at 2', B: 1, H: 2, KV: 2, Tq: 4, Tk: 8, mask: () => causalMask({ queryLength: 4, keyLength: 8, pastLength: 2 }) },
  { name: 'left-padded prompt: pad queries see no key (uniform rows)', B: 2, H: 1, KV: 1, Tq: 5, Tk: 5, mask: () => andMasks(causalMask({ queryLength: 5, keyLength: 5 }), paddingMask(keys([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]]))) },
  { name: 'no mask', B: 1, H: 2, KV: 1, Tq: 3, Tk: 4, mask: () => null },
];

describe.each(['cpu', 'webasm'] as const)('attention routing (%s)', (backend) => {
  for (const c of CASES) {
    it(`${c.name}: fused path equals the composite in values and gradients`, async () => {
      setBackend(backend);
      const d = 4;
      const [q, k, v, w] = [rand([c.B, c.H, c.Tq, d], 1), rand([c.B, c.KV, c.Tk, d], 2), rand([c.B, c.KV, c.Tk, d], 3), rand([c.B, c.H, c.Tq, d], 4)];
      const mask = c.mask();
      // the same 0/1 values as a tensor that does not say how it was built
      const plain = mask ? notEqual(mask, 0) : null;
      expect(plain && maskParts(plain)).toBeFalsy();
      const loss = (m: Tensor | null) => (a: Tensor, b: Tensor, x: Tensor) => sum(mul(tanh(scaledDotProductAttention(a, b, x, { mask: m, scale: c.scale })), w));
      const fused = scaledDotProductAttention(q, k, v, { mask, scale: c.scale });
      expect(ops(fused).get('attention')).toBe(1);
      if (plain) expect(ops(scaledDotProductAttention(q, k, v, { mask: plain, scale: c.scale })).has('attention')).toBe(false);
      if (!plain) return; // nothing to compare against: no mask is the fused path's own test
      expect(await maxDiff(fused, scaledDotProductAttention(q, k, v, { mask: plain, scale: c.scale }))).toBeLessThan(1e-5);
      const [, gf] = valueAndGrad(loss(mask), [0, 1, 2])(q, k, v);
      const [, gc] = valueAndGrad(loss(plain), [0, 1, 2])(q, k, v);
      for (let i = 0; i < 3; i++) expect(await maxDiff((gf as Tensor[])[i], (gc as Tensor[])[i]), `d${'qkv'[i]}`).toBeLessThan(1e-4);
    });
  }
});

describe('decoding steps', () => {
  it('one query: the causal rule goes into the key mask, so every step builds the same attention node attributes', async () => {
    setBackend('webasm');
    const [q, k, v] = [rand([1, 2, 1, 4], 1), rand([1, 2, 10, 4], 2), rand([1, 2, 10, 4], 3)];
    const nodes = [5, 6].map((past) => {
      const mask = andMasks(causalMask({ queryLength: 1, keyLength: 10, pastLength: past, window: 3 }), paddingMask(keys([[0, 1, 1, 1, 1, 1, 1, 1, 1, 1]])));
      const out = scaledDotProductAttention(q, k, v, { mask });
      let n = out;
      while (n.op !== 'attention') n = n.inputs[0];
      return { out, mask, attrs: JSON.stringify(n.attrs) };
    });
    expect(nodes[0].attrs).toBe(nodes[1].attrs);
    for (const { out, mask } of nodes) expect(await maxDiff(out, scaledDotProductAttention(q, k, v, { mask: notEqual(mask, 0) }))).toBeLessThan(1e-5);
  });
});

const tinyQwen = parseConfig({ model_type: 'qwen2', vocab_size: 40, hidden_size: 24, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 2, rope_theta: 100 }) as Qwen2Config;

describe.each(['cpu', 'webasm'] as const)('models on padded batches take the fused path (%s)', (backend) => {
  for (const [name, model] of [
    ['GPT-Neo (global + local layers)', gptNeo(tinyGptNeoConfig)],
    ['Qwen2 (GQA)', qwen2(tinyQwen)],
  ] as const) {
    it(`${name}: a right-padded row's logits equal the row run alone`, async () => {
      setBackend(backend);
      const params = model.init(prngKey(5));
      const row = [3, 9, 14, 1, 22, 7, 30, 2];
      const other = [5, 6, 7, 8, 0, 0, 0, 0];
      const batch = model.apply(params, tensor(Int32Array.from([...row, ...other]), [2, 8]), { attentionMask: keys([row.map(() => 1), [1, 1, 1, 1, 0, 0, 0, 0]]) }).logits; // [2, 8, V]
      expect(ops(batch).get('attention')).toBe(model.layers);
      const alone = model.apply(params, tensor(Int32Array.from(other.slice(0, 4)), [1, 4])).logits; // [1, 4, V]
      const V = alone.shape[2];
      const got = (await batch.data()).slice(8 * V, 12 * V);
      const want = await alone.data();
      let m = 0;
      for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
      expect(m).toBeLessThan(1e-5);
    });
  }
});
