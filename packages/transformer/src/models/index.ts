/** Pick the model family from a config's `model_type`. */
import type { GPTNeoConfig, ModelConfig, Qwen2Config } from '@llm-modules/loaders';
import { gptNeo } from './gpt-neo.js';
import { qwen2 } from './qwen2.js';
import type { CausalLM, GPTNeoModel, Qwen2Model } from './types.js';

/**
 * The model for a typed config (`model_type` `gpt_neo` or `qwen2`).
 * @example
 * ```ts
 * import { loadConfig } from '@llm-modules/loaders';
 * const model = createModel(await loadConfig('models/gptneo'));
 * ```
 */
export function createModel(config: GPTNeoConfig): GPTNeoModel;
export function createModel(config: Qwen2Config): Qwen2Model;
export function createModel(config: ModelConfig): CausalLM;
export function createModel(config: ModelConfig): CausalLM {
  switch (config.model_type) {
    case 'gpt_neo':
      return gptNeo(config) as CausalLM;
    case 'qwen2':
      return qwen2(config) as CausalLM;
    default:
      throw new Error(`unsupported model_type "${(config as { model_type: string }).model_type}" (supported: gpt_neo, qwen2)`);
  }
}
