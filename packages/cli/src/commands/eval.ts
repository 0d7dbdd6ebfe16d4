import { readRows } from '@llm-modules/loaders';
import { evaluate, reshape, slice, tensor, type Tensor } from '@llm-modules/tensor';
import { crossEntropySum, labelsFromMask } from '@llm-modules/transformer';
import { CliError, thousands, type CliIO } from '../io.js';
import { checkIds, intOption, loadModel, requireFolder, useBackend } from './model.js';
import { isBridgeFolder, loadBridgeModel } from './bridge-model.js';
import { readAnswerRows } from '../eval/answer.js';
import { runAnswerTask, type AnswerModel, type AnswerReport } from '../eval/answer-run.js';

export interface EvalOptions {
  model: string;
  data: string;
  json?: boolean;
  batchSize?: string;
  maxLength?: string;
  backend?: string;
  /** teacher folder for a bridge folder (when its recorded teacher moved) */
  teacher?: string;
  /** `loss` (default) or `answer` (prompt/answer rows: generation and teacher-forced accuracy, the leak probe) */
  task?: string;
  /** --task answer: the answer is what follows the last occurrence of this in a row's completion */
  marker?: string;
}

/**
 * `llm-modules eval --model DIR --data FILE [--json]` (DIR: a model folder or a bridge folder from `train`): mean next-token cross-entropy over every non-pad token
 * of the rows (`{text}`, tokenized with the model's tokenizer, or `{input_ids}`), and its perplexity. Rows
 * longer than `--max-length` (default: the model's max_position_embeddings) are cut to it.
 *
 * @example-skip needs a model folder and a dataset file
 * @example
 * ```ts
 * await evalCommand({ model: 'models/gptneo', data: 'val.jsonl', json: true }, processIO); // {"loss":…,"perplexity":…,"tokens":…}
 * ```
 */
