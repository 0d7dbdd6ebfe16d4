import { LoaderError, TokenizerError } from '../errors.js';
import { readText as readFolderText, type FileFolder } from '../files/folder.js';

type Json = Record<string, unknown>;

/** An added (usually special) token as `tokenizer.json` lists it. */
export interface AddedTokenSpec {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** Read a JSON object file of the tokenizer folder; `undefined` when absent and `optional`. */
export async function readJson(folder: FileFolder, name: string, optional: boolean): Promise<Json | undefined> {
  const text = await readText(folder, name);
  if (text === undefined) {
    if (optional) return undefined;
    throw new TokenizerError(folder.path(name), 'cannot read: no such file');
  }
  try {
    const json = JSON.parse(text) as unknown;
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Json;
  } catch (err) {
    throw new TokenizerError(folder.path(name), `not valid JSON (${(err as Error).message})`);
  }
}

/** A text file of the tokenizer folder; undefined when absent (read errors are TokenizerErrors). */
export async function readText(folder: FileFolder, name: string): Promise<string | undefined> {
  try {
    return await readFolderText(folder, name);
  } catch (err) {
    if (err instanceof LoaderError && !(err instanceof TokenizerError)) throw new TokenizerError(err.file, err.problem, { cause: err });
    throw err;
  }
}

/** A special token value of tokenizer_config.json: a string, `{content: ...}` (AddedToken), or null. */
export function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/** GPT-2's pre-tokenizer regex is built into the ByteLevel pre-tokenizer (`use_regex: true`). */
const BYTE_LEVEL = (addPrefixSpace: boolean, useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: useRegex });

/** Qwen2's split pattern (Qwen2TokenizerFast): digits one at a time, letters with one leading non-letter. */
export const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const GPT2_CLASSES = new Set(['GPT2Tokenizer', 'GPT2TokenizerFast', 'GPTNeoTokenizer', 'GPTNeoXTokenizer', 'CodeGenTokenizer']);
const QWEN2_CLASSES = new Set(['Qwen2Tokenizer', 'Qwen2TokenizerFast']);

/**
 * Assemble a `tokenizer.json` object from GPT-2 style files: `vocab.json` + `merges.txt` (or OpenAI's
 * `encoder.json` + `vocab.bpe`). The normalizer and pre-tokenizer follow `tokenizer_class` (GPT-2 or Qwen2).
 */
export async function tokenizerJsonFromBpeFiles(folder: FileFolder, config: Json): Promise<Json | undefined> {
  const vocabName = (await readText(folder, 'vocab.json')) !== undefined ? 'vocab.json' : 'encoder.json';
  const mergesName = vocabName === 'vocab.json' ? 'merges.txt' : 'vocab.bpe';
  const vocabText = await readText(folder, vocabName);
  const mergesText = await readText(folder, mergesName);
  if (vocabText === undefined || mergesText === undefined) return undefined;
  const cls = typeof config.tokenizer_class === 'string' ? config.tokenizer_class : 'GPT2Tokenizer';
  const qwen = QWEN2_CLASSES.has(cls);
  if (!qwen && !GPT2_CLASSES.has(cls)) {
    throw new TokenizerError(folder.label, `no tokenizer.json, and ${vocabName} + ${mergesName} are only understood for GPT-2 and Qwen2 tokenizers (tokenizer_class "${cls}")`);
  }
  let vocab: unknown;
  try {
    vocab = JSON.parse(vocabText);
  } catch (err) {
    throw new TokenizerError(folder.path(vocabName), `not valid JSON (${(err as Error).message})`);
  }
  if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab) || !Object.values(vocab).every((v) => Number.isSafeInteger(v))) {
    throw new TokenizerError(folder.path(vocabName), 'not an object of token → integer id');
  }
  const merges: string[] = [];
  const lines = mergesText.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw new TokenizerError(folder.path(mergesName), `line ${i + 1}: expected two tokens separated by one space`);
    merges.push(line);
  }
  // Hugging Face's GPT2Tokenizer / Qwen2Tokenizer defaults for special tokens the config leaves out entirely
  const defaults: Record<string, string | null> = qwen
    ? { unk_token: '<|endoftext|>', bos_token: null, eos_token: '<|endoftext|>', pad_token: '<|endoftext|>' }
    : { unk_token: '<|endoftext|>', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' };
  for (const [k, v] of Object.entries(defaults)) if (!(k in config) && (v === null || v in (vocab as object))) config[k] = v;
  const addPrefixSpace = config.add_prefix_space === true;
  return {
    version: '1.0',
    added_tokens: [],
    normalizer: qwen ? { type: 'NFC' } : null,
    pre_tokenizer: qwen
      ? { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_PATTERN }, behavior: 'Isolated', invert: false }, BYTE_LEVEL(false, false)] }
      : BYTE_LEVEL(addPrefixSpace, true),
    post_processor: BYTE_LEVEL(addPrefixSpace, !qwen),
    decoder: BYTE_LEVEL(addPrefixSpace, !qwen),
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

/**
 * Added tokens declared outside `tokenizer.json`: `added_tokens_decoder` and the special tokens of
 * tokenizer_config.json / special_tokens_map.json, and `added_tokens.json`. Ids come from those files or
 * from the vocabulary; a special token with no id anywhere is an error.
 */
export function configAddedTokens(folder: FileFolder, config: Json, addedJson: Json | undefined, vocab: Record<string, number>): AddedTokenSpec[] {
  const out = new Map<string, AddedTokenSpec>();
  const add = (content: string, id: number | undefined, flags: Partial<AddedTokenSpec>, special: boolean) => {
    const prev = out.get(content);
    const tokenId = id ?? prev?.id ?? vocab[content];
    if (tokenId === undefined) throw new TokenizerError(folder.label, `special token ${JSON.stringify(content)} has no id in the vocabulary or added tokens`);
    out.set(content, { id: tokenId, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special, ...prev, ...flags });
  };
  const decoder = config.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') {
    for (const [id, spec] of Object.entries(decoder as Record<string, Json>)) {
      const content = tokenContent(spec);
      if (content === null || !/^\d+$/.test(id)) throw new TokenizerError(folder.path('tokenizer_config.json'), `added_tokens_decoder["${id}"] is malformed`);
      add(content, Number(id), spec as Partial<AddedTokenSpec>, spec.special === true);
    }
  }
  for (const [content, id] of Object.entries(addedJson ?? {})) {
    if (!Number.isSafeInteger(id)) throw new TokenizerError(folder.path('added_tokens.json'), `id of ${JSON.stringify(content)} is not an integer`);
    add(content, id as number, {}, out.get(content)?.special ?? false);
  }
  for (const content of specialTokenStrings(config)) add(content, undefined, { special: true, normalized: out.get(content)?.normalized ?? false }, true);
  return [...out.values()];
}

export const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'] as const;

/** Every special token string named in the config (bos/eos/unk/pad/… and additional_special_tokens). */
export function specialTokenStrings(config: Json): string[] {
  const out = new Set<string>();
  for (const k of SPECIAL_KEYS) {
    const c = tokenContent(config[k]);
    if (c !== null) out.add(c);
  }
  const extra = config.additional_special_tokens;
  if (Array.isArray(extra)) for (const t of extra) if (tokenContent(t) !== null) out.add(tokenContent(t)!);
  return [...out];
}
