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
import { defaultPositions, initFromPlan, initPlan, inputShape, keyLength, maskToKeys, param, runDecoder, type LayerCache } from './common.js';
import type { ApplyOptions, ApplyOutput, InitKind, Params, Qwen2Model } from './types.js';

/**
 * Every parameter of a Qwen2 config with its shape, keyed by the safetensors name. `lm_head.weight` only
 * when `tie_word_embeddings` is false.
 * @example-skip a fragment: `config` comes from the caller's code
 * @example `qwen2ParameterShapes(config).get('model.layers.0.self_attn.k_proj.weight')` → [KV·hd, D]
 */
export function qwen2ParameterShapes(c: Qwen2Config): Map<string, number[]> {
  const D = c.hidden_size;
  const hd = D / c.num_attention_heads;
  const [Hq, Hkv, I] = [c.num_attention_heads * hd, c.num_key_value_heads * hd, c.intermediate_size];
  const m = new Map<string, number[]>([['model.embed_tokens.weight', [c.vocab_size, D]]]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    m.set(`${p}.input_layernorm.weight`, [D]);
    m.set(`${p}.self_attn.q_proj.weight`, [Hq, D]).set(`${p}.self_attn.q_proj.bias`, [Hq]);
    m.set(`${p}.self_attn.k_proj.weight`, [Hkv, D]).set(`${p}.self_attn.k_proj.bias`, [Hkv]);
    m.set(`${p}.self_attn.v_proj.weight`, [Hkv, D]).set(`${p}.self_attn.v_proj.bias`, [Hkv]);
    m.set(`${p}.self_attn.o_proj.weight`, [D, Hq]);
    m.set(`${p}.post_attention_layernorm.weight`, [D]);
    m.set(`${p}.mlp.gate_proj.weight`, [I, D]).set(`${p}.mlp.up_proj.weight`, [I, D]).set(`${p}.mlp.down_proj.weight`, [D, I]);
  }
  m.set('model.norm.weight', [D]);
  if (!c.tie_word_embeddings) m.set('lm_head.weight', [c.vocab_size, D]);
  return m;
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
  const p = (n: string) => param(params, `model.layers.${layer}.${n}`);
  const [H, KV] = [c.num_attention_heads, c.num_key_value_heads];
  const h = rmsNorm(x, p('input_layernorm.weight'), c.rms_norm_eps); // [B, T, D]
  let q = splitHeads(linear(h, p('self_attn.q_proj.weight'), p('self_attn.q_proj.bias')), H); // [B, H, T, hd]
  let k = splitHeads(linear(h, p('self_attn.k_proj.weight'), p('self_attn.k_proj.bias')), KV); // [B, KV, T, hd]
  let v = splitHeads(linear(h, p('self_attn.v_proj.weight'), p('self_attn.v_proj.bias')), KV); // [B, KV, T, hd]
  q = applyRotary(q, rope.cos, rope.sin); // [B, H, T, hd]
  k = applyRotary(k, rope.cos, rope.sin); // [B, KV, T, hd]
  if (cache) {
    k = writeCache(cache.key, k, cache.past, cache.capacity); // [B, KV, Tk, hd]
    v = writeCache(cache.value, v, cache.past, cache.capacity); // [B, KV, Tk, hd]
  }
  const o = scaledDotProductAttention(q, k, v, { mask }); // [B, H, T, hd]
  let y = add(x, linear(mergeHeads(o), p('self_attn.o_proj.weight'))); // [B, T, D]
  const h2 = rmsNorm(y, p('post_attention_layernorm.weight'), c.rms_norm_eps); // [B, T, D]
  const mlp = { gate_proj: p('mlp.gate_proj.weight'), up_proj: p('mlp.up_proj.weight'), down_proj: p('mlp.down_proj.weight') };
  y = add(y, swiGLU(h2, mlp, activation(c.hidden_act))); // [B, T, D]
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
  const x = opts.inputsEmbeds ?? embedding(param(params, 'model.embed_tokens.weight'), inputIds!); // [B, T, D]
  const keyMask = maskToKeys(opts.attentionMask, Tk); // [B, Tk]
  const causal = causalMask({ queryLength: T, keyLength: Tk, pastLength: past }); // [1, 1, T, Tk]
  const mask = keyMask ? andMasks(causal, paddingMask(keyMask)) : causal; // [B|1, 1, T, Tk]
  return runDecoder(opts, x, {
    layers: c.num_hidden_layers,
    block: (l, h, layerCache) => qwen2Layer(params, c, l, h, mask, rope, layerCache),
    finalNorm: (h) => rmsNorm(h, param(params, 'model.norm.weight'), c.rms_norm_eps),
    head: () => (c.tie_word_embeddings ? param(params, 'model.embed_tokens.weight') : param(params, 'lm_head.weight')),
  });
}

/** Hugging Face's `_init_weights` rule for a Qwen2 parameter: norm weights 1, biases 0, the rest normal(0, initializer_range). */
export const qwen2InitKind = (name: string): InitKind => (/(layernorm|norm)\.weight$/.test(name) ? 'ones' : name.endsWith('.bias') ? 'zeros' : 'normal');

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
  const shapes = qwen2ParameterShapes(config);
  const plan = initPlan(shapes, config.initializer_range, qwen2InitKind, { 'model.embed_tokens.weight': config.pad_token_id });
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
