/** Running `eval --task answer` over a loaded model (plain or bridge folder), with progress and an ETA on stderr. */
import { leakProbe, type ComposedModel } from '@llm-modules/bridge';
import type { Tokenizer } from '@llm-modules/loaders';
import { tensor, type Tensor } from '@llm-modules/tensor';
import { generate, type CausalLM, type Decodable, type Params } from '@llm-modules/transformer';
import { CliError, type CliIO } from '../io.js';
import { answerMatches, encodeAnswerRow, teacherForcedRight, type AnswerRow } from './answer.js';

const LEAK_PROBE_ROWS = 8;

export interface AnswerModel {
  tokenizer: Tokenizer | null;
  maxPositions: number;
  /** `[1, T, V]` logits */
  logits: (ids: Tensor) => Tensor;
  plain?: { model: CausalLM; params: Params };
  bridge?: { model: ComposedModel; params: Params };
  eos: number[];
}

export interface AnswerReport {
  task: 'answer';
  rows: number;
  /** greedy generation from the prompt: the answer read after the marker */
  generation_accuracy: number;
  /** all answer tokens are the argmax given the true prefix */
  teacher_forced_accuracy: number;
  /** bridge folders: the first answer token, as is and with every later token scrambled, and the probe's largest logit change over the first 8 rows */
  leak?: { first_token_accuracy: number; first_token_accuracy_scrambled: number; max_logit_change: number };
  seconds: number;
}

/** "12/40 rows, eta 3s" on stderr: a rewritten line on a terminal, about ten plain lines otherwise. */
function progress(io: CliIO, total: number): (done: number) => void {
  const began = performance.now();
  const every = Math.max(1, Math.ceil(total / 10));
  return (done) => {
    if (!io.interactive && done % every !== 0 && done !== total) return;
    const elapsed = (performance.now() - began) / 1000;
    const eta = done ? (elapsed / done) * (total - done) : 0;
    const line = `eval answer: ${done}/${total} rows, ${elapsed.toFixed(0)}s, eta ${eta.toFixed(0)}s`;
    io.stderr(io.interactive ? `\r${line}\x1b[K${done === total ? '\n' : ''}` : `${line}\n`);
  };
}

/**
 * Score `rows` (see `readAnswerRows`) with `m`.
 * @example `const report = await runAnswerTask(m, rows, { file: 'qa.jsonl', marker: 'A:' }, io)`
 */
export async function runAnswerTask(m: AnswerModel, rows: AnswerRow[], opts: { file: string; marker?: string; seed?: number }, io: CliIO): Promise<AnswerReport> {
  const tok = m.tokenizer;
  if (!tok) throw new CliError(`--task answer needs the model's tokenizer, and the model folder has none`);
  const encoded = rows.map((r) => encodeAnswerRow(tok, r, opts.file));
  const tooLong = encoded.findIndex((e) => e.sequence.length > m.maxPositions);
  if (tooLong >= 0) throw new CliError(`${opts.file}: ${rows[tooLong].where}: prompt and answer are ${encoded[tooLong].sequence.length} tokens, more than the model's ${m.maxPositions} positions`);
  const began = performance.now();
  const tick = progress(io, rows.length);
  let generated = 0;
  let forced = 0;
  let first = 0;
  let scrambled = 0;
  let maxChange = 0;
  for (let i = 0; i < rows.length; i++) {
    const ids = encoded[i];
    if (await teacherForcedRight(m.logits, ids)) forced++;
    // greedy from the prompt, long enough for the lead and the answer (and a little more)
    const want = ids.sequence.length - ids.prompt.length + 4;
    const maxNewTokens = Math.min(want, m.maxPositions - ids.prompt.length);
    const gen = { maxNewTokens, greedy: true, stopTokens: m.eos, tokenizer: tok };
    // one generate for both folder kinds: a bridge folder decodes through its composed model's decoding view
    const decodable = (m.bridge ? m.bridge.model.decoding : m.plain!.model) as Decodable<unknown>;
    const result = await generate(decodable, m.bridge ? m.bridge.params : m.plain!.params, ids.prompt, { ...gen, useCache: true });
    if (answerMatches(tok.decode(result.sequences[0], { skipSpecialTokens: true }), rows[i], opts.marker)) generated++;
    if (m.bridge) {
      const vocab = Math.min(m.bridge.model.vocabSize, m.bridge.model.teacher.model.config.vocab_size);
      if (await teacherForcedRight(m.logits, ids, { firstTokenOnly: true })) first++;
      if (await teacherForcedRight(m.logits, ids, { scrambleSeed: (opts.seed ?? 0) + i, vocab })) scrambled++;
      // the full probe costs a forward per position: a few rows show a leak as well as all of them
      if (i < LEAK_PROBE_ROWS) {
        const probe = await leakProbe(m.bridge.model, m.bridge.params, tensor(Int32Array.from(ids.sequence), [1, ids.sequence.length]));
        maxChange = Math.max(maxChange, probe.maxChange);
      }
    }
    tick(i + 1);
  }
  const n = rows.length;
  const round = (x: number) => Number(x.toFixed(4));
  return {
    task: 'answer',
    rows: n,
    generation_accuracy: round(generated / n),
    teacher_forced_accuracy: round(forced / n),
    ...(m.bridge ? { leak: { first_token_accuracy: round(first / n), first_token_accuracy_scrambled: round(scrambled / n), max_logit_change: maxChange } } : {}),
    seconds: Number(((performance.now() - began) / 1000).toFixed(2)),
  };
}
