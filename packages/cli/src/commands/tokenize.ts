import { readFile, stat } from 'node:fs/promises';
import { loadTokenizer } from '@llm-modules/loaders';
import { CliError, fsErrorLine, type CliIO } from '../io.js';
import { parseIds } from './generate.js';
import { requireFolder } from './model.js';

export interface TokenizeOptions {
  model: string;
  /** the text itself */
  text?: string;
  /** a UTF-8 file to encode, `-` for stdin */
  file?: string;
  json?: boolean;
}

/** All of stdin as UTF-8 (what `--file -` and a pipe give `tokenize`). */
async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

/** The text to encode: `--text`, `--file FILE` (`-`: stdin), or stdin when it is a pipe. */
async function inputText(opts: TokenizeOptions, stdin: NodeJS.ReadStream): Promise<string> {
  if (opts.text !== undefined && opts.file !== undefined) throw new CliError('tokenize: pass one of --text TEXT and --file FILE, not both');
  if (opts.text !== undefined) return opts.text;
  if (opts.file === '-' || (opts.file === undefined && !stdin.isTTY)) return readStdin(stdin);
  if (opts.file === undefined) throw new CliError('tokenize: pass --text TEXT, --file FILE, or pipe the text into stdin');
  const s = await stat(opts.file).catch((err: unknown) => {
    throw new CliError(fsErrorLine(err, opts.file) ?? `${opts.file}: cannot read`);
  });
  if (!s.isFile()) throw new CliError(`${opts.file}: is a folder, expected a text file`);
  return readFile(opts.file, 'utf8');
}

/**
 * `llm-modules tokenize --model DIR (--text TEXT | --file FILE | < FILE) [--json]`: the token ids of the text with the
 * model's tokenizer (`--file -` reads stdin; with neither option a piped stdin is read). Plain output is the ids
 * separated by spaces; `--json` prints `{"ids":[...]}`.
 *
 * @example-skip needs a tokenizer folder (models/qwen2)
 * @example
 * ```ts
 * await tokenize({ model: 'models/qwen2', text: 'Hello world', json: true }, processIO); // {"ids":[9707,1879]}
 * ```
 */
export async function tokenize(opts: TokenizeOptions, io: CliIO, stdin: NodeJS.ReadStream = process.stdin): Promise<void> {
  await requireFolder(opts.model, '--model');
  const text = await inputText(opts, stdin);
  const tok = await loadTokenizer(opts.model);
  const ids = tok.encode(text);
  io.stdout(opts.json ? `${JSON.stringify({ ids })}\n` : `${ids.join(' ')}\n`);
}

export interface DecodeOptions {
  model: string;
  /** comma- or space-separated ids */
  ids: string;
  /** keep special tokens (`<|endoftext|>`, …) in the text */
  keepSpecial?: boolean;
  json?: boolean;
}

/**
 * `llm-modules decode --model DIR --ids 1,2,3 [--keep-special] [--json]`: the text of token ids (the inverse of
 * `tokenize`). Special tokens are left out unless `--keep-special`; `--json` prints `{"text":...}`.
 *
 * @example-skip needs a tokenizer folder (models/qwen2)
 * @example
 * ```ts
 * await decode({ model: 'models/qwen2', ids: '9707,1879', json: true }, processIO); // {"text":"Hello world"}
 * ```
 */
export async function decode(opts: DecodeOptions, io: CliIO): Promise<void> {
  const ids = parseIds(opts.ids);
  await requireFolder(opts.model, '--model');
  const tok = await loadTokenizer(opts.model);
  const bad = ids.find((id) => id >= tok.vocabSize);
  if (bad !== undefined) throw new CliError(`--ids: token id ${bad} is outside the tokenizer's vocabulary [0, ${tok.vocabSize})`);
  const text = tok.decode(ids, { skipSpecialTokens: !opts.keepSpecial });
  io.stdout(opts.json ? `${JSON.stringify({ text })}\n` : `${text}\n`);
}
