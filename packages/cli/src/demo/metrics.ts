/**
 * The demo's measurements on a set of facts (all of one sequence length, so batches need no padding):
 * free-running greedy generation accuracy of the final answer, teacher-forced accuracy at the trace's answer
 * position, and the same after scrambling every later token (the leak probe).
 */
import type { Tokenizer } from '@llm-modules/loaders';
import { argmax, slice, tensor, type Tensor } from '@llm-modules/tensor';
import type { Params } from '@llm-modules/transformer';
import { completionText, encode, promptText, rng, type Fact } from './world.js';

export interface TraceSet<F = Fact> {
  facts: F[];
  /** prompt + completion + EOS, one row per fact */
  sequences: number[][];
  promptLength: number;
  /** index (in a sequence) of the fact's answer inside the trace */
  answerPosition: number;
  answers: number[];
}

/**
 * Tokenize the traces of `facts` (every sequence has the same length in this world).
 * @example-skip needs the world's tokenizer (runDemo and examples/browser load it from the teacher's folder)
 * @example `const set = traceSet(tok, heldout); set.sequences[0].length // 15`
 */
export function traceSet(tok: Tokenizer, facts: readonly Fact[]): TraceSet {
  const eos = tok.eosTokenId!;
  const prompts = facts.map((f) => encode(tok, promptText(f)));
  const sequences = facts.map((f, i) => [...prompts[i], ...encode(tok, completionText(f)), eos]);
  const L = sequences[0]?.length ?? 0;
  if (sequences.some((s) => s.length !== L) || prompts.some((p) => p.length !== prompts[0].length)) throw new Error('traceSet: traces must share one length');
  const answers = facts.map((f) => encode(tok, String(f.answer))[0]);
  // prompt "a op b =", then "ANSWER, so A:ANSWER": the fact's answer is the completion's first token
  return { facts: facts.slice(), sequences, promptLength: prompts[0]?.length ?? 0, answerPosition: prompts[0]?.length ?? 0, answers };
}

type LogitsFn = (params: Params, ids: Tensor) => Tensor;

async function lastArgmax(logitsFn: LogitsFn, params: Params, rows: number[][], position: number): Promise<Int32Array> {
  const T = rows[0].length;
  const ids = tensor(Int32Array.from(rows.flat()), [rows.length, T]);
  const logits = slice(logitsFn(params, ids), [0, position], [rows.length, position + 1]);
  return (await argmax(logits, -1).data()) as Int32Array;
}

/** Run `fn` over `rows` in chunks of `size` (bounded memory), concatenating the int results. */
async function chunked(rows: number[][], size: number, fn: (chunk: number[][]) => Promise<Int32Array>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += size) out.push(...(await fn(rows.slice(i, i + size))));
  return out;
}

/**
 * Teacher-forced accuracy at the answer position; with `scrambleSeed`, every token from the answer on is
 * replaced by a random one first (a causal model's prediction cannot change; a leaky one's can).
 * @example-skip needs a trained contestant's logits and parameters (runDemo; examples/browser's recipe)
 * @example `const acc = await teacherForcedAccuracy(c.logits, params, set, { vocab: 347 })`
 */
export async function teacherForcedAccuracy(logitsFn: LogitsFn, params: Params, set: TraceSet<unknown>, opts: { vocab: number; scrambleSeed?: number; chunk?: number }): Promise<number> {
  const r = rng(opts.scrambleSeed ?? 0);
  const rows = set.sequences.map((s) => (opts.scrambleSeed === undefined ? s : s.map((id, t) => (t >= set.answerPosition ? Math.floor(r() * opts.vocab) : id))));
  const best = await chunked(rows, opts.chunk ?? 128, (c) => lastArgmax(logitsFn, params, c, set.answerPosition - 1));
  return best.filter((b, i) => b === set.answers[i]).length / rows.length;
}

/**
 * Greedy free-running generation from each prompt (the whole prefix recomputed each step, as the released code
 * generates); the final answer is the token after `A:`.
 * @example-skip needs a trained contestant's logits and parameters (runDemo; examples/browser's recipe)
 * @example `const { accuracy, samples } = await generationAccuracy(c.logits, params, set, tok)`
 */
export async function generationAccuracy(logitsFn: LogitsFn, params: Params, set: TraceSet<unknown>, tok: Tokenizer, opts: { chunk?: number } = {}): Promise<{ accuracy: number; samples: string[] }> {
  const total = set.sequences[0].length;
  let rows = set.sequences.map((s) => s.slice(0, set.promptLength));
  for (let t = set.promptLength; t < total; t++) {
    const next = await chunked(rows, opts.chunk ?? 128, (c) => lastArgmax(logitsFn, params, c, t - 1));
    rows = rows.map((row, i) => [...row, next[i]]);
  }
  const [A, colon] = encode(tok, 'A:');
  let right = 0;
  const samples = rows.map((row, i) => {
    const at = row.findIndex((id, t) => t >= set.promptLength && id === A && row[t + 1] === colon);
    if (at >= 0 && row[at + 2] === set.answers[i]) right++;
    return tok.decode(row.filter((id) => id !== tok.eosTokenId));
  });
  return { accuracy: right / rows.length, samples };
}
