import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerError } from '../errors.js';
import { CHATML_TEMPLATE, pickTemplate, renderChatTemplate, type ChatMessage } from './chat.js';
import { SPECIAL_KEYS, configAddedTokens, readJson, tokenContent, tokenizerJsonFromBpeFiles, type AddedTokenSpec } from './files.js';

type Json = Record<string, unknown>;

export interface EncodeOptions {
  /** Add the tokenizer's own special tokens (BOS/EOS per its post-processor). Default true, as in Hugging Face. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (`<|endoftext|>`, `<|im_start|>`…). Default false. */
  skipSpecialTokens?: boolean;
  /** Hugging Face's clean-up of spaces before punctuation. Default false, so that decode(encode(s)) == s. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /** A template to use instead of the tokenizer's own. */
  chatTemplate?: string;
}

/** A loaded tokenizer: byte-exact Hugging Face encoding, decoding and chat templates. */
export interface Tokenizer {
  /** The folder it was loaded from. */
  readonly dir: string;
  /** Number of ids: vocabulary plus added tokens (highest id + 1). */
  readonly vocabSize: number;
  /** bos/eos/unk/pad/… token strings from the config (null when unset). */
  readonly specialTokens: Readonly<Record<(typeof SPECIAL_KEYS)[number], string | null>>;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Ids of all special tokens. */
  readonly specialIds: ReadonlySet<number>;
  /** The chat template in use (tokenizer_config.json's, or the ChatML fallback), or null. */
  readonly chatTemplate: string | null;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  /** Token strings of `text` (byte-level: `Ġ` is a space). */
  tokenize(text: string): string[];
  tokenToId(token: string): number | null;
  idToToken(id: number): string | null;
  /** Render the chat as text (Hugging Face's `apply_chat_template(tokenize=False)`). */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
  /** Render the chat and encode it (without adding special tokens beyond the template's). */
  encodeChat(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): number[];
}

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
  const tokConfig = (await readJson(dir, 'tokenizer_config.json', true)) ?? {};
  const specialMap = (await readJson(dir, 'special_tokens_map.json', true)) ?? {};
  const config: Json = { ...tokConfig };
  for (const [k, v] of Object.entries(specialMap)) if (config[k] === undefined || config[k] === null) config[k] = v;
  const addedJson = await readJson(dir, 'added_tokens.json', true);

  const json = (await readJson(dir, 'tokenizer.json', true)) ?? (await tokenizerJsonFromBpeFiles(dir, config));
  if (!json) throw new TokenizerError(dir, 'no tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe in this folder');
  const model = json.model as Json | undefined;
  if (!model || typeof model !== 'object') throw new TokenizerError(join(dir, 'tokenizer.json'), 'missing "model"');
  const vocab = (model.vocab && typeof model.vocab === 'object' && !Array.isArray(model.vocab) ? model.vocab : {}) as Record<string, number>;

  const listed = Array.isArray(json.added_tokens) ? (json.added_tokens as AddedTokenSpec[]) : [];
  const known = new Set(listed.map((t) => t.content));
  const extra = configAddedTokens(dir, config, addedJson, vocab).filter((t) => !known.has(t.content));
  json.added_tokens = [...listed, ...extra];

  let hf: HFTokenizer;
  try {
    hf = new HFTokenizer(json, config);
  } catch (err) {
    throw new TokenizerError(dir, `cannot build the tokenizer: ${(err as Error).message}`);
  }
  return wrap(dir, hf, config, json.added_tokens as AddedTokenSpec[], vocab);
}

function wrap(dir: string, hf: HFTokenizer, config: Json, added: AddedTokenSpec[], vocab: Record<string, number>): Tokenizer {
  let maxId = -1;
  for (const id of Object.values(vocab)) if (id > maxId) maxId = id;
  for (const t of added) if (t.id > maxId) maxId = t.id;
  const vocabSize = maxId + 1;
  const specialTokens = Object.fromEntries(SPECIAL_KEYS.map((k) => [k, tokenContent(config[k])])) as Tokenizer['specialTokens'];
  const idOf = (tok: string | null) => (tok === null ? null : (hf.token_to_id(tok) ?? null));
  const specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
  const configFile = join(dir, 'tokenizer_config.json');
  const own = pickTemplate(config.chat_template, configFile);
  const hasChatML = hf.token_to_id('<|im_start|>') !== undefined && hf.token_to_id('<|im_end|>') !== undefined;
  const chatTemplate = own ?? (hasChatML ? CHATML_TEMPLATE : null);

  const tokenizer: Tokenizer = {
    dir,
    vocabSize,
    specialTokens,
    bosTokenId: idOf(specialTokens.bos_token),
    eosTokenId: idOf(specialTokens.eos_token),
    padTokenId: idOf(specialTokens.pad_token),
    specialIds,
    chatTemplate,
    encode(text, opts = {}) {
      if (typeof text !== 'string') throw new TokenizerError(dir, 'encode() needs a string');
      return hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    },
    decode(ids, opts = {}) {
      const list = Array.from(ids);
      for (const id of list) {
        if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize || hf.id_to_token(id) === undefined) {
          throw new TokenizerError(dir, `cannot decode id ${id}: not in the vocabulary (${vocabSize} ids)`);
        }
      }
      if (list.length === 0) return '';
      return hf.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces ?? false });
    },
    tokenize: (text) => hf.tokenize(text),
    tokenToId: (token) => hf.token_to_id(token) ?? null,
    idToToken: (id) => hf.id_to_token(id) ?? null,
    applyChatTemplate(messages, opts = {}) {
      const template = opts.chatTemplate ?? chatTemplate;
      if (template === null) throw new TokenizerError(configFile, 'no chat_template, and the vocabulary has no <|im_start|>/<|im_end|> for the ChatML fallback');
      const variables: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(specialTokens)) if (v !== null) variables[k] = v;
      return renderChatTemplate(template, messages, { addGenerationPrompt: opts.addGenerationPrompt, variables, file: configFile });
    },
    encodeChat(messages, opts = {}) {
      return tokenizer.encode(tokenizer.applyChatTemplate(messages, opts), { addSpecialTokens: false });
    },
  };
  return tokenizer;
}
