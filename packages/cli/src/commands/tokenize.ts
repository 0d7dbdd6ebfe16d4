import { loadTokenizer } from '@llm-modules/loaders';
import type { CliIO } from '../io.js';

export interface TokenizeOptions {
  model: string;
  text: string;
  json?: boolean;
}

/**
 * `llm-modules tokenize --model DIR --text TEXT [--json]`: the token ids of TEXT with the model's tokenizer.
 * Plain output is the ids separated by spaces; `--json` prints `{"ids":[...]}`.
 *
 * @example
 * ```ts
 * await tokenize({ model: 'models/qwen2', text: 'Hello world', json: true }, processIO); // {"ids":[9707,1879]}
 * ```
 */
export async function tokenize(opts: TokenizeOptions, io: CliIO): Promise<void> {
  const tok = await loadTokenizer(opts.model);
  const ids = tok.encode(opts.text);
  io.stdout(opts.json ? `${JSON.stringify({ ids })}\n` : `${ids.join(' ')}\n`);
}
