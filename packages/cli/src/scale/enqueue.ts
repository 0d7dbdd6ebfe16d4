/**
 * `cache-teacher --queue URL --enqueue --shards N --out CACHE`: put one BullMQ job per unfinished shard on the
 * queue, follow the workers' progress (rows, tokens, ETA) and, when every shard is done, merge them into `--out`.
 * Run it again after any failure: whole shards on disk are kept, failed jobs are retried, nothing is added twice.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { shardIsWhole, shardRows } from '@llm-modules/trainer';
import { CliError, thousands, type CliIO } from '../io.js';
import { intOption } from '../commands/model.js';
import { prepareTeacherJob } from './prepare.js';
import { mergeShardsInto } from './merge.js';
import { openQueueConnection, queueName, shardJobId, type ShardJobData, type ShardProgress } from './queue.js';

export interface EnqueueOptions {
  model: string;
  data: string;
  out: string;
  queue: string;
  shards?: string;
  /** where the shards go (a path every worker sees the same way); default `<out>.shards` */
  shardDir?: string;
  format?: string;
  maxLength?: string;
  batchSize?: string;
  backend?: string;
  json?: boolean;
  /** milliseconds between progress polls (default 1000) */
  pollMs?: number;
}

const clock = (s: number): string => (Number.isFinite(s) ? `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}` : '?');

/**
 * Enqueue, follow and merge (see the file's header).
 * @example `await enqueueCommand({ model: '/shared/teacher', data: '/shared/rows.jsonl', out: '/shared/cache', queue: 'redis://10.0.0.5:6379', shards: '100' }, processIO)`
 */
export async function enqueueCommand(opts: EnqueueOptions, io: CliIO): Promise<void> {
  if (opts.shards === undefined) throw new CliError('--enqueue needs --shards N (how many jobs to split the rows into)');
  const shards = intOption(opts.shards, '--shards', 1, 1);
  const redis = await openQueueConnection(opts.queue);
  const spec = { model: resolve(opts.model), data: resolve(opts.data), format: opts.format, maxLength: opts.maxLength, batchSize: opts.batchSize, backend: opts.backend };
  const shardDir = resolve(opts.shardDir ?? `${opts.out}.shards`);
  const job = await prepareTeacherJob(spec);
  const totalRows = job.examples.length;
  const runKey = createHash('sha256').update(JSON.stringify([job.fingerprint, shards, job.batchSize, shardDir])).digest('hex').slice(0, 16);
  const { Queue } = await import('bullmq');
  const queue = new Queue<ShardJobData>(queueName(), { connection: redis.connection() });
  // attempts: a job that throws (a bad file on a worker) is retried twice before the run stops on it
  const addJob = (i: number) => queue.add('shard', { spec, shardDir, shard: i, shards, fingerprint: job.fingerprint }, { jobId: shardJobId(runKey, i, shards), attempts: 3, removeOnComplete: false, removeOnFail: false });
  const began = performance.now();
  try {
    let added = 0;
    const kept = new Set<number>();
    for (let i = 0; i < shards; i++) {
      if (await shardIsWhole(shardDir, i, shards, job.fingerprint)) {
        kept.add(i);
        continue;
      }
      const id = shardJobId(runKey, i, shards);
      const old = await queue.getJob(id);
      const state = old ? await old.getState() : 'missing';
      if (state === 'failed') await old!.retry();
      else if (state === 'completed' || state === 'unknown') await old!.remove(); // done earlier but its files are gone: redo
      if (state === 'missing' || state === 'completed' || state === 'unknown') {
        await addJob(i);
        added++;
      }
    }
    if (!opts.json) io.stderr(`${shards} shards of ${thousands(totalRows)} rows: ${kept.size} already done, ${added} enqueued on ${opts.queue} (queue ${queueName()}); shards → ${shardDir}\n`);
    // follow: rows of finished shards plus rows the workers report on running ones
    const rowsOf = (i: number) => (([a, b]) => b - a)(shardRows(shards, i, totalRows, job.batchSize));
    const rowsBefore = [...kept].reduce((sum, i) => sum + rowsOf(i), 0);
    for (;;) {
      let done = 0;
      let rows = 0;
      let tokens = 0;
      for (let i = 0; i < shards; i++) {
        if (kept.has(i)) {
          done++;
          rows += rowsOf(i);
          continue;
        }
        const j = await queue.getJob(shardJobId(runKey, i, shards));
        const state = j ? await j.getState() : 'missing';
        if (state === 'missing' || state === 'unknown') {
          // removed behind our back (someone cleaned the queue): put it back rather than wait forever
          await j?.remove().catch(() => {});
          await addJob(i);
          continue;
        }
        if (state === 'failed') throw new CliError(`shard ${i}/${shards} failed on the workers (${j!.attemptsMade} attempts): ${j!.failedReason}; fix that and run the same command again (whole shards are kept)`);
        if (state === 'completed') {
          done++;
          rows += rowsOf(i);
        } else if (state === 'active' && j!.progress && typeof j!.progress === 'object') {
          const p = j!.progress as unknown as ShardProgress;
          rows += p.rows;
          tokens += p.tokens;
        }
      }
      const secs = (performance.now() - began) / 1000;
      const rate = (rows - rowsBefore) / secs;
      const eta = rate > 0 ? (totalRows - rows) / rate : Infinity;
      const workers = (await queue.getWorkersCount().catch(() => 0)) as number;
      if (!opts.json) io.stderr(`\r${done}/${shards} shards, ${thousands(rows)}/${thousands(totalRows)} rows (${workers} workers${tokens ? `, ${thousands(tokens)} tokens in running shards` : ''}), ${clock(secs)} elapsed, ETA ${done === shards ? '0:00:00' : clock(eta)}   `);
      if (done === shards) break;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
    }
    if (!opts.json) io.stderr('\n');
  } finally {
    await queue.close();
    await redis.close();
  }
  const r = await mergeShardsInto(shardDir, opts.out, job.fingerprint, shards);
  const seconds = (performance.now() - began) / 1000;
  if (opts.json) io.stdout(`${JSON.stringify({ out: opts.out, shard_dir: shardDir, shards, examples: r.rows, tokens: r.tokens, hidden_size: r.hiddenSize, seconds: Number(seconds.toFixed(2)) })}\n`);
  else io.stdout(`merged ${shards} shards: ${thousands(r.rows)} rows (${thousands(r.tokens)} tokens, width ${r.hiddenSize}) → ${join(opts.out, 'index.msgpack')} in ${seconds.toFixed(1)}s\n`);
}
