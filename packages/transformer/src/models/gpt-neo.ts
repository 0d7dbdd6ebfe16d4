/**
 * GPT-Neo (`GPTNeoForCausalLM`) as Hugging Face computes it: learned positions, pre-LN blocks alternating
 * global and local attention (`window_size`), no 1/√d scaling of the scores, `gelu_new` MLP, LayerNorm,
 * lm_head tied to `wte`.
 */
import type { GPTNeoConfig } from '@llm-modules/loaders';
import { add, concat, tensor, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { createKVCache, writeCache } from '../cache.js';
import { andMasks, causalMask, mergeHeads, paddingMask, scaledDotProductAttention, splitJointHeads } from '../nn/attention.js';
import { embedding, linear } from '../nn/linear.js';
import { gptNeoMLP } from '../nn/mlp.js';
import { layerNorm } from '../nn/norms.js';
import { declaredParameters, layerNormVars, linearVars, readParameters, type InitRule, type VarBuilder } from '../nn/var-builder.js';
import { defaultPositions, initFromPlan, inputShape, keyLength, maskToKeys, runDecoder, type LayerCache } from './common.js';
import type { ApplyOptions, ApplyOutput, GPTNeoModel, Params } from './types.js';

const normal = (c: GPTNeoConfig): InitRule => ({ kind: 'normal', std: c.initializer_range });
const tokenTable = (vb: VarBuilder, c: GPTNeoConfig) => vb.get('transformer.wte.weight', [c.vocab_size, c.hidden_size], normal(c)); // [V, D]
const positionTable = (vb: VarBuilder, c: GPTNeoConfig) => vb.get('transformer.wpe.weight', [c.max_position_embeddings, c.hidden_size], normal(c)); // [P, D]
const finalNorm = (vb: VarBuilder, c: GPTNeoConfig) => layerNormVars(vb.pp('transformer.ln_f'), c.hidden_size);
const headOf = (vb: VarBuilder, c: GPTNeoConfig) => (c.tie_word_embeddings ? tokenTable(vb, c) : vb.get('lm_head.weight', [c.vocab_size, c.hidden_size], normal(c))); // [V, D]

/** One block's parameters, declared once (names as the safetensors keys, in Hugging Face's definition order). */
function layerWeights(vb: VarBuilder, c: GPTNeoConfig, layer: number) {
  const D = c.hidden_size;
  const I = c.intermediate_size ?? 4 * D;
  const h = vb.pp(`transformer.h.${layer}`);
  const a = h.pp('attn.attention');
  return {
    ln1: layerNormVars(h.pp('ln_1'), D),
    k: a.get('k_proj.weight', [D, D], normal(c)),
    v: a.get('v_proj.weight', [D, D], normal(c)),
    q: a.get('q_proj.weight', [D, D], normal(c)),
    out: linearVars(a.pp('out_proj'), D, D, normal(c)),
    ln2: layerNormVars(h.pp('ln_2'), D),
    fc: linearVars(h.pp('mlp.c_fc'), D, I, normal(c)),
    proj: linearVars(h.pp('mlp.c_proj'), I, D, normal(c)),
  };
}

/** Every parameter in definition order with its init (`lm_head.weight` only when `tie_word_embeddings` is false). */
const gptNeoPlan = (c: GPTNeoConfig) =>
  declaredParameters((vb) => {
    tokenTable(vb, c);
    positionTable(vb, c);
    for (let l = 0; l < c.num_layers; l++) layerWeights(vb, c, l);
    finalNorm(vb, c);
    headOf(vb, c);
  }, c.initializer_range);

/**
 * Every parameter of a GPT-Neo config with its shape, keyed by the safetensors name. `lm_head.weight` only
 * when `tie_word_embeddings` is false.
 * @example-skip a fragment: `config` comes from the caller's code
 * @example `gptNeoParameterShapes(config).get('transformer.wte.weight')` → [vocab_size, hidden_size]
 */
export function gptNeoParameterShapes(c: GPTNeoConfig): Map<string, number[]> {
  return new Map(gptNeoPlan(c).map((p) => [p.name, p.shape]));
}

/**
 * The attention mask of a block: a 0/1 tensor broadcastable to `[B, 1, T, Tk]`. One made by `causalMask`,
 * `paddingMask`, `andMasks` runs as the fused attention primitive (see `scaledDotProductAttention`).
 */
export type GPTNeoMask = Tensor | null;

/** Joint weights already built, keyed by the q weight (then checked against k and v). */
const joints = new WeakMap<Tensor, { k: Tensor; v: Tensor; joint: Tensor }>();

/**
 * `concat([Wq, Wk, Wv])` `[3D, D]` for one product. Weights that are already values (loaded, or the
 * parameters between training steps) are joined once on the host and the result reused for as long as
 * they live: a decoding step then runs no concat kernel (it copied every layer's three matrices,
 * ~85 MB a token at 125M). Weights being traced for a gradient (or not readable on the host, a GPU
 * backend's) stay a lazy concat, whose backward hands each its slice.
 */
function jointQkv(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const hit = joints.get(q);
  if (hit && hit.k === k && hit.v === v) return hit.joint;
  const host = [q, k, v].map(hostMatrix);
  if (host.some((x) => !x)) return concat([q, k, v], 0); // [3D, D]
  const [D, W] = q.shape;
  const data = new Float32Array(3 * D * W);
  host.forEach((read, p) => read!(data, p * D * W));
  const joint = tensor(data, [3 * D, W]); // [3D, D]
  joints.set(q, { k, v, joint });
  return joint;
}

/** For a realized float32 matrix whose storage the host can read: a copy into `out` at `at`. */
function hostMatrix(t: Tensor): ((out: Float32Array, at: number) => void) | undefined {
  const view = t.view;
  const data = view?.storage.data;
  // float32 storage only: the reference backend's float64 values must not be rounded
  if (!view || !(data instanceof Float32Array) || t.rank !== 2 || t.dtype !== 'float32') return undefined;
  const [R, C] = t.shape;
  const [sr, sc] = view.strides;
  return (out, at) => {
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[at + r * C + c] = data[view.offset + r * sr + c * sc];
  };
}

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
  const w = layerWeights(readParameters(params), c, layer);
  const eps = c.layer_norm_epsilon;
  const h = layerNorm(x, w.ln1.weight, w.ln1.bias, eps); // [B, T, D]
  // q, k and v in one product: three [D, D] projections are each too thin a GEMM to use the threads well
  const qkv = linear(h, jointQkv(w.q, w.k, w.v)); // [B, T, 3D]
  const [q, k0, v0] = splitJointHeads(qkv, 3, c.num_heads); // 3 × [B, nh, T, hd]
  let [k, v] = [k0, v0];
  if (cache) {
    k = writeCache(cache.key, k, cache.past, cache.capacity); // [B, nh, Tk, hd]
    v = writeCache(cache.value, v, cache.past, cache.capacity); // [B, nh, Tk, hd]
  }
  const o = scaledDotProductAttention(q, k, v, { mask, scale: 1 }); // [B, nh, T, hd]
  let y = add(x, linear(mergeHeads(o), w.out.weight, w.out.bias)); // [B, T, D]
  const h2 = layerNorm(y, w.ln2.weight, w.ln2.bias, eps); // [B, T, D]
  const mlp = { c_fc_weight: w.fc.weight, c_fc_bias: w.fc.bias!, c_proj_weight: w.proj.weight, c_proj_bias: w.proj.bias! };
  y = add(y, gptNeoMLP(h2, mlp, c.activation_function)); // [B, T, D]
  return { hidden: y, key: k, value: v };
}

