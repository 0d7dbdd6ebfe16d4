#!/usr/bin/env node
// Write a byte-level GPT-2-style tokenizer with no merges: one token per byte (256) plus <|endoftext|>.
// Small vocabularies keep toy models (tests, the demo) fast. Usage: node scripts/make-byte-tokenizer.mjs DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** GPT-2's reversible byte → printable-unicode map. */
export function bytesToUnicode() {
  const bs = [];
  for (let c = 0x21; c <= 0x7e; c++) bs.push(c);
  for (let c = 0xa1; c <= 0xac; c++) bs.push(c);
  for (let c = 0xae; c <= 0xff; c++) bs.push(c);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

export function writeByteTokenizer(dir) {
  mkdirSync(dir, { recursive: true });
  const map = bytesToUnicode();
  const vocab = {};
  for (let b = 0; b < 256; b++) vocab[map.get(b)] = b;
  vocab['<|endoftext|>'] = 256;
  writeFileSync(join(dir, 'vocab.json'), `${JSON.stringify(vocab)}\n`);
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  const config = { add_prefix_space: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 1024, tokenizer_class: 'GPT2Tokenizer', clean_up_tokenization_spaces: false };
  writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!process.argv[2]) {
    console.error('usage: node scripts/make-byte-tokenizer.mjs DIR');
    process.exit(1);
  }
  writeByteTokenizer(process.argv[2]);
}
