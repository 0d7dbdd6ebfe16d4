/**
 * `eval --task answer`: what the demo reports, for a user's own prompt/answer rows. Rows are `{"prompt","answer"}`
 * (the answer follows the prompt) or `{"prompt","completion"}` with `--marker M` (a trace whose final answer follows
 * the last M). Measured: held-out greedy generation accuracy (the answer read after the marker in the generated
 * text), teacher-forced accuracy at the answer tokens, and, for bridge folders, the leak probe (the first answer
 * token with every later token scrambled, which a causal bridge cannot notice).
 */
import { readFile } from 'node:fs/promises';
import type { Tokenizer } from '@llm-modules/loaders';
import { argmax, tensor, type Tensor } from '@llm-modules/tensor';
import { CliError } from '../io.js';
import { rng } from '../demo/world.js';

export interface AnswerRow {
  /** 1-based line (JSON lines) or row (JSON array) in the file, for messages */
  where: string;
  prompt: string;
  /** text between the prompt and the answer (a trace up to and including the marker); '' without a marker */
  lead: string;
  answer: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Read `{"prompt","answer"}` or (with `marker`) `{"prompt","completion"}` rows from a .jsonl or .json file; a bad row
 * is one error naming the file and its 1-based line or row.
 * @example `await readAnswerRows('facts.jsonl') // [{ where: 'line 1', prompt: '3+4=', lead: '', answer: '7' }, …]`
 */
export async function readAnswerRows(file: string, marker?: string): Promise<AnswerRow[]> {
  const text = await readFile(file, 'utf8');
  const trimmed = text.trimStart();
  let items: { value: unknown; where: string }[];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new CliError(`${file}: invalid JSON (${(err as Error).message})`);
    }
    items = (parsed as unknown[]).map((value, i) => ({ value, where: `row ${i + 1}` }));
  } else {
    items = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        items.push({ value: JSON.parse(line), where: `line ${i + 1}` });
      } catch (err) {
        throw new CliError(`${file}: line ${i + 1}: invalid JSON (${(err as Error).message})`);
      }
    });
  }
  if (items.length === 0) throw new CliError(`${file}: no rows`);
  return items.map(({ value, where }) => {
    const bad = (problem: string) => new CliError(`${file}: ${where}: ${problem}`);
    if (!isObject(value) || typeof value.prompt !== 'string') throw bad('--task answer needs {"prompt": string, "answer": string} rows (or "completion" with --marker)');
    if (typeof value.answer === 'string') return { where, prompt: value.prompt, lead: '', answer: value.answer };
    if (typeof value.completion !== 'string') throw bad('no "answer" (or "completion") string');
    if (marker === undefined) throw bad('a "completion" row needs --marker TEXT (the answer is what follows its last occurrence)');
    const at = value.completion.lastIndexOf(marker);
    if (at < 0) throw bad(`the completion has no marker ${JSON.stringify(marker)}`);
    return { where, prompt: value.prompt, lead: value.completion.slice(0, at + marker.length), answer: value.completion.slice(at + marker.length) };
  });
}

/** A row as token ids: the prompt, the lead and the answer, each encoded on its own (exact boundaries). */
export interface AnswerIds {
  prompt: number[];
  /** prompt + lead + answer */
  sequence: number[];
  /** index in `sequence` of the first answer token */
  answerStart: number;
  answerLength: number;
}

/**
 * Encode one row (prompt, lead and answer separately, so the answer's tokens are exactly known).
 * @example `encodeAnswerRow(tok, { where: 'line 1', prompt: '3+4=', lead: '', answer: '7' }, 'qa.jsonl').answerStart // the prompt's length`
 */
export function encodeAnswerRow(tok: Tokenizer, row: AnswerRow, file: string): AnswerIds {
  const enc = (s: string) => (s === '' ? [] : tok.encode(s, { addSpecialTokens: false }));
  const prompt = enc(row.prompt);
  const lead = enc(row.lead);
  const answer = enc(row.answer);
  if (prompt.length === 0) throw new CliError(`${file}: ${row.where}: the prompt encodes to no tokens`);
  if (answer.length === 0) throw new CliError(`${file}: ${row.where}: the answer is empty`);
  return { prompt, sequence: [...prompt, ...lead, ...answer], answerStart: prompt.length + lead.length, answerLength: answer.length };
}

type Logits = (ids: Tensor) => Tensor;

/** Argmax next-token predictions at every position of one sequence. */
async function predictions(logits: Logits, sequence: number[]): Promise<Int32Array> {
  return (await argmax(logits(tensor(Int32Array.from(sequence), [1, sequence.length])), -1).data()) as Int32Array;
}

/**
 * Teacher-forced: are all answer tokens the model's argmax given the true prefix? With `scrambleSeed`, every token
 * from the first answer token on is replaced by a random id and only the first answer token is scored: a causal
 * model's prediction there cannot change (the leak probe).
 * @example `await teacherForcedRight(logits, ids) // true`
 */
export async function teacherForcedRight(logits: Logits, ids: AnswerIds, opts: { firstTokenOnly?: boolean; scrambleSeed?: number; vocab?: number } = {}): Promise<boolean> {
  const r = rng(opts.scrambleSeed ?? 0);
  const seq = opts.scrambleSeed === undefined ? ids.sequence : ids.sequence.map((id, t) => (t >= ids.answerStart ? Math.floor(r() * opts.vocab!) : id));
  const best = await predictions(logits, seq);
  const n = opts.firstTokenOnly || opts.scrambleSeed !== undefined ? 1 : ids.answerLength;
  for (let k = 0; k < n; k++) if (best[ids.answerStart + k - 1] !== ids.sequence[ids.answerStart + k]) return false;
  return true;
}

/**
 * Whether a generated continuation answers `row`: the text after the last `marker` (or the whole continuation),
 * leading spaces dropped, starts with the answer and does not go on with a letter or digit ("15" is not "1").
 * @example `answerMatches('7, so A:7', { answer: '7' } as AnswerRow, 'A:') // true`
 */
export function answerMatches(continuation: string, row: AnswerRow, marker?: string): boolean {
  let text = continuation;
  if (marker !== undefined) {
    const at = text.lastIndexOf(marker);
    if (at < 0) return false;
    text = text.slice(at + marker.length);
  }
  const want = row.answer.trim();
  text = text.trimStart();
  return text.startsWith(want) && !/^[\p{L}\p{N}]/u.test(text.slice(want.length));
}
