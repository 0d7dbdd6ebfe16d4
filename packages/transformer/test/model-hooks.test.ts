/**
 * The hooks a bridge needs from a model: `inputsEmbeds` instead of the token embeddings, `afterBlock` to act
 * between blocks, and `lmHead` to read the stream with another head. Checked against the blocks run by hand.
 */
import { describe, expect, it } from 'vitest';
import { add, arange, prngKey, randomNormal, reshape, setBackend, type Tensor } from '@llm-modules/tensor';
import { graphOps } from '../../../test-utils/graph.js';
import { tinyGptNeoConfig } from './tiny-gpt-neo.js';
import { causalMask, createModel, embedding, gptNeo, gptNeoBlock, layerNorm, linear, qwen2, type Params } from '../src/index.js';

const neoConfig = tinyGptNeoConfig;
const qwenConfig = {
  model_type: 'qwen2', vocab_size: 40, hidden_size: 16, max_position_embeddings: 64, bos_token_id: null, eos_token_id: null,
  pad_token_id: 3, tie_word_embeddings: false, torch_dtype: null, initializer_range: 0.3, architectures: [], intermediate_size: 24,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, hidden_act: 'silu', rms_norm_eps: 1e-6, rope_theta: 10000,
  use_sliding_window: false, sliding_window: null, max_window_layers: 2, attention_dropout: 0,
} as never;

const maxDiff = async (a: Tensor, b: Tensor) => {
  const [x, y] = [await a.data(), await b.data()];
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
};


describe('model hooks for bridges', () => {
  it('afterBlock replaces the residual stream between blocks: equals the GPT-Neo blocks run by hand', async () => {
    setBackend('cpu');
    const model = gptNeo(neoConfig);
    const params = model.init(prngKey(1));
    const T = 6;
    const embeds = randomNormal(prngKey(2), [1, T, 16]);
    const delta = randomNormal(prngKey(3), [1, T, 16]);
    const head = randomNormal(prngKey(4), [7, 16]);
    const { tokenEmbedding } = model.roles;
    const withoutTokens: Params = Object.fromEntries(Object.entries(params).filter(([n]) => n !== tokenEmbedding));
    const seen: number[] = [];
    const out = model.apply(withoutTokens, null, {
      inputsEmbeds: embeds,
      lmHead: head,
      afterBlock: (l, h) => (seen.push(l), l === 0 ? add(h, delta) : undefined),
    });
    expect(seen).toEqual([0, 1]);
    // by hand: embeds + positions, block 0, + delta, block 1, ln_f, the given head
    let x = add(embeds, embedding(params['transformer.wpe.weight'], reshape(arange(T), [1, T])));
    const mask = (window?: number) => causalMask({ queryLength: T, keyLength: T, window });
    x = add(gptNeoBlock(params, neoConfig, 0, x, mask()).hidden, delta);
    x = gptNeoBlock(params, neoConfig, 1, x, mask(3)).hidden;
    const h = layerNorm(x, params['transformer.ln_f.weight'], params['transformer.ln_f.bias'], 1e-5);
    expect(out.logits.shape).toEqual([1, T, 7]);
    expect(await maxDiff(out.lastHiddenState, h)).toBeLessThan(1e-5);
    expect(await maxDiff(out.logits, linear(h, head))).toBeLessThan(1e-5);
  });

  it('with inputsEmbeds and no padding, GPT-Neo still reaches its fused attention kernel', () => {
    const model = gptNeo(neoConfig);
    const out = model.apply(model.init(prngKey(1)), null, { inputsEmbeds: randomNormal(prngKey(2), [1, 5, 16]), lmHead: randomNormal(prngKey(4), [7, 16]) });
    expect(graphOps(out.logits).has('attention')).toBe(true);
  });

  it('roles, layers and maxPositions describe each family (what a composed model swaps)', () => {
    const neo = createModel(neoConfig);
    const qw = createModel(qwenConfig);
    expect(neo.roles).toEqual({ tokenEmbedding: 'transformer.wte.weight', lmHead: null, positionEmbedding: 'transformer.wpe.weight' });
    expect(qw.roles).toEqual({ tokenEmbedding: 'model.embed_tokens.weight', lmHead: 'lm_head.weight', positionEmbedding: null });
    expect([neo.layers, neo.maxPositions, qw.layers, qw.maxPositions]).toEqual([2, 16, 2, Infinity]);
    for (const m of [neo, qw]) for (const r of Object.values(m.roles)) if (r) expect(m.parameterShapes().has(r)).toBe(true);
  });

  it("init draws what parameterInit plans (Qwen2's pad row zeroed)", async () => {
    const model = qwen2(qwenConfig);
    const plan = model.parameterInit();
    const params = model.init(prngKey(0));
    expect(plan.map((p) => p.name)).toEqual([...model.parameterShapes().keys()]);
    expect(plan.find((p) => p.name === 'model.embed_tokens.weight')?.zeroRow).toBe(3);
    const row = (await params['model.embed_tokens.weight'].data()).subarray(3 * 16, 4 * 16);
    expect([...row].every((v) => v === 0)).toBe(true);
    expect([...(await params['model.norm.weight'].data())].every((v) => v === 1)).toBe(true);
  });
});
