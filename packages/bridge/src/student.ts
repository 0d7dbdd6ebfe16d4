/**
 * The student: a transformer-package model fed with `inputs_embeds` (the bridge's output) instead of its token
 * embeddings, and read out by the composed model's head instead of its own. It runs the model's own `apply`
 * (fused paths included); a bridge that acts inside it uses the model's `afterBlock` hook.
 */
import { foldIn, full, randomNormal, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import type { ApplyOutput, CausalLM, KVCache } from '@llm-modules/transformer';
import type { Params } from './types.js';

export interface StudentApplyOptions {
  /** `[B, S]` over cached + new positions (or a static cache's capacity). */
  attentionMask?: Tensor | null;
  /** int32 `[B|1, T]`; default `past … past + T − 1`. */
  positionIds?: Tensor | null;
  cache?: KVCache | null;
  /** Called after each block; a returned tensor replaces the residual stream `[B, T, D]`. */
  afterBlock?: (layer: number, hidden: Tensor) => Tensor | undefined;
  /** The head `[V, D]` the logits are read with (the composed model's new head). */
  lmHead: Tensor;
  /** Logits for the last N positions only (decoding). */
  logitsToKeep?: number;
}

/** A student built from a transformer-package model, minus its token embeddings and LM head. */
export interface StudentStack {
  readonly model: CausalLM;
  /** Width of the residual stream. */
  readonly width: number;
  readonly layers: number;
  /** Longest sequence it can take (learned positions: `max_position_embeddings`; RoPE: unbounded). */
  readonly maxPositions: number;
  /** The trained parameters (Hugging Face names) and shapes: no token embedding, no untied head. */
  parameterShapes(): Map<string, number[]>;
  /** Random init as HF's `_init_weights` (normal(0, initializer_range), unit norms, zero biases), learned positions zeroed. */
  init(key: PRNGKey): Params;
  /** Keep the stack's parameters of a pretrained checkpoint; `zeroPositions` zeroes learned positions as the released code does. */
  fromPretrained(params: Params, zeroPositions?: boolean): Params;
  /** The model's `apply` on `inputs` `[B, T, D]` with `opts.lmHead` as its head. */
  apply(params: Params, inputs: Tensor, opts: StudentApplyOptions): ApplyOutput;
}

/**
 * The student stack of any transformer-package model (from `createModel(config)` or `loadPretrained`).
 *
 * @example-skip a fragment: needs a GPT-Neo config
 * @example
 * ```ts
 * import { studentStack } from '@llm-modules/bridge';
 * import { gptNeo } from '@llm-modules/transformer';
 * import { prngKey, randomNormal } from '@llm-modules/tensor';
 * const stack = studentStack(gptNeo(config));
 * const head = randomNormal(prngKey(2), [90, config.hidden_size]);
 * const { lastHiddenState } = stack.apply(stack.init(prngKey(0)), randomNormal(prngKey(1), [1, 5, config.hidden_size]), { lmHead: head }); // [1, 5, D]
 * ```
 */
export function studentStack(model: CausalLM): StudentStack {
  const { tokenEmbedding, lmHead, positionEmbedding } = model.roles;
  const plan = model.parameterInit().filter((p) => p.name !== tokenEmbedding && p.name !== lmHead);
  const shapes = new Map(plan.map((p) => [p.name, p.shape]));
  return {
    model,
    width: model.config.hidden_size,
    layers: model.layers,
    maxPositions: model.maxPositions,
    parameterShapes: () => new Map(shapes),
    init(key) {
      const out: Params = {};
      plan.forEach(({ name, shape, init, std }, i) => {
        if (name === positionEmbedding || init === 'zeros') out[name] = zeros(shape);
        else if (init === 'ones') out[name] = full(shape, 1);
        else out[name] = randomNormal(foldIn(key, i), shape, { std });
      });
      return out;
    },
    fromPretrained(params, zeroPositions = true) {
      const out: Params = {};
      const missing = [...shapes.keys()].filter((n) => !params[n]);
      if (missing.length) throw new Error(`student: the pretrained parameters lack ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
      for (const [name, shape] of shapes) {
        const t = params[name];
        if (t.shape.join() !== shape.join()) throw new Error(`student: pretrained ${name} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
        out[name] = zeroPositions && name === positionEmbedding ? zeros(shape) : t;
      }
      return out;
    },
    apply: (params, inputs, opts) => model.apply(params, null, { ...opts, inputsEmbeds: inputs }),
  };
}
