/**
 * The work queue that shards travel on: BullMQ over Redis. One queue name, one job per shard; a job carries
 * everything a worker needs (absolute paths on the shared file system, the settings, the expected fingerprint).
 * bullmq and ioredis are imported only when a queue is used, so other commands start as fast as before.
 */
import type { CacheFingerprint } from '@llm-modules/trainer';
import { CliError } from '../io.js';
import type { TeacherJobSpec } from './prepare.js';

/** The BullMQ queue's name: `LLM_MODULES_QUEUE`, else `llm-modules-cache-teacher` (two runs can share one Redis). */
export const queueName = (): string => process.env.LLM_MODULES_QUEUE || 'llm-modules-cache-teacher';

/** A shard job's data. */
export interface ShardJobData {
  spec: TeacherJobSpec;
  shardDir: string;
  shard: number;
  shards: number;
  fingerprint: CacheFingerprint;
}

/** Progress a worker reports on a job (`job.updateProgress`). */
export interface ShardProgress {
  rows: number;
  totalRows: number;
  tokens: number;
}

/**
 * Check that `url` is a Redis URL that answers within `timeoutMs`; otherwise one CliError line (ioredis alone would
 * retry forever). Resolves to a factory of BullMQ connections for it, and `close` for all it made.
 * @example `const redis = await openQueueConnection('redis://127.0.0.1:6379'); new Queue(queueName(), { connection: redis.connection() })`
 */
export async function openQueueConnection(url: string, timeoutMs = 3000) {
  if (!/^rediss?:\/\//.test(url)) throw new CliError(`--queue: expected a Redis URL (redis://host:port), got "${url}"`);
  const { Redis } = await import('ioredis');
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  probe.on('error', () => {}); // reported below, once
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise((_, reject) => setTimeout(() => reject(Object.assign(new Error('timed out'), { code: `no answer in ${timeoutMs / 1000}s` })), timeoutMs).unref()),
    ]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`${url}: the queue does not answer (${e.code ?? e.message}); start Redis there or fix --queue`);
  } finally {
    probe.disconnect();
  }
  // BullMQ's workers block on Redis and must never give up a command (maxRetriesPerRequest: null). BullMQ does
  // not close connections it is handed, so `close` does, or they would keep the process alive.
  const open: InstanceType<typeof Redis>[] = [];
  return {
    connection() {
      const conn = new Redis(url, { maxRetriesPerRequest: null });
      conn.on('error', () => {}); // ioredis reconnects by itself; BullMQ surfaces lasting failures
      open.push(conn);
      return conn;
    },
    close: async () => void (await Promise.all(open.splice(0).map((c) => c.quit().catch(() => c.disconnect())))),
  };
}

/** The job id of shard `shard` of a run: the same run enqueued twice gives the same ids, so nothing is added twice. */
export const shardJobId = (runKey: string, shard: number, shards: number): string => `${runKey}-${shard}-of-${shards}`;
