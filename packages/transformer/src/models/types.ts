/** The model interface shared by GPT-Neo and Qwen2. */
import type { GPTNeoConfig, ModelConfig, Qwen2Config } from '@llm-modules/loaders';
import type { PRNGKey, Tensor } from '@llm-modules/tensor';
import type { KVCache } from '../cache.js';

/** Parameters keyed by their exact safetensors names (`transformer.h.0.ln_1.weight`, …). */
export type Params = Record<string, Tensor>;

export interface ApplyOptions {
  /**
   * `[B, S]`, 1 = real token, 0 = pad, over the cached positions and the new ones (S = past + T), or over a
   * static cache's whole capacity. Omitted: every key is real.
   */
  attentionMask?: Tensor | null;
  /** int32 `[B, T]` (or `[1, T]`); default `past + 0 … T−1`. `generate` passes `cumsum(mask) − 1`. */
  positionIds?: Tensor | null;
  /** Cache of earlier positions; the output then carries the updated cache. */
  cache?: KVCache | null;
  /** Also return the hidden state before every block and after the final norm. */
  outputHiddenStates?: boolean;
  /** `[B, T, D]` used instead of the token embeddings (the ids may then be null). */
  inputsEmbeds?: Tensor | null;
  /** Compute logits for the last N positions only (HF `logits_to_keep`); 0 or omitted: all. */
  logitsToKeep?: number;
  /**
   * Wrap each block in autograd's `checkpoint`: the backward pass recomputes a block's activations instead of
   * keeping them (HF `gradient_checkpointing`). Same values and gradients; training only (no cache).
   */
  gradientCheckpointing?: boolean;
  /**
   * Called with each block's output `[B, T, D]`; a returned tensor replaces the residual stream (how a bridge acts
   * inside the model, as CALM's cross-attention after chosen blocks). Runs outside a checkpointed block.
   */
  afterBlock?: (layer: number, hidden: Tensor) => Tensor | undefined;
  /** `[V', D]` used as the output head instead of the model's own (a composed model's new head over another vocabulary). */
  lmHead?: Tensor | null;
}

export interface ApplyOutput {
  /** `[B, T, V]` float32 (`[B, N, V]` with `logitsToKeep: N`). */
  logits: Tensor;
  /** `[B, T, D]` after the final norm (`hidden_states[-1]`). */
  lastHiddenState: Tensor;
  /** As Hugging Face's `hidden_states`: the embeddings, each block's input, and the normed output (L + 1). */
  hiddenStates?: Tensor[];
  /** The cache with this call's keys and values, when one was given. */
  cache?: KVCache;
}

/**
 * A causal language model as a value: a config, a random initialiser and a pure `apply`.
 * `apply` only builds the lazy graph; evaluate what you need (`await evaluate(out.logits)`).
 */
export interface CausalLM<C extends ModelConfig = ModelConfig> {
  readonly config: C;
  /** Number of decoder blocks. */
  readonly layers: number;
  /** Longest sequence it can take (learned positions: `max_position_embeddings`; RoPE: unbounded). */
  readonly maxPositions: number;
  /** Parameters with a role outside the blocks, for a caller that swaps them (a composed model feeds `inputsEmbeds` and its own head). */
  readonly roles: ParameterRoles;
  /** Fresh parameters as Hugging Face initialises them (normal(0, initializer_range), zero biases, unit norms). */
  init(key: PRNGKey): Params;
  apply(params: Params, inputIds: Tensor | null, opts?: ApplyOptions): ApplyOutput;
  /** Every parameter's safetensors name and shape. */
  parameterShapes(): Map<string, number[]>;
  /** Whether a checkpoint tensor that is not a parameter may be ignored (tied `lm_head`, HF buffers). */
  isIgnorable(name: string): boolean;
  /** Every parameter in definition order with how Hugging Face initialises it (what `init` draws, as a plan). */
  parameterInit(): ParameterInit[];
  /** An empty KV cache for `batch` sequences (static when `capacity` is given). */
  createCache(batch: number, capacity?: number | null): KVCache;
}

/** Names of the parameters outside the decoder blocks. */
export interface ParameterRoles {
  /** The token embedding (unused when `inputsEmbeds` is given). */
  tokenEmbedding: string;
  /** The untied output head; null when the head is tied to the token embedding. */
  lmHead: string | null;
  /** Learned position embeddings (the released bridge code zeroes them); null for RoPE models. */
  positionEmbedding: string | null;
}

export type InitKind = 'normal' | 'zeros' | 'ones';

/** How one parameter is initialised: its shape, Hugging Face's `_init_weights` rule and, for an embedding with a `padding_idx`, the zeroed row. */
export interface ParameterInit {
  name: string;
  shape: number[];
  init: InitKind;
  /** normal(0, std) for `init: 'normal'` (the config's `initializer_range`). */
  std: number;
  /** Row set to zero after the normal draw (Qwen2's `embed_tokens` when `pad_token_id` is set). */
  zeroRow?: number;
}

export type GPTNeoModel = CausalLM<GPTNeoConfig>;
export type Qwen2Model = CausalLM<Qwen2Config>;
