import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, TokenizerError, type Tokenizer } from '../src/node.js';
import { fixture, tempDir } from './helpers.js';

interface Gpt2Case { text: string; ids_plain: number[]; ids_hf: number[]; tokens_hf: string[] }
interface Qwen2Case { text: string; ids: number[]; tokens: string[]; decode_roundtrip: boolean; decoded?: string }

const json = async <T>(p: string): Promise<T> => JSON.parse(await readFile(fixture(p), 'utf8')) as T;

/** llama.cpp test vectors: inputs separated by "\n__ggml_vocab_test__\n", one line of ids per input. */
async function llamaRefs(name: string, file: string): Promise<Array<{ text: string; ids: number[] }>> {
  const inputs = (await readFile(fixture(`tokenizers/${name}/llama.cpp-refs/${file}.inp`), 'utf8')).split('\n__ggml_vocab_test__\n');
  const outputs = (await readFile(fixture(`tokenizers/${name}/llama.cpp-refs/${file}.out`), 'utf8')).split('\n');
  inputs.pop(); // the file ends with a separator
  return inputs.map((text, i) => ({ text, ids: outputs[i].trim() === '' ? [] : outputs[i].trim().split(/\s+/).map(Number) }));
}

describe('GPT-2 / GPT-Neo tokenizer (vocab.json + merges.txt)', () => {
  let tok: Tokenizer;
  let ref: { cases: Gpt2Case[] };
  beforeAll(async () => {
    tok = await loadTokenizer(fixture('tokenizers/gpt2'));
    ref = await json('tokenizers/gpt2/reference_encodings.json');
  });

  it('reproduces all 39 reference encodings (HF semantics, <|endoftext|> split out) and their tokens', () => {
    expect(ref.cases).toHaveLength(39);
    for (const c of ref.cases) {
      expect(tok.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.ids_hf);
      expect(tok.tokenize(c.text)).toEqual(c.tokens_hf);
      expect(tok.encode(c.text)).toEqual(c.ids_hf); // GPT-2 adds no BOS/EOS
    }
  });

  it('reproduces the 46 llama.cpp reference encodings', async () => {
    const refs = await llamaRefs('gpt2', 'ggml-vocab-gpt-2.gguf');
    expect(refs).toHaveLength(46);
    for (const r of refs) expect(tok.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids);
  });

  it('decode(encode(s)) == s for every reference string; special tokens can be skipped', () => {
    for (const c of ref.cases) expect(tok.decode(tok.encode(c.text))).toBe(c.text);
    expect(tok.decode([1212, 50256, 5562], { skipSpecialTokens: true })).toBe(tok.decode([1212, 5562]));
    expect(tok.decode([])).toBe('');
  });

  it('special tokens and sizes come from tokenizer_config.json', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.bosTokenId).toBe(50256);
    expect(tok.padTokenId).toBeNull();
    expect([...tok.specialIds]).toEqual([50256]);
    expect(() => tok.decode([50257])).toThrow(TokenizerError);
    expect(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/no chat_template/);
  });

  it('loads tokenizer.json, and OpenAI-style encoder.json + vocab.bpe, with the same results', async () => {
    const a = await tempDir();
    await copyFile(fixture('tokenizers/gpt2/tokenizer.derived.json'), join(a, 'tokenizer.json'));
    await copyFile(fixture('tokenizers/gpt2/tokenizer_config.json'), join(a, 'tokenizer_config.json'));
    const b = await tempDir();
    await copyFile(fixture('tokenizers/gpt2/vocab.json'), join(b, 'encoder.json'));
    await copyFile(fixture('tokenizers/gpt2/merges.txt'), join(b, 'vocab.bpe'));
    for (const dir of [a, b]) {
      const t = await loadTokenizer(dir);
      for (const c of ref.cases) expect(t.encode(c.text, { addSpecialTokens: false })).toEqual(c.ids_hf);
    }
  });
});

