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
import { openQueueConnection, queueName, type ShardJobData, type ShardProgress } from '../scale/queue.js';

// --exit-when-idle: seconds with nothing waiting or running, after this worker's first job / before it has had one
// (an enqueuer may still be loading the teacher before it adds jobs)
const IDLE_AFTER_WORK = 5;
const IDLE_BEFORE_WORK = 60;

export interface WorkerOptions {
  queue: string;
  /** seconds a job's lock lasts without renewal: the longest a dead worker's job waits before it is retried */
  lockSeconds?: string;
  /** exit once the queue has had no job waiting or running for 5 s (60 s before this worker's first job): batch schedulers then give the machine back */
  exitWhenIdle?: boolean;
}

/**
 * Run a worker until SIGINT/SIGTERM (it finishes its running job first) or, with `exitWhenIdle`, until the queue has
 * had no job waiting or running for 5 s (60 s before this worker's first job).
 * @example-skip connects to a Redis work queue
 * @example `await workerCommand({ queue: 'redis://10.0.0.5:6379', exitWhenIdle: true }, processIO)`
 */
export async function workerCommand(opts: WorkerOptions, io: CliIO): Promise<void> {
  const lockMs = intOption(opts.lockSeconds, '--lock-seconds', 120, 1) * 1000;
  const redis = await openQueueConnection(opts.queue);
  const { Worker, Queue } = await import('bullmq');
  const tag = `worker ${process.pid}`;
  let completed = 0;
  let taken = 0;
  const processor = async (job: Job<ShardJobData>) => {
    const { spec, shardDir, shard, shards, fingerprint } = job.data;
    taken++;
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
  const worker = new Worker<ShardJobData>(queueName(), processor, {
    connection: redis.connection(),
    concurrency: 1,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
    maxStalledCount: 10, // machines come and go: a job may lose several workers before it fails for good
  });
  worker.on('failed', (job, err) => io.stderr(`${tag}: shard ${job?.data.shard}/${job?.data.shards} failed: ${err.message}\n`));
  worker.on('error', (err) => io.stderr(`${tag}: queue error: ${err.message}\n`));
  io.stderr(`${tag}: waiting for jobs on ${opts.queue} (queue ${queueName()}, lock ${lockMs / 1000}s)\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      io.stderr(`${tag}: ${why}; finishing the running job, then stopping (${completed} jobs done)\n`);
      clearInterval(idle);
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      void worker.close().then(() => probe.close()).then(() => redis.close()).then(() => resolve());
    };
    const onSignal = (sig: NodeJS.Signals) => stop(sig);
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    const probe = new Queue(queueName(), { connection: redis.connection() });
    let idleChecks = 0;
    const idle = setInterval(async () => {
      if (!opts.exitWhenIdle || stopping) return;
      const counts = await probe.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children').catch(() => undefined);
      idleChecks = counts && Object.values(counts).every((n) => n === 0) ? idleChecks + 1 : 0;
      const limit = taken > 0 ? IDLE_AFTER_WORK : IDLE_BEFORE_WORK;
      if (idleChecks >= limit) stop(`no job for ${limit}s`);
    }, 1000);
  });
}
