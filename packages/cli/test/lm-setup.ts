/** A tiny `mode: "lm"` run (1-block GPT-Neo, byte tokenizer, 40 arithmetic rows) shared by the train tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error a plain .mjs script without types
import { writeByteTokenizer } from '../../../scripts/make-byte-tokenizer.mjs';

export const TINY_LM = { model_type: 'gpt_neo', vocab_size: 257, hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32, max_position_embeddings: 16, attention_types: [[['global'], 1]], bos_token_id: 256, eos_token_id: 256 };

/** A config file `train.json` in a fresh folder; `training` and `extra` (top level) override the defaults. */
export function lmSetup(training: object, extra: object = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-cli-lm-'));
  writeByteTokenizer(join(dir, 'tok'));
  const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `${i % 7}*2=${(i % 7) * 2}` }));
  writeFileSync(join(dir, 'data.jsonl'), `${rows.join('\n')}\n`);
  const cfg = { mode: 'lm', model: { config: TINY_LM }, tokenizer: 'tok', data: { train: 'data.jsonl' }, output: 'out', training: { backend: 'cpu', batchSize: 4, ...training }, ...extra };
  writeFileSync(join(dir, 'train.json'), JSON.stringify(cfg));
  return join(dir, 'train.json');
}
