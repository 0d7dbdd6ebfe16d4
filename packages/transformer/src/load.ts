/** `loadPretrainedFrom`: a Hugging Face model folder's files (bytes, fetched) → model, parameters and tokenizer. The path version, `loadPretrained`, is in load-file.ts (Node entry). */
import { LoaderError, asFolder, loadConfigFrom, loadSafetensorsFrom, loadTokenizerFrom, toTensors, type FileFolder, type FileMap, type ModelConfig, type Tokenizer } from '@llm-modules/loaders';
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
  /**
   * Keep BF16 weight matrices as bfloat16 in memory (`keepBFloat16` of the loaders; the tensor core decodes
   * them inside its kernels): half the memory, for a frozen model (a teacher); the model cannot be trained.
   * Node entry (`loadPretrained`); `loadPretrainedFrom` widens.
   */
  keepBFloat16?: boolean;
}

export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'encoder.json'];

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
 * Like `loadPretrained` (Node entry), from a folder's files held in memory or fetched: a FileFolder
 * (`httpFolder('/models/tiny/')`, `filesFolder(map)`) or a map of name → bytes. The whole weights file is
 * read into memory; names and shapes are checked before the tensors are built.
 *
 * @example-skip needs a model's files; the browser example loads the demo teacher with httpFolder
 * @example `const { model, params, tokenizer } = await loadPretrainedFrom(httpFolder('/demo/teacher/'))`
 */
export async function loadPretrainedFrom(source: FileFolder | FileMap, opts: LoadOptions = {}): Promise<Pretrained> {
  const folder = asFolder(source);
  const config = await loadConfigFrom(folder);
  const model = createModel(config);
  const records = await loadSafetensorsFrom(folder);
  checkWeights(folder.label, model, [...records.entries()].map(([name, r]) => ({ name, shape: r.shape })));
  const wanted = model.parameterShapes();
  const params = toTensors([...records.entries()].filter(([n]) => wanted.has(n)).map(([name, r]) => ({ ...r, name }))) as Params;
  const bytes = [...records.values()].reduce((n, r) => n + r.data.byteLength, 0);
  opts.onProgress?.(bytes, bytes);
  let tokenizer: Tokenizer | null = null;
  if (opts.tokenizer !== false) {
    const has = await Promise.all(TOKENIZER_FILES.map((f) => folder.read(f)));
    if (has.some(Boolean)) tokenizer = await loadTokenizerFrom(folder);
  }
  return { model, params, config, tokenizer };
}
