/** `loadPretrained(dir)`: a model folder on disk (Node entry); reads tensors one at a time by offset. */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectSafetensors, loadConfig, loadSafetensorsAsTensors, loadTokenizer, type Tokenizer } from '@llm-modules/loaders';
import { createModel } from './models/index.js';
import { TOKENIZER_FILES, checkWeights, type LoadOptions, type Pretrained } from './load.js';

const exists = (p: string) => access(p).then(() => true, () => false);

/**
 * Load a Hugging Face model folder: `config.json`, weights (`model.safetensors` or a sharded index; F32, F16,
 * BF16 widened exactly) and the tokenizer when present. Names and shapes are checked against the config
 * before any tensor data is read; a tied `lm_head.weight` and HF buffers (`attn.bias`, `rotary_emb.inv_freq`)
 * are ignored.
 *
 * @example
 * ```ts
 * import { evaluate, tensor } from '@llm-modules/tensor';
 * import { loadPretrained } from '@llm-modules/transformer';
 * const { model, params } = await loadPretrained('packages/transformer/test/fixtures/models/gptneo');
 * const { logits } = model.apply(params, tensor(new Int32Array([1, 2, 3]), [1, 3]));
 * await evaluate(logits);
 * ```
 */
export async function loadPretrained(dir: string, opts: LoadOptions = {}): Promise<Pretrained> {
  const config = await loadConfig(dir);
  const model = createModel(config);
  const summary = await inspectSafetensors(dir);
  checkWeights(dir, model, summary.tensors);
  const params = await loadSafetensorsAsTensors(dir, { names: [...model.parameterShapes().keys()], onProgress: opts.onProgress, keepBFloat16: opts.keepBFloat16 });
  let tokenizer: Tokenizer | null = null;
  if (opts.tokenizer !== false) {
    const has = await Promise.all(TOKENIZER_FILES.map((f) => exists(join(dir, f))));
    if (has.some(Boolean)) tokenizer = await loadTokenizer(dir);
  }
  return { model, params, config, tokenizer };
}
