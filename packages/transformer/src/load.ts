/** `loadPretrained`: a Hugging Face model folder → model, parameters and tokenizer. */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { LoaderError, inspectSafetensors, loadConfig, loadSafetensorsAsTensors, loadTokenizer, type ModelConfig, type Tokenizer } from '@llm-modules/loaders';
import { createModel } from './models/index.js';
import type { CausalLM, Params } from './models/types.js';

/**
 * The checkpoint's tensors do not match the config: names the missing, unexpected and mis-shaped ones.
 * @example `try { await loadPretrained(dir) } catch (e) { if (e instanceof WeightsMismatchError) console.error(e.missing) }`
 */
export class WeightsMismatchError extends LoaderError {
  constructor(
    dir: string,
    problem: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misShaped: string[],
  ) {
    super(dir, problem);
  }
}

export interface Pretrained<M extends CausalLM = CausalLM> {
  model: M;
  params: Params;
  config: ModelConfig;
  /** The folder's tokenizer, or null when it has no tokenizer files. */
  tokenizer: Tokenizer | null;
}

export interface LoadOptions {
  /** Load the tokenizer when the folder has one (default true). */
  tokenizer?: boolean;
  /** Called after each tensor with the stored bytes read so far and in all. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

const exists = (p: string) => access(p).then(() => true, () => false);
const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'encoder.json'];

function list(kind: string, names: string[], limit = 8): string {
  if (names.length === 0) return '';
  const shown = names.slice(0, limit).join(', ');
  return `${kind} ${names.length}: ${shown}${names.length > limit ? `, … (${names.length - limit} more)` : ''}`;
}

/**
 * Compare a checkpoint's tensor names and shapes (headers only) with what the model expects.
 * Throws {@link WeightsMismatchError} listing every problem by name.
 * @example-skip a fragment: `dir` comes from the caller's code
 * @example `checkWeights(dir, model, (await inspectSafetensors(dir)).tensors)`
 */
export function checkWeights(dir: string, model: CausalLM, stored: ReadonlyArray<{ name: string; shape: readonly number[] }>): void {
  const expected = model.parameterShapes();
  const seen = new Set<string>();
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  for (const t of stored) {
    const shape = expected.get(t.name);
    if (!shape) {
      if (!model.isIgnorable(t.name)) unexpected.push(t.name);
      continue;
    }
    seen.add(t.name);
    if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) misShaped.push(`${t.name} [${t.shape.join(', ')}] (expected [${shape.join(', ')}])`);
  }
  const missing = [...expected.keys()].filter((n) => !seen.has(n));
  if (missing.length || unexpected.length || misShaped.length) {
    const parts = [list('missing', missing), list('unexpected', unexpected), list('mis-shaped', misShaped)].filter(Boolean);
    throw new WeightsMismatchError(dir, `weights do not match the ${model.config.model_type} config: ${parts.join('; ')}`, missing, unexpected, misShaped);
  }
}

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
  const params = await loadSafetensorsAsTensors(dir, { names: [...model.parameterShapes().keys()], onProgress: opts.onProgress });
  let tokenizer: Tokenizer | null = null;
  if (opts.tokenizer !== false) {
    const has = await Promise.all(TOKENIZER_FILES.map((f) => exists(join(dir, f))));
    if (has.some(Boolean)) tokenizer = await loadTokenizer(dir);
  }
  return { model, params, config, tokenizer };
}