describe('Qwen2 tokenizer (vocab.json + merges.txt + added tokens)', () => {
  let tok: Tokenizer;
  let ref: { cases: Qwen2Case[]; chat: Array<{ role: string; content: string }>; chatml_text: string };
  beforeAll(async () => {
    tok = await loadTokenizer(fixture('tokenizers/qwen2'));
    ref = await json('tokenizers/qwen2/reference_encodings.json');
  });

  it('reproduces all 45 reference encodings: unicode, emoji, whitespace runs, digits, contractions, specials', () => {
    expect(ref.cases).toHaveLength(45);
    for (const c of ref.cases) {
      expect(tok.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tok.tokenize(c.text)).toEqual(c.tokens);
    }
  });

  it('reproduces the 46 llama.cpp reference encodings', async () => {
    const refs = await llamaRefs('qwen2', 'ggml-vocab-qwen2.gguf');
    expect(refs).toHaveLength(46);
    for (const r of refs) expect(tok.encode(r.text, { addSpecialTokens: false }), JSON.stringify(r.text)).toEqual(r.ids);
  });

  it('decode(encode(s)) == s where the fixture says so, and the NFC form elsewhere', () => {
    for (const c of ref.cases) expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.decode_roundtrip ? c.text : c.decoded);
    expect(ref.cases.filter((c) => !c.decode_roundtrip)).toHaveLength(2);
  });

  it('specials: <|endoftext|> / <|im_start|> / <|im_end|> ids, eos, pad, skipping', () => {
    expect(tok.vocabSize).toBe(151646);
    expect([tok.tokenToId('<|endoftext|>'), tok.tokenToId('<|im_start|>'), tok.tokenToId('<|im_end|>')]).toEqual([151643, 151644, 151645]);
    expect(tok.eosTokenId).toBe(151645);
    expect(tok.padTokenId).toBe(151643);
    expect(tok.bosTokenId).toBeNull();
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi');
  });

  it('applies the chat template of tokenizer_config.json: text and ids equal the reference ChatML', () => {
    const text = tok.applyChatTemplate(ref.chat);
    expect(text).toBe(ref.chatml_text);
    const expected = ref.cases.find((c) => c.text === ref.chatml_text)!.ids;
    expect(tok.encodeChat(ref.chat)).toEqual(expected);
  });

  it('falls back to built-in ChatML when tokenizer_config.json has no chat_template', async () => {
    const dir = await tempDir();
    for (const f of ['vocab.json', 'merges.txt', 'added_tokens.json', 'special_tokens_map.json']) await copyFile(fixture('tokenizers/qwen2', f), join(dir, f));
    const cfg = await json<Record<string, unknown>>('tokenizers/qwen2/tokenizer_config.json');
    delete cfg.chat_template;
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
    const t = await loadTokenizer(dir);
    expect(t.applyChatTemplate(ref.chat)).toBe(ref.chatml_text);
    expect(t.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    );
    for (const c of ref.cases) expect(t.encode(c.text, { addSpecialTokens: false })).toEqual(c.ids);
  });

  it('missing or malformed tokenizer files are one-line TokenizerErrors naming the file', async () => {
    const empty = await tempDir();
    await expect(loadTokenizer(empty)).rejects.toThrow(new TokenizerError(empty, 'no tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe in this folder'));
    const bad = await tempDir();
    await writeFile(join(bad, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(bad)).rejects.toThrow(/tokenizer\.json: not valid JSON/);
    const merges = await tempDir();
    await writeFile(join(merges, 'vocab.json'), '{"a": 0, "b": 1, "ab": 2}');
    await writeFile(join(merges, 'merges.txt'), '#version: 0.2\na b\nabc\n');
    await expect(loadTokenizer(merges)).rejects.toThrow(/merges\.txt: line 3: expected two tokens/);
    expect(() => tok.applyChatTemplate([{ role: 'user' } as never])).toThrow(/message 0 needs a string role and content/);
  });
});
