/**
 * `llm-modules worker --queue URL`: take cache-teacher shard jobs from the queue, one at a time, and write each
 * shard into the job's shard folder (a shared path). Progress goes to the job (the enqueuer shows it) and to
 * stderr. A worker that dies loses its job's lock; after `--lock-seconds` another worker takes the job over. A
 * shard already whole on disk (its worker died after writing it) is kept, not computed again.
 */
import type { Job } from 'bullmq';
import { thousands, type CliIO } from '../io.js';
import { intOption } from './model.js';
import { runShard } from '../scale/shard-run.js';
import { stageFault } from '../scale/faults.js';
import { openQueueConnection, QUEUE_NAME, type ShardJobData, type ShardProgress } from '../scale/queue.js';

export interface WorkerOptions {
  queue: string;
  /** seconds a job's lock lasts without renewal: the longest a dead worker's job waits before it is retried */
  lockSeconds?: string;
  /** exit once the queue has no job waiting or running (batch schedulers: the machine is then given back) */
  exitWhenIdle?: boolean;
}

/**
 * Run a worker until SIGINT/SIGTERM (it finishes its running job first) or, with `exitWhenIdle`, until the queue is
 * empty.
 * @example `await workerCommand({ queue: 'redis://10.0.0.5:6379', exitWhenIdle: true }, processIO)`
 */
export async function workerCommand(opts: WorkerOptions, io: CliIO): Promise<void> {
  const lockMs = intOption(opts.lockSeconds, '--lock-seconds', 120, 1) * 1000;
  const connect = await openQueueConnection(opts.queue);
  const { Worker, Queue } = await import('bullmq');
  const tag = `worker ${process.pid}`;
  let completed = 0;
  const processor = async (job: Job<ShardJobData>) => {
    const { spec, shardDir, shard, shards, fingerprint } = job.data;
    io.stderr(`${tag}: shard ${shard}/${shards} started (attempt ${job.attemptsMade + 1})\n`);
    let lastReport = 0;
    const onProgress = async (rows: number, totalRows: number, tokens: number) => {
      io.stderr(`${tag}: shard ${shard}/${shards}: ${rows}/${totalRows} rows\n`);
      if (performance.now() - lastReport > 500 || rows === totalRows) {
        lastReport = performance.now();
        await job.updateProgress({ rows, totalRows, tokens } satisfies ShardProgress);
      }
    };
    const r = await runShard(spec, shardDir, shard, shards, { onProgress, expected: fingerprint, keepLoaded: true });
    const rate = r.reused || r.seconds === 0 ? '' : `, ${(r.manifest.tokens / r.seconds).toFixed(1)} tokens/s`;
    io.stderr(`${tag}: shard ${shard}/${shards} ${r.reused ? 'kept (already whole on disk)' : `done: ${r.manifest.rows[1] - r.manifest.rows[0]} rows, ${thousands(r.manifest.tokens)} tokens in ${r.seconds.toFixed(1)}s${rate}`}\n`);
    completed++;
    stageFault('job-done'); // dies before the queue hears of it: the job is retried and finds the shard whole
    return { reused: r.reused, tokens: r.manifest.tokens };
  };
  const worker = new Worker<ShardJobData>(QUEUE_NAME, processor, {
    connection: connect(),
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
    maxStalledCount: 10, // machines come and go: a job may lose several workers before it fails for good
  });
  worker.on('failed', (job, err) => io.stderr(`${tag}: shard ${job?.data.shard}/${job?.data.shards} failed: ${err.message}\n`));
  worker.on('error', (err) => io.stderr(`${tag}: queue error: ${err.message}\n`));
  io.stderr(`${tag}: waiting for jobs on ${opts.queue} (queue ${QUEUE_NAME}, lock ${lockMs / 1000}s)\n`);
  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      io.stderr(`${tag}: ${why}; finishing the running job, then stopping (${completed} jobs done)\n`);
      clearInterval(idle);
      void worker.close().then(() => resolve());
    };
    process.once('SIGINT', () => stop('SIGINT')).once('SIGTERM', () => stop('SIGTERM'));
    const probe = new Queue(QUEUE_NAME, { connection: connect() });
    const idle = setInterval(async () => {
      if (!opts.exitWhenIdle || worker.isRunning() === false) return;
      const counts = await probe.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children').catch(() => undefined);
      if (counts && Object.values(counts).every((n) => n === 0)) {
        await probe.close();
        stop('the queue is empty');
      }
    }, 1000);
  });
}
