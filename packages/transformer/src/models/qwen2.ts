/**
 * Qwen2 (`Qwen2ForCausalLM`) as Hugging Face computes it: RMSNorm (float32), RoPE in the `rotate_half`
 * convention, grouped-query attention, q/k/v with bias and o_proj without, SwiGLU MLP, tied or untied head.
 */
import type { Qwen2Config } from '@llm-modules/loaders';
import { add, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { createKVCache, writeCache } from '../cache.js';
import { activation } from '../nn/activations.js';
import { andMasks, causalMask, mergeHeads, paddingMask, scaledDotProductAttention, splitHeads } from '../nn/attention.js';
import { embedding, linear } from '../nn/linear.js';
import { swiGLU } from '../nn/mlp.js';
import { rmsNorm } from '../nn/norms.js';
import { applyRotary, rotaryCosSin } from '../nn/rope.js';
import { declaredParameters, linearVars, readParameters, type InitRule, type VarBuilder } from '../nn/var-builder.js';
import { defaultPositions, initFromPlan, inputShape, keyLength, maskToKeys, runDecoder, type LayerCache } from './common.js';
import type { ApplyOptions, ApplyOutput, Params, Qwen2Model } from './types.js';

const normal = (c: Qwen2Config): InitRule => ({ kind: 'normal', std: c.initializer_range });
const tokenTable = (vb: VarBuilder, c: Qwen2Config) => vb.get('model.embed_tokens.weight', [c.vocab_size, c.hidden_size], { ...normal(c), zeroRow: c.pad_token_id }); // [V, D]
const finalNorm = (vb: VarBuilder, c: Qwen2Config) => vb.get('model.norm.weight', [c.hidden_size], { kind: 'ones' }); // [D]
const headOf = (vb: VarBuilder, c: Qwen2Config) => (c.tie_word_embeddings ? tokenTable(vb, c) : vb.get('lm_head.weight', [c.vocab_size, c.hidden_size], normal(c))); // [V, D]

/** One decoder layer's parameters, declared once (names as the safetensors keys, in Hugging Face's definition order). */
function layerWeights(vb: VarBuilder, c: Qwen2Config, layer: number) {
  const D = c.hidden_size;
  const hd = D / c.num_attention_heads;
  const [Hq, Hkv, I] = [c.num_attention_heads * hd, c.num_key_value_heads * hd, c.intermediate_size];
  const l = vb.pp(`model.layers.${layer}`);
  return {
    inputNorm: l.get('input_layernorm.weight', [D], { kind: 'ones' }),
    q: linearVars(l.pp('self_attn.q_proj'), D, Hq, normal(c)),
    k: linearVars(l.pp('self_attn.k_proj'), D, Hkv, normal(c)),
    v: linearVars(l.pp('self_attn.v_proj'), D, Hkv, normal(c)),
    o: linearVars(l.pp('self_attn.o_proj'), Hq, D, normal(c), false),
    postNorm: l.get('post_attention_layernorm.weight', [D], { kind: 'ones' }),
    gate: l.get('mlp.gate_proj.weight', [I, D], normal(c)),
    up: l.get('mlp.up_proj.weight', [I, D], normal(c)),
    down: l.get('mlp.down_proj.weight', [D, I], normal(c)),
  };
}

/** Every parameter in definition order with its init (`lm_head.weight` only when `tie_word_embeddings` is false). */
const qwen2Plan = (c: Qwen2Config) =>
  declaredParameters((vb) => {
    tokenTable(vb, c);
    for (let l = 0; l < c.num_hidden_layers; l++) layerWeights(vb, c, l);
    finalNorm(vb, c);
    headOf(vb, c);
  }, c.initializer_range);

/**
 * Every parameter of a Qwen2 config with its shape, keyed by the safetensors name. `lm_head.weight` only
 * when `tie_word_embeddings` is false.
 * @example-skip a fragment: `config` comes from the caller's code
 * @example `qwen2ParameterShapes(config).get('model.layers.0.self_attn.k_proj.weight')` → [KV·hd, D]
 */
export function qwen2ParameterShapes(c: Qwen2Config): Map<string, number[]> {
  return new Map(qwen2Plan(c).map((p) => [p.name, p.shape]));
}

/**
 * One Qwen2 decoder layer: `x + o_proj(attn(rope(q), rope(k), v))` on `input_layernorm(x)`, then
 * `x + mlp(post_attention_layernorm(x))`. `rope` = the `{ cos, sin }` of {@link rotaryCosSin}.
 * @example-skip a fragment: `params` comes from the caller's code
 * @example `qwen2Layer(params, config, 0, x, causalMask({ queryLength: T, keyLength: T }), rotaryCosSin(positions, hd, config.rope_theta)).hidden`
 */
export function qwen2Layer(
  params: Params,
  c: Qwen2Config,
  layer: number,
  x: Tensor,
  mask: Tensor | null,
  rope: { cos: Tensor; sin: Tensor },
  cache?: LayerCache,
): { hidden: Tensor; key: Tensor; value: Tensor } {
  const w = layerWeights(readParameters(params), c, layer);
  const [H, KV] = [c.num_attention_heads, c.num_key_value_heads];
  const h = rmsNorm(x, w.inputNorm, c.rms_norm_eps); // [B, T, D]
  let q = splitHeads(linear(h, w.q.weight, w.q.bias), H); // [B, H, T, hd]
  let k = splitHeads(linear(h, w.k.weight, w.k.bias), KV); // [B, KV, T, hd]
  let v = splitHeads(linear(h, w.v.weight, w.v.bias), KV); // [B, KV, T, hd]
  q = applyRotary(q, rope.cos, rope.sin); // [B, H, T, hd]
  k = applyRotary(k, rope.cos, rope.sin); // [B, KV, T, hd]
  if (cache) {
    k = writeCache(cache.key, k, cache.past, cache.capacity); // [B, KV, Tk, hd]
    v = writeCache(cache.value, v, cache.past, cache.capacity); // [B, KV, Tk, hd]
  }
  const o = scaledDotProductAttention(q, k, v, { mask }); // [B, H, T, hd]
  let y = add(x, linear(mergeHeads(o), w.o.weight)); // [B, T, D]
  const h2 = rmsNorm(y, w.postNorm, c.rms_norm_eps); // [B, T, D]
  y = add(y, swiGLU(h2, { gate_proj: w.gate, up_proj: w.up, down_proj: w.down }, activation(c.hidden_act))); // [B, T, D]
  return { hidden: y, key: k, value: v };
}

function apply(c: Qwen2Config, params: Params, inputIds: Tensor | null, opts: ApplyOptions = {}): ApplyOutput {
  const [, T] = inputShape(inputIds, opts.inputsEmbeds);
  const cache = opts.cache ?? null;
  const past = cache?.length ?? 0;
  const Tk = keyLength(cache, T);
  const hd = c.hidden_size / c.num_attention_heads;
  const positions = opts.positionIds ?? defaultPositions(T, past); // [B|1, T]
  const rope = rotaryCosSin(positions, hd, c.rope_theta); // [B|1, 1, T, hd]
  const vb = readParameters(params);
  const x = opts.inputsEmbeds ?? embedding(tokenTable(vb, c), inputIds!); // [B, T, D]
  const keyMask = maskToKeys(opts.attentionMask, Tk); // [B, Tk]
  const causal = causalMask({ queryLength: T, keyLength: Tk, pastLength: past }); // [1, 1, T, Tk]
  const mask = keyMask ? andMasks(causal, paddingMask(keyMask)) : causal; // [B|1, 1, T, Tk]
  return runDecoder(opts, x, {
    layers: c.num_hidden_layers,
    block: (l, h, layerCache) => qwen2Layer(params, c, l, h, mask, rope, layerCache),
    finalNorm: (h) => rmsNorm(h, finalNorm(vb, c), c.rms_norm_eps),
    head: () => headOf(vb, c),
  });
}

const IGNORED = /^(lm_head\.weight|model\.layers\.\d+\.self_attn\.rotary_emb\.(inv_freq|cos_cached|sin_cached))$/;

/**
 * Qwen2 as a value: `{ config, init, apply, … }`.
 *
 * @example
 * ```ts
 * import { parseConfig } from '@llm-modules/loaders';
 * import { prngKey, tensor } from '@llm-modules/tensor';
 * import { qwen2 } from '@llm-modules/transformer';
 * const model = qwen2(parseConfig({ model_type: 'qwen2', vocab_size: 96, hidden_size: 48, intermediate_size: 80,
 *   num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 2 }) as never);
 * const { logits } = model.apply(model.init(prngKey(0)), tensor(new Int32Array([1, 2, 3]), [1, 3]));
 * console.log(logits.shape); // [1, 3, 96]
 * ```
 */
export function qwen2(config: Qwen2Config): Qwen2Model {
  if (config.model_type !== 'qwen2') throw new Error(`qwen2: config has model_type "${config.model_type}"`);
  const plan = qwen2Plan(config);
  const shapes = new Map(plan.map((p) => [p.name, p.shape]));
  return {
    config,
    layers: config.num_hidden_layers,
    maxPositions: Number.POSITIVE_INFINITY,
    roles: { tokenEmbedding: 'model.embed_tokens.weight', lmHead: config.tie_word_embeddings ? null : 'lm_head.weight', positionEmbedding: null },
    init: (key: PRNGKey) => initFromPlan(plan, key),
    parameterInit: () => plan.map((p) => ({ ...p, shape: [...p.shape] })),
    apply: (params, inputIds, opts) => apply(config, params, inputIds, opts),
    parameterShapes: () => new Map(shapes),
    isIgnorable: (name) => IGNORED.test(name) && !shapes.has(name),
    createCache: (batch, capacity = null) =>
      createKVCache({ layers: config.num_hidden_layers, batch, kvHeads: config.num_key_value_heads, headDim: config.hidden_size / config.num_attention_heads, capacity }),
  };
}