function apply(c: GPTNeoConfig, params: Params, inputIds: Tensor | null, opts: ApplyOptions = {}): ApplyOutput {
  const [, T] = inputShape(inputIds, opts.inputsEmbeds);
  const cache = opts.cache ?? null;
  const past = cache?.length ?? 0;
  const Tk = keyLength(cache, T);
  const positions = opts.positionIds ?? defaultPositions(T, past); // [B|1, T]
  const vb = readParameters(params);
  const tokens = opts.inputsEmbeds ?? embedding(tokenTable(vb, c), inputIds!); // [B, T, D]
  const x = add(tokens, embedding(positionTable(vb, c), positions)); // [B, T, D]
  const keyMask = maskToKeys(opts.attentionMask, Tk); // [B, Tk]
  const pad = keyMask ? paddingMask(keyMask) : null; // [B, 1, 1, Tk]
  const masks: Record<string, Tensor> = {};
  const maskFor = (kind: 'global' | 'local'): GPTNeoMask => {
    if (!masks[kind]) {
      const causal = causalMask({ queryLength: T, keyLength: Tk, pastLength: past, window: kind === 'local' ? c.window_size : undefined }); // [1, 1, T, Tk]
      masks[kind] = pad ? andMasks(causal, pad) : causal; // [B|1, 1, T, Tk]
    }
    return masks[kind];
  };
  return runDecoder(opts, x, {
    layers: c.num_layers,
    block: (l, h, layerCache) => gptNeoBlock(params, c, l, h, maskFor(c.attention_layers[l]), layerCache),
    finalNorm: (h) => {
      const n = finalNorm(vb, c);
      return layerNorm(h, n.weight, n.bias, c.layer_norm_epsilon);
    },
    head: () => headOf(vb, c),
  });
}

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
  const plan = gptNeoPlan(config);
  const shapes = new Map(plan.map((p) => [p.name, p.shape]));
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
