/**
 * `llm-modules cache-teacher --model DIR --data FILE --out DIR`: run a frozen teacher once over a dataset and store
 * its last hidden states (float16 chunks + a fingerprinted msgpack index, the trainer's teacher-state cache).
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRows, type Row } from '@llm-modules/loaders';
import { cacheFingerprint, collate, formatExample, writeTeacherCache, type Example, type PromptFormat } from '@llm-modules/trainer';
import { CliError, thousands, type CliIO } from '../io.js';
import { intOption, loadModel, useBackend } from './model.js';
import { cacheOrder } from '../train/cache-order.js';

export interface CacheTeacherOptions {
  model: string;
  data: string;
  out: string;
  format?: string;
  maxLength?: string;
  batchSize?: string;
  backend?: string;
  json?: boolean;
}

const FORMATS = ['paper', 'chatml'];

/** What a folder holds: 'missing', 'empty', 'cache' (only cache files) or 'other'. */
async function folderState(dir: string): Promise<'missing' | 'empty' | 'cache' | 'other'> {
  const info = await stat(dir).catch(() => null);
  if (!info) return 'missing';
  if (!info.isDirectory()) return 'other';
  const files = await readdir(dir);
  if (files.length === 0) return 'empty';
  return files.every((f) => f === 'index.msgpack' || f.startsWith('chunk-') || f.includes('.tmp')) ? 'cache' : 'other';
}

/**
 * Cache the teacher's states for every row of `--data` (text, `{input_ids}` or conversation rows in `--format`
 * `paper`/`chatml`), cut to `--max-length` (default the teacher's max_position_embeddings). The cache's
 * fingerprint covers the teacher, the token ids (in the shared cache order, sorted by ids, as `train` uses) and the settings (`{ layer: -1 }`, as `train` uses), so
 * `openTeacherCache` refuses it for anything else. An `--out` folder holding other files is refused; on failure
 * nothing is left behind.
 *
 * @example
 * ```ts
 * await cacheTeacherCommand({ model: 'examples/knowledge-transfer/teacher', data: 'traces.jsonl', out: 'cache', json: true }, processIO);
 * // {"out":"cache","examples":6,"tokens":78,"hidden_size":64,"seconds":0.2}
 * ```
 */
export async function cacheTeacherCommand(opts: CacheTeacherOptions, io: CliIO): Promise<void> {
  const format = (opts.format ?? 'paper') as PromptFormat;
  if (!FORMATS.includes(format)) throw new CliError(`--format: expected one of ${FORMATS.join(', ')}, got "${opts.format}"`);
  const batchSize = intOption(opts.batchSize, '--batch-size', 8, 1);
  const state = await folderState(opts.out);
  if (state === 'other') throw new CliError(`${opts.out}: --out exists and holds files that are not a teacher cache; pick a new or empty folder`);
  await useBackend(opts.backend);
  const { model, params, tokenizer, config } = await loadModel(opts.model);
  const maxLength = intOption(opts.maxLength, '--max-length', config.max_position_embeddings, 2);
  const rows: Row[] = await loadRows(opts.data);
  const inFileOrder: Example[] = rows.map((row, i) => {
    if (row.kind !== 'ids' && !tokenizer) throw new CliError(`${opts.data}: row ${i}: a text row needs a tokenizer, and ${opts.model} has no tokenizer files`);
    const ex = formatExample(row, tokenizer!, { format });
    const bad = ex.inputIds.find((id) => !Number.isInteger(id) || id < 0 || id >= config.vocab_size);
    if (bad !== undefined) throw new CliError(`${opts.data}: row ${i}: token id ${bad} is outside the teacher's vocabulary [0, ${config.vocab_size})`);
    return ex.inputIds.length > maxLength ? { inputIds: ex.inputIds.slice(0, maxLength), lossMask: ex.lossMask.slice(0, maxLength) } : ex;
  });
  if (inFileOrder.length === 0) throw new CliError(`${opts.data}: no rows`);
  // the order `train` uses too (sorted by token ids), so a `train` config's teacherCache can read this cache
  const examples = cacheOrder(inFileOrder).ordered;
  const began = performance.now();
  const padId = tokenizer?.padTokenId ?? tokenizer?.eosTokenId ?? 0;
  const fingerprint = await cacheFingerprint({ teacherConfig: config, teacherParams: params, examples, settings: { layer: -1 } });
  let tokens = 0;
  try {
    await writeTeacherCache(opts.out, {
      examples,
      fingerprint,
      hiddenSize: config.hidden_size,
      run: (b) => model.apply(params, b.inputIds, { attentionMask: b.attentionMask }).lastHiddenState,
      collate: (ex) => collate(ex, padId),
      batchSize,
      onProgress: (done, total, t) => {
        tokens = t;
        if (!opts.json) io.stderr(`\rcached ${done}/${total} rows (${thousands(t)} tokens)`);
      },
    });
  } catch (err) {
    // no half-written cache: a folder we made goes, a previous cache's files are gone already (rewritten)
    await rm(opts.out, { recursive: true, force: true });
    throw err;
  }
  const seconds = (performance.now() - began) / 1000;
  if (!opts.json) io.stderr('\n');
  const report = { out: opts.out, examples: examples.length, tokens, hidden_size: config.hidden_size, seconds: Number(seconds.toFixed(2)) };
  if (opts.json) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(`teacher states of ${thousands(examples.length)} rows (${thousands(tokens)} tokens, width ${config.hidden_size}) → ${join(opts.out, 'index.msgpack')} in ${seconds.toFixed(1)}s\n`);
}
