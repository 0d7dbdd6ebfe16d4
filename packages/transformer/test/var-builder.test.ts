/** The var builder: one declaration gives the shape table, the init plan and the forward's checked lookups. */
import { describe, expect, it } from 'vitest';
import { prngKey, tensor, zeros } from '@llm-modules/tensor';
import { declaredParameters, gptNeo, layerNormVars, linearVars, readParameters, type VarBuilder } from '../src/index.js';

const block = (vb: VarBuilder) => ({ norm: layerNormVars(vb.pp('ln'), 3), proj: linearVars(vb.pp('proj'), 3, 2, { kind: 'normal', std: 0.5 }), again: vb.get('ln.weight', [3], { kind: 'ones' }) });

describe('var builder', () => {
  it('declaredParameters lists each name once, in order, with its shape and init', () => {
    expect(declaredParameters((vb) => block(vb.pp('m')), 0.02)).toEqual([
      { name: 'm.ln.weight', shape: [3], init: 'ones', std: 0.02 },
      { name: 'm.ln.bias', shape: [3], init: 'zeros', std: 0.02 },
      { name: 'm.proj.weight', shape: [2, 3], init: 'normal', std: 0.5 },
      { name: 'm.proj.bias', shape: [2], init: 'zeros', std: 0.02 },
    ]);
  });

  it('readParameters hands out the tensors and names a missing or mis-shaped parameter', () => {
    const params = { 'm.ln.weight': zeros([3]), 'm.ln.bias': zeros([3]), 'm.proj.weight': zeros([2, 3]), 'm.proj.bias': zeros([2]) };
    expect(block(readParameters(params).pp('m')).proj.weight).toBe(params['m.proj.weight']);
    expect(() => block(readParameters({ ...params, 'm.proj.weight': zeros([3, 2]) }).pp('m'))).toThrow('parameter "m.proj.weight" is [3, 2], expected [2, 3]');
    const { ['m.ln.bias']: _, ...without } = params;
    expect(() => block(readParameters(without).pp('m'))).toThrow('missing parameter "m.ln.bias"');
  });

  it('a model checks its parameters against its declarations when it runs', () => {
    const model = gptNeo({ model_type: 'gpt_neo', vocab_size: 11, hidden_size: 8, max_position_embeddings: 8, bos_token_id: null, eos_token_id: null, pad_token_id: null, tie_word_embeddings: true, torch_dtype: null, initializer_range: 0.02, architectures: [], num_layers: 1, num_heads: 2, intermediate_size: null, window_size: 4, attention_types: [[['global'], 1]], attention_layers: ['global'], activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, embed_dropout: 0, attention_dropout: 0, resid_dropout: 0 } as never);
    const params = model.init(prngKey(0));
    const ids = tensor(new Int32Array([1, 2]), [1, 2]);
    expect(() => model.apply({ ...params, 'transformer.h.0.mlp.c_fc.bias': zeros([31]) }, ids)).toThrow('parameter "transformer.h.0.mlp.c_fc.bias" is [31], expected [32]');
  });
});
