/**
 * The model registry: `model_type` → the function that builds the model. A new family is one model file and
 * one line here (plus its config parser in `@llm-modules/loaders`).
 */
import type { GPTNeoConfig, ModelConfig, Qwen2Config } from '@llm-modules/loaders';
import { gptNeo } from './gpt-neo.js';
import { qwen2 } from './qwen2.js';
import type { CausalLM, GPTNeoModel, ParameterInit, Qwen2Model } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const MODEL_FAMILIES: Record<string, (config: any) => CausalLM> = {
  gpt_neo: gptNeo,
  qwen2: qwen2,
};

/**
 * The model for a typed config (`model_type` `gpt_neo` or `qwen2`).
 * @example
 * ```ts
 * import { parseConfig } from '@llm-modules/loaders'; // loadConfig(dir) reads a folder's config.json
 * const model = createModel(parseConfig({ model_type: 'gpt_neo', vocab_size: 96, hidden_size: 32, num_layers: 2, num_heads: 4, intermediate_size: 64, max_position_embeddings: 32, attention_types: [[['global', 'local'], 1]] }));
 * console.log(model.parameterShapes().size); // 30 tensors
 * ```
 */
export function createModel(config: GPTNeoConfig): GPTNeoModel;
export function createModel(config: Qwen2Config): Qwen2Model;
export function createModel(config: ModelConfig): CausalLM;
export function createModel(config: ModelConfig): CausalLM {
  const family = Object.hasOwn(MODEL_FAMILIES, config.model_type) ? MODEL_FAMILIES[config.model_type] : undefined;
  if (!family) throw new Error(`unsupported model_type "${(config as { model_type: string }).model_type}" (supported: ${Object.keys(MODEL_FAMILIES).join(', ')})`);
  return family(config);
}

/**
 * Every parameter of a config in definition order with how Hugging Face initialises it — what `init` draws, as
 * a plan, so a caller can produce huge models one tensor at a time (`llm-modules new-model`).
 * @example
 * ```ts
 * import { parseConfig } from '@llm-modules/loaders';
 * const plan = parameterInit(parseConfig({ model_type: 'qwen2', vocab_size: 64, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 32, max_position_embeddings: 32 }));
 * console.log(plan.find((p) => p.name === 'model.norm.weight')?.init); // 'ones'
 * ```
 */
export function parameterInit(config: ModelConfig): ParameterInit[] {
  return createModel(config).parameterInit();
}
