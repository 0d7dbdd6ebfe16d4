/**
 * The student as a stack of blocks fed with `inputs_embeds`, run block by block so a bridge can act inside it.
 * GPT-Neo (learned positions, zeroed at start as released) or Qwen2 (RoPE), from the transformer package's blocks.
 */
import type { GPTNeoConfig, Qwen2Config } from '@llm-modules/loaders';
import { add, arange, foldIn, full, pad, randomNormal, reshape, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import {
  andMasks,
  causalMask,
  embedding,
  gptNeoBlock,
  layerNorm,
  paddingMask,
  qwen2Layer,
  rmsNorm,
  rotaryCosSin,
  type CausalLM,
  type KVCache,
} from '@llm-modules/transformer';
import type { Params } from './types.js';

export interface StudentApplyOptions {
  /** `[B, S]` over cached + new positions (or a static cache's capacity). */
  attentionMask?: Tensor | null;
  /** int32 `[B|1, T]`; default `past … past + T − 1`. */
  positionIds?: Tensor | null;
  cache?: KVCache | null;
  /** Called after each block; a returned tensor replaces the residual stream `[B, T, D]`. */
  afterBlock?: (layer: number, hidden: Tensor) => Tensor | undefined;
}

/** A student built from a transformer-package model, minus its token embeddings and LM head. */
export interface StudentStack {
  readonly model: CausalLM;
  readonly family: 'gpt_neo' | 'qwen2';
  /** Width of the residual stream. */
  readonly width: number;
  readonly layers: number;
  /** Longest sequence it can take (GPT-Neo: `max_position_embeddings`; Qwen2: unbounded). */
  readonly maxPositions: number;
  /** The trained parameters (Hugging Face names) and shapes: no `wte` / `embed_tokens`, no `lm_head`. */
  parameterShapes(): Map<string, number[]>;
  /** Random init as HF's `_init_weights` (normal(0, initializer_range), unit norms, zero biases), `wpe` zeroed. */
  init(key: PRNGKey): Params;
  /** Keep the stack's parameters of a pretrained checkpoint; `zeroPositions` zeroes `wpe` as the released code does. */
  fromPretrained(params: Params, zeroPositions?: boolean): Params;
  /** The final hidden states `[B, T, D]` (after `ln_f` / `model.norm`) and the updated cache. */
  apply(params: Params, inputs: Tensor, opts?: StudentApplyOptions): { hidden: Tensor; cache?: KVCache };
}

const UNUSED = new Set(['transformer.wte.weight', 'model.embed_tokens.weight', 'lm_head.weight']);

function keyMask(mask: Tensor | null | undefined, Tk: number): Tensor | null {
  if (!mask) return null;
  const S = mask.shape[1];
  if (S > Tk) throw new Error(`student: attentionMask covers ${S} positions but the attention has ${Tk} keys`);
  return paddingMask(S === Tk ? mask : pad(mask, [[0, 0], [0, Tk - S]])); // [B, 1, 1, Tk]
}

const positions = (T: number, past: number): Tensor => reshape(add(arange(T), past), [1, T]); // [1, T]
const layerCache = (cache: KVCache | null | undefined, l: number, past: number) =>
  cache ? { key: cache.keys[l], value: cache.values[l], past, capacity: cache.capacity } : undefined;

function runGptNeo(c: GPTNeoConfig, params: Params, inputs: Tensor, o: StudentApplyOptions) {
  const T = inputs.shape[1];
  const cache = o.cache ?? null;
  const past = cache?.length ?? 0;
  const Tk = cache ? (cache.capacity ?? past + T) : T;
  const pos = o.positionIds ?? positions(T, past); // [B|1, T]
  let x = add(inputs, embedding(params['transformer.wpe.weight'], pos)); // [B, T, D]
  const padMask = keyMask(o.attentionMask, Tk);
  const masks = new Map<string, Tensor>();
  const maskFor = (kind: 'global' | 'local') => {
    if (!masks.has(kind)) {
      const causal = causalMask({ queryLength: T, keyLength: Tk, pastLength: past, window: kind === 'local' ? c.window_size : undefined }); // [1, 1, T, Tk]
      masks.set(kind, padMask ? andMasks(causal, padMask) : causal);
    }
    return masks.get(kind)!;
  };
  const keys: Tensor[] = [];
  const values: Tensor[] = [];
  for (let l = 0; l < c.num_layers; l++) {
    const out = gptNeoBlock(params, c, l, x, maskFor(c.attention_layers[l]), layerCache(cache, l, past));
    x = o.afterBlock?.(l, out.hidden) ?? out.hidden; // [B, T, D]
    keys.push(out.key);
    values.push(out.value);
  }
  const hidden = layerNorm(x, params['transformer.ln_f.weight'], params['transformer.ln_f.bias'], c.layer_norm_epsilon); // [B, T, D]
  return { hidden, cache: cache ? { keys, values, length: past + T, capacity: cache.capacity } : undefined };
}

function runQwen2(c: Qwen2Config, params: Params, inputs: Tensor, o: StudentApplyOptions) {
  const T = inputs.shape[1];
  const cache = o.cache ?? null;
  const past = cache?.length ?? 0;
  const Tk = cache ? (cache.capacity ?? past + T) : T;
  const rope = rotaryCosSin(o.positionIds ?? positions(T, past), c.hidden_size / c.num_attention_heads, c.rope_theta); // [B|1, 1, T, hd]
  const padMask = keyMask(o.attentionMask, Tk);
  const causal = causalMask({ queryLength: T, keyLength: Tk, pastLength: past }); // [1, 1, T, Tk]
  const mask = padMask ? andMasks(causal, padMask) : causal;
  let x = inputs; // [B, T, D]
  const keys: Tensor[] = [];
  const values: Tensor[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const out = qwen2Layer(params, c, l, x, mask, rope, layerCache(cache, l, past));
    x = o.afterBlock?.(l, out.hidden) ?? out.hidden; // [B, T, D]
    keys.push(out.key);
    values.push(out.value);
  }
  const hidden = rmsNorm(x, params['model.norm.weight'], c.rms_norm_eps); // [B, T, D]
  return { hidden, cache: cache ? { keys, values, length: past + T, capacity: cache.capacity } : undefined };
}

/**
 * The student stack of a GPT-Neo or Qwen2 model (from `gptNeo(config)`, `qwen2(config)` or `loadPretrained`).
 *
 * @example
 * ```ts
 * import { studentStack } from '@llm-modules/bridge';
 * import { gptNeo } from '@llm-modules/transformer';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const stack = studentStack(gptNeo(config));
 * const { hidden } = stack.apply(stack.init(prngKey(0)), randomNormal(prngKey(1), [1, 5, config.hidden_size])); // [1, 5, D]
 * ```
 */
export function studentStack(model: CausalLM): StudentStack {
  const c = model.config;
  const shapes = new Map([...model.parameterShapes()].filter(([n]) => !UNUSED.has(n)));
  const isNeo = c.model_type === 'gpt_neo';
  const std = c.initializer_range;
  return {
    model,
    family: c.model_type,
    width: c.hidden_size,
    layers: isNeo ? c.num_layers : c.num_hidden_layers,
    maxPositions: isNeo ? c.max_position_embeddings : Number.POSITIVE_INFINITY,
    parameterShapes: () => new Map(shapes),
    init(key) {
      const out: Params = {};
      let i = 0;
      for (const [name, shape] of shapes) {
        const k = foldIn(key, i++);
        if (name === 'transformer.wpe.weight' || name.endsWith('.bias')) out[name] = zeros(shape);
        else if (/(ln_[12f]|layernorm|norm)\.weight$/.test(name)) out[name] = full(shape, 1);
        else out[name] = randomNormal(k, shape, { std });
      }
      return out;
    },
    fromPretrained(params, zeroPositions = true) {
      const out: Params = {};
      const missing = [...shapes.keys()].filter((n) => !params[n]);
      if (missing.length) throw new Error(`student: the pretrained parameters lack ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
      for (const [name, shape] of shapes) {
        const t = params[name];
        if (t.shape.join() !== shape.join()) throw new Error(`student: pretrained ${name} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
        out[name] = zeroPositions && name === 'transformer.wpe.weight' ? zeros(shape) : t;
      }
      return out;
    },
    apply: (params, inputs, opts = {}) => (c.model_type === 'gpt_neo' ? runGptNeo(c, params, inputs, opts) : runQwen2(c, params, inputs, opts)),
  };
}
