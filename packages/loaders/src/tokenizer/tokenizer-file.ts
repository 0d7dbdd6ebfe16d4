/** `loadTokenizer(dir)`: a tokenizer folder on disk (Node entry). */
import { stat } from 'node:fs/promises';
import { TokenizerError } from '../errors.js';
import { localFolder } from '../files/local.js';
import { loadTokenizerFrom, type Tokenizer } from './tokenizer.js';

/**
 * Load a tokenizer from a Hugging Face model folder: `tokenizer.json`, or else `vocab.json` + `merges.txt`
 * (or GPT-2's `encoder.json` + `vocab.bpe`), with special tokens and the chat template from
 * `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json`.
 *
 * @example-skip reads a tokenizer folder (the README's first snippet builds one and runs it)
 * @example
 * ```ts
 * const tok = await loadTokenizer('fixtures/tokenizers/qwen2');
 * tok.encode('Hello world'); // [9707, 1879]
 * tok.decode([9707, 1879]); // 'Hello world'
 * tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
 * ```
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw new TokenizerError(dir, 'no such folder');
  if (!st.isDirectory()) throw new TokenizerError(dir, 'not a folder (expected a model or tokenizer folder)');
  return loadTokenizerFrom(localFolder(dir));
}
