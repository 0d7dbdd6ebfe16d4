/**
 * Generation with a composed model: the transformer package's `generate` over the model's `decoding` view
 * (one loop for plain and composed models). Incremental by default: the teacher runs once over the prompt and
 * then one step per new token on its KV cache; the bridge's memory and the student's KV cache are kept too.
 */
import { generate, type GenerateOptions, type GenerateResult } from '@llm-modules/transformer';
import type { ComposedModel } from './compose.js';
import type { Params } from './types.js';

export interface ComposedGenerateOptions extends Omit<GenerateOptions, 'useCache'> {
  /** `incremental` (default): caches, one teacher step per token. `full`: re-run the whole sequence every step (as released). */
  mode?: 'incremental' | 'full';
}

export interface ComposedGenerateResult extends GenerateResult {
  /** Positions the teacher processed in each of its calls (incremental: `[prompt, 1, 1, …]`). */
  teacherCalls: number[];
}

/**
 * `generate(model.decoding, …)` that also reports the positions the teacher ran on per call.
 * Greedy by default; `greedy: false` samples with `temperature`, `topK`, `topP` (the paper: 0.9, 100, 0.98).
 *
 * @example
 * ```ts
 * import { composeModel, generateComposed } from '@llm-modules/bridge';
 * import { parseConfig } from '@llm-modules/loaders';
 * import { prngKey } from '@llm-modules/tensor';
 * import { createModel } from '@llm-modules/transformer';
 * const qwen2 = createModel(parseConfig({ model_type: 'qwen2', vocab_size: 90, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 64, max_position_embeddings: 64 }));
 * const gptNeo = createModel(parseConfig({ model_type: 'gpt_neo', vocab_size: 90, hidden_size: 32, num_layers: 1, num_heads: 4, intermediate_size: 64, max_position_embeddings: 32, attention_types: [[['global'], 1]] }));
 * const model = composeModel({ teacher: { model: qwen2, params: qwen2.init(prngKey(1)) }, student: { model: gptNeo }, bridge: { variant: 'enhanced', options: { heads: 4, adapterDim: 16 } } });
 * const params = model.init(prngKey(0));
 * const { sequences, teacherCalls } = await generateComposed(model, params, [6, 1, 40, 23], { maxNewTokens: 5, stopTokens: [] });
 * console.log(sequences[0].length, teacherCalls); // 5 [4, 1, 1, 1, 1]: the prompt, then one teacher step per new token
 * ```
 */
export async function generateComposed(model: ComposedModel, params: Params, prompts: readonly number[] | readonly (readonly number[])[], opts: ComposedGenerateOptions): Promise<ComposedGenerateResult> {
  const teacherCalls: number[] = [];
  const d = model.decoding;
  const counted = { ...d, apply: (...a: Parameters<typeof d.apply>) => (teacherCalls.push(a[1].shape[1]), d.apply(...a)) };
  const result = await generate(counted, params, prompts, { ...opts, useCache: (opts.mode ?? 'incremental') === 'incremental' });
  return { ...result, teacherCalls };
}
