/**
 * The command-line surface of teacher caching at scale: `cache-teacher` (one process, one shard, or a queue),
 * `cache-teacher merge` and `worker`.
 */
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { cacheTeacherCommand, cacheTeacherMergeCommand } from '../commands/cache-teacher.js';
import { workerCommand } from '../commands/worker.js';

/**
 * Add `cache-teacher` (+ `merge`) and `worker` to the program.
 * @example `registerCacheTeacherCommands(new Command('llm-modules'), processIO)`
 */
export function registerCacheTeacherCommands(cli: Command, io: CliIO): void {
  const cache = cli
    .command('cache-teacher')
    .description('run a frozen teacher once over a dataset and store its last hidden states (float16, fingerprinted) for training; in one process, as shard I of N, or as jobs on a queue')
    .option('--model <dir>', 'the teacher: a Hugging Face model folder (required)')
    .option('--data <file>', 'dataset file: .json, .jsonl or .parquet ({text}, {input_ids} or conversation rows) (required)')
    .option('--out <dir>', 'cache folder (new, empty, or an earlier cache, which is replaced); with --shard: the shard folder (required)')
    .option('--format <name>', 'prompt format of conversation rows: paper or chatml (default paper)')
    .option('--max-length <n>', 'cut longer rows to n tokens (default: max_position_embeddings)')
    .option('--batch-size <n>', 'rows per teacher forward pass (default 8; all shards of a run must use the same)')
    .option('--backend <name>', 'tensor backend (default: LLM_MODULES_BACKEND, else the fastest that works)')
    .option('--shard <i/n>', 'compute only shard i (0-based) of n into --out (default: JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID with --shards)')
    .option('--shards <n>', 'the shard count, for a scheduler-given index or for --enqueue (Slurm: default SLURM_ARRAY_TASK_COUNT)')
    .option('--queue <url>', 'a Redis URL (redis://host:port): with --enqueue, one BullMQ job per shard for `llm-modules worker`s')
    .option('--enqueue', 'enqueue the shards, show progress with an ETA, and merge them into --out when all are done')
    .option('--shard-dir <dir>', 'with --enqueue: where workers write shards, a path all of them see alike (default <out>.shards)')
    .option('--json', 'print one JSON object on the last line')
    .action((opts) => {
      for (const name of ['model', 'data', 'out'] as const) {
        if (!opts[name]) return cache.error(`error: required option '--${name} <${name === 'data' ? 'file' : 'dir'}>' not specified`);
      }
      return cacheTeacherCommand(opts, io);
    });
  cache
    .command('merge')
    .description('check every shard in a folder (missing, duplicated, another teacher or data, truncated) and write the cache train reads')
    .requiredOption('--from <dir>', 'the shard folder (shard-*-of-*.json + .f16)')
    .option('--out <dir>', 'cache folder (new, empty, or an earlier cache, which is replaced once the new one is whole) (required)')
    .option('--json', 'print {"out","rows","tokens","shards","hidden_size"}')
    .action((opts: { from: string; out?: string; json?: boolean }, merge: Command) => {
      // commander hands --out and --json to cache-teacher, which has them too (options are not positional here)
      const all = { ...merge.parent!.opts(), ...opts } as { from: string; out?: string; json?: boolean };
      if (!all.out) return merge.error("error: required option '--out <dir>' not specified");
      return cacheTeacherMergeCommand({ ...all, out: all.out }, io);
    });
  cli
    .command('worker')
    .description('take cache-teacher shard jobs from a BullMQ queue and write the shards (run any number, anywhere)')
    .requiredOption('--queue <url>', 'the Redis URL the jobs were enqueued on (redis://host:port)')
    .option('--lock-seconds <s>', "a job's lock; a dead worker's job is retried after it (default 120; must exceed one teacher batch)")
    .option('--exit-when-idle', 'exit once no job has been waiting or running for 5 s (60 s before the first job)')
    .action((opts: { queue: string; lockSeconds?: string; exitWhenIdle?: boolean }) => workerCommand(opts, io));
}
