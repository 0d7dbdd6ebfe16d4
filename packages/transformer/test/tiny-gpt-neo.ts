/** A tiny GPT-Neo config (2 blocks, global then local with window 3) shared by the model tests. */
import type { GPTNeoConfig } from '@llm-modules/loaders';

export const tinyGptNeoConfig = {
  model_type: 'gpt_neo', vocab_size: 40, hidden_size: 16, max_position_embeddings: 16, bos_token_id: null, eos_token_id: null,
  pad_token_id: null, tie_word_embeddings: true, torch_dtype: null, initializer_range: 0.3, architectures: ['GPTNeoForCausalLM'],
  num_layers: 2, num_heads: 2, intermediate_size: null, window_size: 3, attention_types: [[['global', 'local'], 1]],
  attention_layers: ['global', 'local'], activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, embed_dropout: 0,
  attention_dropout: 0, resid_dropout: 0,
} as GPTNeoConfig;
