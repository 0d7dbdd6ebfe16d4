/** Pick the model family from a config's `model_type`. */
import type { GPTNeoConfig, ModelConfig, Qwen2Config } from '@llm-modules/loaders';
import type { InitKind } from './common.js';
import { gptNeo, gptNeoInitKind } from './gpt-neo.js';
import { qwen2, qwen2InitKind } from './qwen2.js';
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

/**
 * Every parameter of a config in definition order with how Hugging Face initialises it — what `init` draws, as
 * a plan, so a caller can produce huge models one tensor at a time (`llm-modules new-model`).
 * @example
 * ```ts
 * const plan = parameterInit(await loadConfig('models/qwen2-tied'));
 * plan.find((p) => p.name === 'model.norm.weight')?.init; // 'ones'
 * ```
 */
export function parameterInit(config: ModelConfig): ParameterInit[] {
  const model = createModel(config);
  const kind = config.model_type === 'qwen2' ? qwen2InitKind : gptNeoInitKind;
  const padRow = config.model_type === 'qwen2' ? config.pad_token_id : null;
  const embed = config.model_type === 'qwen2' ? 'model.embed_tokens.weight' : null;
  return [...model.parameterShapes()].map(([name, shape]) => {
    const p: ParameterInit = { name, shape, init: kind(name), std: config.initializer_range };
    if (name === embed && padRow !== null && padRow >= 0 && padRow < shape[0]) p.zeroRow = padRow;
    return p;
  });
}
