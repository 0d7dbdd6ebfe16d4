/**
 * What every cache-teacher process does first, whether it caches everything, one shard, or a queued job: load the
 * teacher and the rows, put the rows in the cache order `train` uses, and fingerprint teacher, data and settings.
 * Each shard does the whole of this (it needs the full data's order and fingerprint), then runs only its slice.
 */
import { loadRows, type Row } from '@llm-modules/loaders';
import { cacheFingerprint, cacheOrder, collate, formatExample, type Batch, type CacheFingerprint, type Example, type PromptFormat } from '@llm-modules/trainer';
import type { Tensor } from '@llm-modules/tensor';
import { CliError } from '../io.js';
import { intOption, loadModel, useBackend } from '../commands/model.js';

/** The settings a cache-teacher run is made of (the strings are the command line's). */
export interface TeacherJobSpec {
  model: string;
  data: string;
  format?: string;
  maxLength?: string;
  batchSize?: string;
  backend?: string;
}

export interface PreparedTeacherJob {
  examples: Example[];
  fingerprint: CacheFingerprint;
  hiddenSize: number;
  batchSize: number;
  run: (b: Batch) => Tensor;
  collate: (ex: Example[]) => Batch;
}

const FORMATS = ['paper', 'chatml'];

/** The checks that need no files: format and batch size. */
export function checkSpec(spec: TeacherJobSpec): { format: PromptFormat; batchSize: number } {
  const format = (spec.format ?? 'paper') as PromptFormat;
  if (!FORMATS.includes(format)) throw new CliError(`--format: expected one of ${FORMATS.join(', ')}, got "${spec.format}"`);
  return { format, batchSize: intOption(spec.batchSize, '--batch-size', 8, 1) };
}

/**
 * Load teacher and data for `spec`, checked (text rows need a tokenizer, ids inside the vocabulary), in cache order.
 * @example `const job = await prepareTeacherJob({ model: 'teacher', data: 'traces.jsonl' }); job.examples.length`
 */
export async function prepareTeacherJob(spec: TeacherJobSpec): Promise<PreparedTeacherJob> {
  const { format, batchSize } = checkSpec(spec);
  await useBackend(spec.backend);
  const { model, params, tokenizer, config } = await loadModel(spec.model);
  const maxLength = intOption(spec.maxLength, '--max-length', config.max_position_embeddings, 2);
  const rows: Row[] = await loadRows(spec.data);
  const inFileOrder: Example[] = rows.map((row, i) => {
    if (row.kind !== 'ids' && !tokenizer) throw new CliError(`${spec.data}: row ${i}: a text row needs a tokenizer, and ${spec.model} has no tokenizer files`);
    const ex = formatExample(row, tokenizer!, { format });
    const bad = ex.inputIds.find((id) => !Number.isInteger(id) || id < 0 || id >= config.vocab_size);
    if (bad !== undefined) throw new CliError(`${spec.data}: row ${i}: token id ${bad} is outside the teacher's vocabulary [0, ${config.vocab_size})`);
    return ex.inputIds.length > maxLength ? { inputIds: ex.inputIds.slice(0, maxLength), lossMask: ex.lossMask.slice(0, maxLength) } : ex;
  });
  if (inFileOrder.length === 0) throw new CliError(`${spec.data}: no rows`);
  // the order `train` uses too (sorted by token ids), so a `train` config's teacherCache can read this cache
  const examples = cacheOrder(inFileOrder).ordered;
  const padId = tokenizer?.padTokenId ?? tokenizer?.eosTokenId ?? 0;
  const fingerprint = await cacheFingerprint({ teacherConfig: config, teacherParams: params, examples, settings: { layer: -1 } });
  return {
    examples,
    fingerprint,
    hiddenSize: config.hidden_size,
    batchSize,
    run: (b) => model.apply(params, b.inputIds, { attentionMask: b.attentionMask }).lastHiddenState,
    collate: (ex) => collate(ex, padId),
  };
}
