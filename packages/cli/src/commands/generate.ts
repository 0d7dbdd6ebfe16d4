import { generate, type Decodable, type GenerateOptions } from '@llm-modules/transformer';
import { CliError, type CliIO } from '../io.js';
import { checkIds, generationConfig, intOption, loadModel, requireFolder, numberOption, useBackend } from './model.js';
import { isBridgeFolder, loadBridgeModel } from './bridge-model.js';

export interface GenerateCommandOptions {
  model: string;
  prompt?: string;
  ids?: string;
  maxNewTokens?: string;
  greedy?: boolean;
  sample?: boolean;
  temperature?: string;
  topK?: string;
  topP?: string;
  repetitionPenalty?: string;
  seed?: string;
  stop?: string[];
  ignoreEos?: boolean;
  cache?: boolean;
  json?: boolean;
  backend?: string;
  /** wrap --prompt in the tokenizer's chat template as one user turn (with a generation prompt) */
  chat?: boolean;
  /** with --chat: a system message first */
  system?: string;
  /** keep special tokens (`<|endoftext|>`, …) in the printed and JSON `text` */
  keepSpecial?: boolean;
  /** teacher folder for a bridge folder (when its recorded teacher moved) */
  teacher?: string;
}

const idList = (v: unknown): number[] => (Array.isArray(v) ? v : typeof v === 'number' ? [v] : []).filter((x): x is number => Number.isInteger(x));

/** Parse `--ids 1,2,3` (commas or spaces). @example `parseIds('1, 2 3') // [1, 2, 3]` */
export function parseIds(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) throw new CliError(`--ids: expected comma-separated token ids, got "${text}"`);
  return parts.map(Number);
}

/**
 * `llm-modules generate --model DIR (--prompt TEXT [--chat [--system TEXT]] | --ids 1,2,3) [--max-new-tokens N] [--greedy] …`:
 * continue a prompt, streaming the continuation (text, or ids) to stdout as it is generated; the prompt is echoed on
 * stderr as `prompt: "…"`, so the two never run together. Special tokens are left out of the text unless
 * `--keep-special`; `--chat` wraps the prompt in the tokenizer's chat template as a user turn. Greedy unless sampling is asked for (`--sample`, a
 * sampling option, or `do_sample` in the folder's generation_config.json); `--greedy` forces greedy. Stops at
 * the model's eos (unless `--ignore-eos`) or a `--stop` string. `--json` prints only
 * `{"prompt_ids","generated_ids","text","finish_reason","seconds","first_token_seconds","decode_tokens_per_second"}` (the first
 * token's time includes the prompt's prefill; the decoding speed counts the tokens after it).
 *
 * @example-skip needs a model folder (the CLI README's first snippet makes one and runs generate)
 * @example
 * ```ts
 * await generateCommand({ model: 'models/gptneo', ids: '1,2,3', maxNewTokens: '8', greedy: true, json: true }, processIO);
 * ```
 */
