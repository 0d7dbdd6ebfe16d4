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
  /** Fresh parameters as Hugging Face initialises them (normal(0, initializer_range), zero biases, unit norms). */
  init(key: PRNGKey): Params;
  apply(params: Params, inputIds: Tensor | null, opts?: ApplyOptions): ApplyOutput;
  /** Every parameter's safetensors name and shape. */
  parameterShapes(): Map<string, number[]>;
  /** Whether a checkpoint tensor that is not a parameter may be ignored (tied `lm_head`, HF buffers). */
  isIgnorable(name: string): boolean;
  /** An empty KV cache for `batch` sequences (static when `capacity` is given). */
  createCache(batch: number, capacity?: number | null): KVCache;
}

export type GPTNeoModel = CausalLM<GPTNeoConfig>;
export type Qwen2Model = CausalLM<Qwen2Config>;
