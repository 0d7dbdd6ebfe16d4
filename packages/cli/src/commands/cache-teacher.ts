/**
 * `llm-modules cache-teacher --model DIR --data FILE --out DIR`: run a frozen teacher once over a dataset and store
 * its last hidden states (float16 chunks + a fingerprinted msgpack index, the trainer's teacher-state cache) — in
 * one process, as shard I of N (`--shard I/N`, or a scheduler's index), or as jobs on a queue (`--queue URL
 * --enqueue`); `cache-teacher merge` turns finished shards into the cache.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTeacherCache } from '@llm-modules/trainer';
import { CliError, thousands, type CliIO } from '../io.js';
import { checkSpec, prepareTeacherJob } from '../scale/prepare.js';
import { shardSpec } from '../scale/shard-spec.js';
import { runShard } from '../scale/shard-run.js';
import { enqueueCommand } from '../scale/enqueue.js';
import { folderState, mergeShardsInto } from '../scale/merge.js';

export interface CacheTeacherOptions {
  model: string;
  data: string;
  out: string;
  format?: string;
  maxLength?: string;
  batchSize?: string;
  backend?: string;
  json?: boolean;
  /** `I/N`: compute shard I (0-based) of N into `out` (a shard folder) */
  shard?: string;
  /** N, with the index from JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID, or the job count for --enqueue */
  shards?: string;
  /** a BullMQ (Redis) URL: with `enqueue`, put one job per shard on it, follow them and merge */
  queue?: string;
  enqueue?: boolean;
  /** with --enqueue: where the shards go (a path all workers see alike; default `<out>.shards`) */
  shardDir?: string;
}

/**
 * Cache the teacher's states for every row of `--data` (text, `{input_ids}` or conversation rows in `--format`
 * `paper`/`chatml`), cut to `--max-length` (default the teacher's max_position_embeddings). The cache's
 * fingerprint covers the teacher, the token ids (in the shared cache order, sorted by ids, as `train` uses) and the settings (`{ layer: -1 }`, as `train` uses), so
 * `openTeacherCache` refuses it for anything else. An `--out` folder holding other files is refused; on failure
 * nothing is left behind.
 *
 * @example-skip needs a dataset file (traces.jsonl) and writes a cache folder
 * @example
 * ```ts
 * await cacheTeacherCommand({ model: 'examples/knowledge-transfer/teacher', data: 'traces.jsonl', out: 'cache', json: true }, processIO);
 * // {"out":"cache","examples":6,"tokens":78,"hidden_size":64,"seconds":0.2}
 * ```
 */
export async function cacheTeacherCommand(opts: CacheTeacherOptions, io: CliIO): Promise<void> {
  checkSpec(opts);
  if (opts.queue !== undefined || opts.enqueue) {
    if (!opts.queue || !opts.enqueue) throw new CliError('--queue URL and --enqueue go together here (workers run: llm-modules worker --queue URL)');
    if (opts.shard !== undefined) throw new CliError('--shard I/N runs one shard; --enqueue puts all of them on the queue: pick one');
    return enqueueCommand(opts as CacheTeacherOptions & { queue: string }, io);
  }
  const spec = shardSpec(opts, process.env);
  if (spec) return shardCommand(opts, spec.shard, spec.shards, io);
  const state = await folderState(opts.out);
  if (state === 'other') throw new CliError(`${opts.out}: --out exists and holds files that are not a teacher cache; pick a new or empty folder`);
  const job = await prepareTeacherJob(opts);
  const began = performance.now();
  let tokens = 0;
  try {
    await writeTeacherCache(opts.out, {
      ...job,
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
  const report = { out: opts.out, examples: job.examples.length, tokens, hidden_size: job.hiddenSize, seconds: Number(seconds.toFixed(2)) };
  if (opts.json) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(`teacher states of ${thousands(job.examples.length)} rows (${thousands(tokens)} tokens, width ${job.hiddenSize}) → ${join(opts.out, 'index.msgpack')} in ${seconds.toFixed(1)}s\n`);
}

/** One shard into the shard folder `opts.out`; a shard already whole there is kept (a retried index is a no-op). */
async function shardCommand(opts: CacheTeacherOptions, shard: number, shards: number, io: CliIO): Promise<void> {
  const onProgress = (rows: number, total: number, tokens: number) => {
    if (!opts.json) io.stderr(`\rshard ${shard}/${shards}: ${rows}/${total} rows (${thousands(tokens)} tokens)`);
  };
  const { manifest, reused, seconds } = await runShard(opts, opts.out, shard, shards, { onProgress });
  if (!opts.json && !reused) io.stderr('\n');
  const report = { out: opts.out, shard, shards, rows: manifest.rows, tokens: manifest.tokens, bytes: manifest.bytes, reused, seconds: Number(seconds.toFixed(2)), tokens_per_second: reused || seconds === 0 ? null : Number((manifest.tokens / seconds).toFixed(1)) };
  if (opts.json) io.stdout(`${JSON.stringify(report)}\n`);
  else io.stdout(`shard ${shard}/${shards}: rows ${manifest.rows[0]}–${manifest.rows[1]} (${thousands(manifest.tokens)} tokens) ${reused ? 'already done, kept' : `in ${seconds.toFixed(1)}s`} → ${join(opts.out, manifest.file)}\n`);
}

/**
 * `cache-teacher merge --from SHARDS --out CACHE`: check every shard and write the cache `train` reads.
 * @example-skip reads shard folders and writes a cache folder
 * @example `await cacheTeacherMergeCommand({ from: 'shards', out: 'cache', json: true }, processIO) // {"out":"cache","rows":…}`
 */
export async function cacheTeacherMergeCommand(opts: { from: string; out: string; json?: boolean }, io: CliIO): Promise<void> {
  const r = await mergeShardsInto(opts.from, opts.out);
  if (opts.json) io.stdout(`${JSON.stringify({ out: opts.out, rows: r.rows, tokens: r.tokens, shards: r.shards, hidden_size: r.hiddenSize })}\n`);
  else io.stdout(`merged ${r.shards} shards: ${thousands(r.rows)} rows (${thousands(r.tokens)} tokens, width ${r.hiddenSize}) → ${join(opts.out, 'index.msgpack')}\n`);
}