export async function evalCommand(opts: EvalOptions, io: CliIO): Promise<void> {
  const batchSize = intOption(opts.batchSize, '--batch-size', 8, 1);
  const task = opts.task ?? 'loss';
  if (task !== 'loss' && task !== 'answer') throw new CliError(`--task: unknown task "${opts.task}" (loss or answer)`);
  if (opts.marker !== undefined && task !== 'answer') throw new CliError('--marker needs --task answer');
  if (opts.marker === '') throw new CliError('--marker: expected a text, got ""');
  await useBackend(opts.backend);
  // a bridge folder (train mode "bridge") or a Hugging Face model folder
  await requireFolder(opts.model, '--model');
  const bridge = (await isBridgeFolder(opts.model)) ? await loadBridgeModel(opts.model, { teacher: opts.teacher }) : null;
  if (opts.teacher !== undefined && !bridge) throw new CliError(`--teacher: ${opts.model} is not a bridge folder (only a bridge folder has a teacher)`);
  const plain = bridge ? null : await loadModel(opts.model);
  const tokenizer = bridge ? bridge.tokenizer : plain!.tokenizer;
  const config: { model_type: string; vocab_size: number; max_position_embeddings: number } = bridge ? bridge.config : plain!.config;
  const logitsOf = bridge ? bridge.logits : (x: Tensor, attentionMask: Tensor) => plain!.model.apply(plain!.params, x, { attentionMask }).logits;
  if (task === 'answer') {
    const rows = await readAnswerRows(opts.data, opts.marker);
    const eos = bridge ? bridge.config.eos_token_id : ((v: unknown) => (Array.isArray(v) ? v : typeof v === 'number' ? [v] : []))(plain!.config.eos_token_id);
    const model: AnswerModel = { tokenizer, maxPositions: config.max_position_embeddings, logits: (x) => (bridge ? bridge.logits(x) : plain!.model.apply(plain!.params, x).logits), eos, ...(bridge ? { bridge: { model: bridge.model, params: bridge.params } } : { plain: { model: plain!.model, params: plain!.params } }) };
    const report = await runAnswerTask(model, rows, { file: opts.data, marker: opts.marker }, io);
    if (opts.json) io.stdout(`${JSON.stringify(report)}\n`);
    else io.stdout(answerTable(opts.model, config.model_type, opts.data, report));
    return;
  }
  const maxLength = intOption(opts.maxLength, '--max-length', config.max_position_embeddings, 2);
  if (maxLength > (bridge ? config.max_position_embeddings : plain!.model.maxPositions)) { // RoPE models: unbounded
    throw new CliError(`--max-length ${maxLength} exceeds max_position_embeddings ${config.max_position_embeddings} of ${opts.model}`);
  }
  const rows: number[][] = [];
  let truncated = 0;
  let index = 0;
  for await (const row of readRows(opts.data)) {
    const where = `${opts.data}: row ${++index}`; // 1-based, as the dataset errors' line numbers
    let ids: number[];
    if (row.kind === 'ids') ids = row.input_ids;
    else if (row.kind === 'text') {
      if (!tokenizer) throw new CliError(`${where}: a text row needs a tokenizer, and ${opts.model} has no tokenizer files (use input_ids rows)`);
      ids = tokenizer.encode(row.text);
    } else throw new CliError(`${where}: conversation rows are not supported by eval (use {"text"} or {"input_ids"} rows)`);
    checkIds(ids, config.vocab_size, where);
    if (ids.length > maxLength) {
      ids = ids.slice(0, maxLength);
      truncated++;
    }
    if (ids.length >= 2) rows.push(ids);
  }
  let total = 0;
  let tokens = 0;
  rows.sort((a, b) => a.length - b.length); // similar lengths together: less padding
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    const T = batch[batch.length - 1].length;
    const ids = new Int32Array(batch.length * T);
    const mask = new Int32Array(batch.length * T);
    batch.forEach((r, b) => {
      ids.set(r, b * T);
      mask.fill(1, b * T, b * T + r.length);
    });
    const idsT = tensor(ids, [batch.length, T]);
    const maskT = tensor(mask, [batch.length, T]);
    const logits = logitsOf(idsT, maskT);
    const V = logits.shape[2];
    const labels = slice(labelsFromMask(idsT, maskT), [0, 1]); // [B, T-1]
    const sums = crossEntropySum(reshape(slice(logits, [0, 0, 0], [batch.length, T - 1, V]), [-1, V]), reshape(labels, [-1]));
    await evaluate(sums.total, sums.count);
    total += (await sums.total.data())[0];
    tokens += (await sums.count.data())[0];
  }
  if (tokens === 0) throw new CliError(`${opts.data}: no tokens to evaluate (every row has fewer than 2 tokens)`);
  const loss = total / tokens;
  const report = { loss, perplexity: Math.exp(loss), tokens };
  if (opts.json) {
    io.stdout(`${JSON.stringify(report)}\n`);
    return;
  }
  io.stdout(
    [
      `model       ${opts.model} (${config.model_type})`,
      `data        ${opts.data}: ${thousands(index)} rows${truncated ? `, ${truncated} cut to ${maxLength} tokens` : ''}`,
      `tokens      ${thousands(tokens)} predicted`,
      `loss        ${loss.toFixed(6)}`,
      `perplexity  ${report.perplexity.toFixed(4)}`,
    ].join('\n') + '\n',
  );
}

/** The plain-text report of `--task answer`. */
function answerTable(model: string, type: string, data: string, r: AnswerReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `model                     ${model} (${type})`,
    `data                      ${data}: ${thousands(r.rows)} rows`,
    `generation accuracy       ${pct(r.generation_accuracy)} (greedy, the answer read from the generated text)`,
    `teacher-forced accuracy   ${pct(r.teacher_forced_accuracy)} (every answer token right given the true prefix)`,
  ];
  if (r.leak) lines.push(`leak probe                first answer token ${pct(r.leak.first_token_accuracy)}, with later tokens scrambled ${pct(r.leak.first_token_accuracy_scrambled)}; largest logit change ${r.leak.max_logit_change.toPrecision(3)} (0 = causal)`);
  return `${lines.join('\n')}\n`;
}