export async function generateCommand(opts: GenerateCommandOptions, io: CliIO): Promise<void> {
  if ((opts.prompt === undefined) === (opts.ids === undefined)) throw new CliError('generate: pass exactly one of --prompt TEXT and --ids 1,2,3');
  if (opts.greedy && opts.sample) throw new CliError('generate: --greedy and --sample exclude each other');
  if (opts.chat && opts.prompt === undefined) throw new CliError('generate: --chat needs --prompt TEXT (the user turn)');
  if (opts.system !== undefined && !opts.chat) throw new CliError('generate: --system needs --chat');
  const maxNewTokens = intOption(opts.maxNewTokens, '--max-new-tokens', 32, 0);
  const temperature = numberOption(opts.temperature, '--temperature', 1e-6, 1e6);
  const topK = opts.topK === undefined ? undefined : intOption(opts.topK, '--top-k', 0, 0);
  const topP = numberOption(opts.topP, '--top-p', 1e-6, 1);
  const repetitionPenalty = numberOption(opts.repetitionPenalty, '--repetition-penalty', 1e-6, 1e6);
  const seed = intOption(opts.seed, '--seed', 0, 0);
  await useBackend(opts.backend);
  // a bridge folder (train mode "bridge": frozen teacher → bridge → student) or a Hugging Face model folder
  await requireFolder(opts.model, '--model');
  const bridge = (await isBridgeFolder(opts.model)) ? await loadBridgeModel(opts.model, { teacher: opts.teacher }) : null;
  if (opts.teacher !== undefined && !bridge) throw new CliError(`--teacher: ${opts.model} is not a bridge folder (only a bridge folder has a teacher)`);
  const plain = bridge ? null : await loadModel(opts.model);
  const tokenizer = bridge ? bridge.tokenizer : plain!.tokenizer;
  const config: { model_type: string; vocab_size: number; max_position_embeddings: number; eos_token_id?: unknown } = bridge ? bridge.config : plain!.config;
  const gen = await generationConfig(opts.model);
  let promptIds: number[];
  if (opts.prompt !== undefined) {
    if (!tokenizer) throw new CliError(`${opts.model}: no tokenizer files (tokenizer.json or vocab.json + merges.txt); pass --ids instead of --prompt`);
    promptIds = opts.chat ? tokenizer.encodeChat([...(opts.system !== undefined ? [{ role: 'system', content: opts.system }] : []), { role: 'user', content: opts.prompt }], { addGenerationPrompt: true }) : tokenizer.encode(opts.prompt);
    if (promptIds.length === 0) throw new CliError('--prompt: the text encodes to no tokens');
  } else promptIds = parseIds(opts.ids!);
  checkIds(promptIds, config.vocab_size, opts.prompt !== undefined ? '--prompt' : '--ids');
  // one path for both folder kinds: a plain model and a composed model's decoding view are decoded alike
  const decodable = (bridge ? bridge.model.decoding : plain!.model) as Decodable<unknown>;
  const maxPositions = bridge ? config.max_position_embeddings : (decodable.maxPositions ?? Infinity); // RoPE models: unbounded
  if (promptIds.length + maxNewTokens > maxPositions) {
    throw new CliError(`the prompt (${promptIds.length} tokens) + --max-new-tokens ${maxNewTokens} exceed max_position_embeddings ${maxPositions} of ${opts.model}`);
  }
  const samplingAsked = opts.sample || temperature !== undefined || topK !== undefined || topP !== undefined || gen.do_sample === true;
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const eos = idList(gen.eos_token_id ?? config.eos_token_id);
  const options: GenerateOptions = {
    maxNewTokens,
    greedy: opts.greedy || !samplingAsked,
    temperature: temperature ?? num(gen.temperature) ?? 1,
    topK: topK ?? num(gen.top_k) ?? 0,
    topP: topP ?? num(gen.top_p) ?? 1,
    repetitionPenalty: repetitionPenalty ?? num(gen.repetition_penalty) ?? 1,
    seed,
    stopTokens: opts.ignoreEos ? [] : eos,
    stopStrings: opts.stop ?? [],
    tokenizer,
    useCache: opts.cache !== false,
  };
  if (options.stopStrings!.length && !tokenizer) throw new CliError(`--stop needs a tokenizer, and ${opts.model} has none`);
  const generated: number[] = [];
  let printed = '';
  const textOf = (ids: number[]) => tokenizer!.decode(ids, { skipSpecialTokens: !opts.keepSpecial });
  if (!opts.json) {
    // stdout is the continuation alone (what a script captures); the prompt is shown apart, on stderr
    options.onToken = ({ token }) => {
      generated.push(token);
      if (!tokenizer) return io.stdout(`${generated.length > 1 ? ' ' : ''}${token}`);
      const text = textOf(generated);
      if (text.endsWith('\uFFFD')) return; // an incomplete UTF-8 character: wait for its next byte
      io.stdout(text.slice(printed.length));
      printed = text;
    };
    io.stderr(`prompt: ${JSON.stringify(tokenizer ? tokenizer.decode(promptIds, { skipSpecialTokens: !opts.keepSpecial && !opts.chat }) : promptIds.join(' '))}\n`);
  }
  // timing: the first token includes the prompt's prefill; the rest is the incremental decoding speed
  const began = performance.now();
  const stamps: number[] = [];
  const print = options.onToken;
  options.onToken = (e) => {
    stamps.push(performance.now());
    print?.(e);
  };
  const result = await generate(decodable, bridge ? bridge.params : plain!.params, promptIds, options);
  const ids = result.sequences[0];
  const text = tokenizer ? textOf(ids) : null;
  if (opts.json) {
    const decode = stamps.length > 1 ? (stamps.length - 1) / ((stamps.at(-1)! - stamps[0]) / 1000) : null;
    const timing = { seconds: round((performance.now() - began) / 1000), first_token_seconds: stamps.length ? round((stamps[0] - began) / 1000) : null, decode_tokens_per_second: decode === null ? null : round(decode) };
    io.stdout(`${JSON.stringify({ prompt_ids: promptIds, generated_ids: ids, text, finish_reason: result.finishReasons[0], ...timing })}\n`);
    return;
  }
  if (text !== null && text.length > printed.length) io.stdout(text.slice(printed.length));
  io.stdout('\n');
}

const round = (x: number) => Number(x.toFixed(3));
