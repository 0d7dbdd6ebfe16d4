/**
 * GPT-Neo (`GPTNeoForCausalLM`) as Hugging Face computes it: learned positions, pre-LN blocks alternating
 * global and local attention (`window_size`), no 1/√d scaling of the scores, `gelu_new` MLP, LayerNorm,
 * lm_head tied to `wte`.
 */
import type { GPTNeoConfig } from '@llm-modules/loaders';
import { add, concat, fusedAttention, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { createKVCache, writeCache } from '../cache.js';
import { andMasks, causalMask, mergeHeads, paddingMask, scaledDotProductAttention, splitJointHeads } from '../nn/attention.js';
import { embedding, linear } from '../nn/linear.js';
import { gptNeoMLP } from '../nn/mlp.js';
import { layerNorm } from '../nn/norms.js';
import { defaultPositions, initFromPlan, initPlan, inputShape, keyLength, maskToKeys, param, runDecoder, type LayerCache } from './common.js';
import type { ApplyOptions, ApplyOutput, GPTNeoModel, InitKind, Params } from './types.js';

/**
 * Every parameter of a GPT-Neo config with its shape, keyed by the safetensors name. `lm_head.weight` only
 * when `tie_word_embeddings` is false.
 * @example-skip a fragment: `config` comes from the caller's code
 * @example `gptNeoParameterShapes(config).get('transformer.wte.weight')` → [vocab_size, hidden_size]
 */
export function gptNeoParameterShapes(c: GPTNeoConfig): Map<string, number[]> {
  const D = c.hidden_size;
  const I = c.intermediate_size ?? 4 * D;
  const m = new Map<string, number[]>([
    ['transformer.wte.weight', [c.vocab_size, D]],
    ['transformer.wpe.weight', [c.max_position_embeddings, D]],
  ]);
  for (let l = 0; l < c.num_layers; l++) {
    const p = `transformer.h.${l}`;
    m.set(`${p}.ln_1.weight`, [D]).set(`${p}.ln_1.bias`, [D]);
    for (const n of ['k_proj', 'v_proj', 'q_proj']) m.set(`${p}.attn.attention.${n}.weight`, [D, D]);
    m.set(`${p}.attn.attention.out_proj.weight`, [D, D]).set(`${p}.attn.attention.out_proj.bias`, [D]);
    m.set(`${p}.ln_2.weight`, [D]).set(`${p}.ln_2.bias`, [D]);
    m.set(`${p}.mlp.c_fc.weight`, [I, D]).set(`${p}.mlp.c_fc.bias`, [I]);
    m.set(`${p}.mlp.c_proj.weight`, [D, I]).set(`${p}.mlp.c_proj.bias`, [D]);
  }
  m.set('transformer.ln_f.weight', [D]).set('transformer.ln_f.bias', [D]);
  if (!c.tie_word_embeddings) m.set('lm_head.weight', [c.vocab_size, D]);
  return m;
}

/**
 * The attention of a block: a 0/1 mask tensor, or — when the mask is purely positional (no cache, no
 * padding) — the causal pattern itself, run as the fused attention primitive (same values: every query
 * sees at least itself, so masked scores vanish either way).
 */
export type GPTNeoMask = Tensor | null | { causal: true; window?: number };

/**
 * One GPT-Neo block (pre-LN): `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`. Returns the new residual stream and
 * this layer's keys/values (`[B, nh, Tk, hd]`, the cache's when one is given).
 * @example-skip a fragment: `params` comes from the caller's code
 * @example `const { hidden } = gptNeoBlock(params, config, 0, x, causalMask({ queryLength: T, keyLength: T }));`
 */
export function gptNeoBlock(
  params: Params,
  c: GPTNeoConfig,
  layer: number,
  x: Tensor,
  mask: GPTNeoMask,
  cache?: LayerCache,
): { hidden: Tensor; key: Tensor; value: Tensor } {
  const p = (n: string) => param(params, `transformer.h.${layer}.${n}`);
  const eps = c.layer_norm_epsilon;
  const h = layerNorm(x, p('ln_1.weight'), p('ln_1.bias'), eps); // [B, T, D]
  // q, k and v in one product: three [D, D] projections are each too thin a GEMM to use the threads well
  const qkv = linear(h, concat([p('attn.attention.q_proj.weight'), p('attn.attention.k_proj.weight'), p('attn.attention.v_proj.weight')], 0)); // [B, T, 3D]
  const [q, k0, v0] = splitJointHeads(qkv, 3, c.num_heads); // 3 × [B, nh, T, hd]
  let [k, v] = [k0, v0];
  if (cache) {
    k = writeCache(cache.key, k, cache.past, cache.capacity); // [B, nh, Tk, hd]
    v = writeCache(cache.value, v, cache.past, cache.capacity); // [B, nh, Tk, hd]
  }
  const o =
    mask && 'causal' in mask
      ? fusedAttention(q, k, v, { causal: true, scale: 1, window: mask.window }) // [B, nh, T, hd]
      : scaledDotProductAttention(q, k, v, { mask, scale: 1 }); // [B, nh, T, hd]
  let y = add(x, linear(mergeHeads(o), p('attn.attention.out_proj.weight'), p('attn.attention.out_proj.bias'))); // [B, T, D]
  const h2 = layerNorm(y, p('ln_2.weight'), p('ln_2.bias'), eps); // [B, T, D]
  const mlp = { c_fc_weight: p('mlp.c_fc.weight'), c_fc_bias: p('mlp.c_fc.bias'), c_proj_weight: p('mlp.c_proj.weight'), c_proj_bias: p('mlp.c_proj.bias') };
  y = add(y, gptNeoMLP(h2, mlp, c.activation_function)); // [B, T, D]
  return { hidden: y, key: k, value: v };
}

function apply(c: GPTNeoConfig, params: Params, inputIds: Tensor | null, opts: ApplyOptions = {}): ApplyOutput {
  const [, T] = inputShape(inputIds, opts.inputsEmbeds);
  const cache = opts.cache ?? null;
  const past = cache?.length ?? 0;
  const Tk = keyLength(cache, T);
  const positions = opts.positionIds ?? defaultPositions(T, past); // [B|1, T]
  const tokens = opts.inputsEmbeds ?? embedding(param(params, 'transformer.wte.weight'), inputIds!); // [B, T, D]
  const x = add(tokens, embedding(param(params, 'transformer.wpe.weight'), positions)); // [B, T, D]
  const keyMask = maskToKeys(opts.attentionMask, Tk); // [B, Tk]
  const pad = keyMask ? paddingMask(keyMask) : null; // [B, 1, 1, Tk]
  const masks: Record<string, Tensor> = {};
  const maskFor = (kind: 'global' | 'local'): GPTNeoMask => {
    if (!cache && !pad) return kind === 'local' ? { causal: true, window: c.window_size } : { causal: true };
    if (!masks[kind]) {
      const causal = causalMask({ queryLength: T, keyLength: Tk, pastLength: past, window: kind === 'local' ? c.window_size : undefined }); // [1, 1, T, Tk]
      masks[kind] = pad ? andMasks(causal, pad) : causal; // [B|1, 1, T, Tk]
    }
    return masks[kind];
  };
  return runDecoder(opts, x, {
    layers: c.num_layers,
    block: (l, h, layerCache) => gptNeoBlock(params, c, l, h, maskFor(c.attention_layers[l]), layerCache),
    finalNorm: (h) => layerNorm(h, param(params, 'transformer.ln_f.weight'), param(params, 'transformer.ln_f.bias'), c.layer_norm_epsilon),
    head: () => (c.tie_word_embeddings ? param(params, 'transformer.wte.weight') : param(params, 'lm_head.weight')),
  });
}

/** Hugging Face's `_init_weights` rule for a GPT-Neo parameter: LayerNorm weights 1, biases 0, the rest normal(0, initializer_range). */
export const gptNeoInitKind = (name: string): InitKind => (/ln_(1|2|f)\.weight$/.test(name) ? 'ones' : name.endsWith('.bias') ? 'zeros' : 'normal');

const IGNORED = /^(lm_head\.weight|transformer\.h\.\d+\.attn\.attention\.(bias|masked_bias))$/;

/**
 * GPT-Neo as a value: `{ config, init, apply, … }`.
 *
 * @example
 * ```ts
 * import { parseConfig } from '@llm-modules/loaders';
 * import { prngKey, tensor } from '@llm-modules/tensor';
 * import { gptNeo } from '@llm-modules/transformer';
 * const model = gptNeo(parseConfig({ model_type: 'gpt_neo', vocab_size: 96, hidden_size: 32, num_layers: 2,
 *   num_heads: 4, max_position_embeddings: 64, attention_types: [[['global', 'local'], 1]], window_size: 5 }) as never);
 * const params = model.init(prngKey(0));
 * const { logits } = model.apply(params, tensor(new Int32Array([1, 2, 3]), [1, 3]));
 * console.log(logits.shape); // [1, 3, 96]
 * ```
 */
export function gptNeo(config: GPTNeoConfig): GPTNeoModel {
  if (config.model_type !== 'gpt_neo') throw new Error(`gptNeo: config has model_type "${config.model_type}"`);
  const shapes = gptNeoParameterShapes(config);
  const plan = initPlan(shapes, config.initializer_range, gptNeoInitKind);
  const D = config.hidden_size;
  return {
    config,
    layers: config.num_layers,
    maxPositions: config.max_position_embeddings,
    roles: { tokenEmbedding: 'transformer.wte.weight', lmHead: config.tie_word_embeddings ? null : 'lm_head.weight', positionEmbedding: 'transformer.wpe.weight' },
    init: (key: PRNGKey) => initFromPlan(plan, key),
    parameterInit: () => plan.map((p) => ({ ...p, shape: [...p.shape] })),
    apply: (params, inputIds, opts) => apply(config, params, inputIds, opts),
    parameterShapes: () => new Map(shapes),
    isIgnorable: (name) => IGNORED.test(name) && !shapes.has(name),
    createCache: (batch, capacity = null) =>
      createKVCache({ layers: config.num_layers, batch, kvHeads: config.num_heads, headDim: D / config.num_heads, capacity }),
  };
}
