/** The arithmetic world's tokenizer files (Node: writes a folder; the world itself is in world.ts, browser-safe). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToUnicode, WORLD_EOS } from './world.js';

/**
 * Write the world's tokenizer (GPT-2 byte-level BPE files; merges make 10–99 single tokens) to `dir`.
 * @example `await writeWorldTokenizer('examples/knowledge-transfer/tokenizer')`
 */
export async function writeWorldTokenizer(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const map = bytesToUnicode();
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[map.get(b)!] = b;
  vocab['<|endoftext|>'] = WORLD_EOS;
  const merges = ['#version: 0.2'];
  let id = 257;
  for (let a = 1; a <= 9; a++) {
    for (let b = 0; b <= 9; b++) {
      vocab[`${a}${b}`] = id++;
      merges.push(`${a} ${b}`);
    }
  }
  const config = { add_prefix_space: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 64, tokenizer_class: 'GPT2Tokenizer', clean_up_tokenization_spaces: false };
  await writeFile(join(dir, 'vocab.json'), `${JSON.stringify(vocab)}\n`);
  await writeFile(join(dir, 'merges.txt'), `${merges.join('\n')}\n`);
  await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
}
