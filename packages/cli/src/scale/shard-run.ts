/**
 * Run one shard of a cache-teacher job into a shard folder (shared by `cache-teacher --shard` and `worker`).
 */
import { writeTeacherShard, type CacheFingerprint, type ShardManifest } from '@llm-modules/trainer';
import { CliError } from '../io.js';
import { prepareTeacherJob, type PreparedTeacherJob, type TeacherJobSpec } from './prepare.js';
import { afterBatchFault, stageFault } from './faults.js';

export interface ShardRunResult {
  manifest: ShardManifest;
  /** the shard was already whole on disk (a retry): the teacher did not run */
  reused: boolean;
  seconds: number;
}

// a worker runs many shards of one teacher: keep the last one loaded rather than reading it again per job
let last: { key: string; job: PreparedTeacherJob } | undefined;

/**
 * Compute (or keep, when already whole) shard `shard` of `shards` of `spec` into `out`; with `expected`, first
 * check that this machine's teacher and data fingerprint as the enqueuer's did.
 * @example `const { manifest } = await runShard({ model: 'teacher', data: 'rows.jsonl' }, 'shards', 2, 10)`
 */
export async function runShard(
  spec: TeacherJobSpec,
  out: string,
  shard: number,
  shards: number,
  more: {
    onProgress?: (rows: number, totalRows: number, tokens: number) => void | Promise<void>;
    /** the fingerprint the job was enqueued with */
    expected?: CacheFingerprint;
    /** keep the loaded teacher for the next call with the same spec (a worker) */
    keepLoaded?: boolean;
  } = {},
): Promise<ShardRunResult> {
  const { onProgress, expected, keepLoaded } = more;
  const key = JSON.stringify(spec);
  const job = last?.key === key ? last.job : await prepareTeacherJob(spec);
  last = keepLoaded ? { key, job } : undefined;
  if (expected && JSON.stringify(expected) !== JSON.stringify(job.fingerprint)) {
    const what = expected.teacher !== job.fingerprint.teacher ? `teacher ${spec.model}` : expected.data !== job.fingerprint.data ? `data ${spec.data}` : 'settings';
    throw new CliError(`${what}: differs here from what the job was enqueued with (fingerprint ${JSON.stringify(job.fingerprint)} ≠ ${JSON.stringify(expected)})`);
  }
  const began = performance.now();
  const { manifest, reused } = await writeTeacherShard(out, {
    ...job,
    shard,
    shards,
    onProgress: async (rows, total, tokens) => {
      await onProgress?.(rows, total, tokens);
      await afterBatchFault();
    },
    onStage: stageFault,
  });
  return { manifest, reused, seconds: (performance.now() - began) / 1000 };
}
