import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { TokenizerError } from '../errors.js';
import { asFolder, type FileFolder, type FileMap } from '../files/folder.js';
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
  /** The folder it was loaded from (a path, URL or label). */
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
 * Build a tokenizer from a Hugging Face tokenizer's files held in memory or fetched (`tokenizer.json`, or
 * `vocab.json` + `merges.txt`, with `tokenizer_config.json` etc. as in `loadTokenizer`): a FileFolder
 * (`httpFolder(url)`, `filesFolder(map)`) or a map of name → bytes. Errors name `label/file`.
 *
 * @example
 * ```ts
 * const vocab = { h: 0, i: 1, hi: 2 };
 * const json = { version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
 *   model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: ['h i'] } };
 * const tok = await loadTokenizerFrom({ 'tokenizer.json': JSON.stringify(json) });
 * tok.encode('hi'); // [2]
 * ```
 */
export async function loadTokenizerFrom(source: FileFolder | FileMap): Promise<Tokenizer> {
  const folder = asFolder(source);
  const dir = folder.label;
  const tokConfig = (await readJson(folder, 'tokenizer_config.json', true)) ?? {};
  const specialMap = (await readJson(folder, 'special_tokens_map.json', true)) ?? {};
  const config: Json = { ...tokConfig };
  for (const [k, v] of Object.entries(specialMap)) if (config[k] === undefined || config[k] === null) config[k] = v;
  const addedJson = await readJson(folder, 'added_tokens.json', true);

  const json = (await readJson(folder, 'tokenizer.json', true)) ?? (await tokenizerJsonFromBpeFiles(folder, config));
  if (!json) throw new TokenizerError(dir, 'no tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe in this folder');
  const model = json.model as Json | undefined;
  if (!model || typeof model !== 'object') throw new TokenizerError(folder.path('tokenizer.json'), 'missing "model"');
  const vocab = (model.vocab && typeof model.vocab === 'object' && !Array.isArray(model.vocab) ? model.vocab : {}) as Record<string, number>;

  const listed = Array.isArray(json.added_tokens) ? (json.added_tokens as AddedTokenSpec[]) : [];
  const known = new Set(listed.map((t) => t.content));
  const extra = configAddedTokens(folder, config, addedJson, vocab).filter((t) => !known.has(t.content));
  json.added_tokens = [...listed, ...extra];

  let hf: HFTokenizer;
  try {
    hf = new HFTokenizer(json, config);
  } catch (err) {
    throw new TokenizerError(dir, `cannot build the tokenizer: ${(err as Error).message}`);
  }
  return wrap(folder, hf, config, json.added_tokens as AddedTokenSpec[], vocab);
}

function wrap(folder: FileFolder, hf: HFTokenizer, config: Json, added: AddedTokenSpec[], vocab: Record<string, number>): Tokenizer {
  let maxId = -1;
  for (const id of Object.values(vocab)) if (id > maxId) maxId = id;
  for (const t of added) if (t.id > maxId) maxId = t.id;
  const vocabSize = maxId + 1;
  const specialTokens = Object.fromEntries(SPECIAL_KEYS.map((k) => [k, tokenContent(config[k])])) as Tokenizer['specialTokens'];
  const idOf = (tok: string | null) => (tok === null ? null : (hf.token_to_id(tok) ?? null));
  const specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
  const dir = folder.label;
  const configFile = folder.path('tokenizer_config.json');
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

