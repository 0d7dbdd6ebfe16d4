/**
 * Which shard this process is: `--shard I/N` (0-based I), else the index a scheduler gives each copy of a job —
 * Kubernetes Indexed Jobs set `JOB_COMPLETION_INDEX`, Slurm job arrays `SLURM_ARRAY_TASK_ID` — with N from
 * `--shards N` or `SLURM_ARRAY_TASK_COUNT`. Indices are 0-based: a Slurm array for N shards is `--array=0-(N-1)`.
 */
import { CliError } from '../io.js';

export interface ShardSpec {
  shard: number;
  shards: number;
  /** where I came from, for messages */
  source: string;
}

const int = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined);

/**
 * The shard of this process, or undefined when neither a flag nor a scheduler says (one process does everything).
 * @example `shardSpec({ shard: '2/10' }, process.env) // { shard: 2, shards: 10, source: '--shard' }`
 * @example `shardSpec({ shards: '10' }, { JOB_COMPLETION_INDEX: '7' }) // { shard: 7, shards: 10, source: 'JOB_COMPLETION_INDEX' }`
 */
export function shardSpec(opts: { shard?: string; shards?: string }, env: Record<string, string | undefined>): ShardSpec | undefined {
  const count = (fallback?: string): number | undefined => {
    const raw = opts.shards ?? fallback;
    if (raw === undefined) return undefined;
    const n = int(raw);
    if (n === undefined || n < 1) throw new CliError(`--shards: expected a whole number ≥ 1, got "${raw}"`);
    return n;
  };
  const check = (shard: number, shards: number | undefined, source: string): ShardSpec => {
    if (shards === undefined) throw new CliError(`${source} gives shard ${shard}, but not how many shards there are: pass --shards N`);
    if (shard >= shards) throw new CliError(`${source}: shard ${shard} is not below the shard count ${shards} (indices are 0-based)`);
    return { shard, shards, source };
  };
  if (opts.shard !== undefined) {
    const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(opts.shard);
    if (!m || Number(m[2]) < 1) throw new CliError(`--shard: expected I/N with 0 ≤ I < N (e.g. 2/10), got "${opts.shard}"`);
    if (opts.shards !== undefined && count() !== Number(m[2])) throw new CliError(`--shard ${opts.shard} and --shards ${opts.shards} disagree`);
    return check(Number(m[1]), Number(m[2]), '--shard');
  }
  const k8s = env.JOB_COMPLETION_INDEX;
  if (k8s !== undefined && k8s !== '') {
    const i = int(k8s);
    if (i === undefined) throw new CliError(`JOB_COMPLETION_INDEX: expected a whole number, got "${k8s}"`);
    return check(i, count(), 'JOB_COMPLETION_INDEX');
  }
  const slurm = env.SLURM_ARRAY_TASK_ID;
  if (slurm !== undefined && slurm !== '') {
    const id = int(slurm);
    if (id === undefined) throw new CliError(`SLURM_ARRAY_TASK_ID: expected a whole number, got "${slurm}"`);
    // the task id is the shard as is (--array=0-99 for 100 shards): a rerun of some tasks (--array=7,42) keeps its ids,
    // where counting from SLURM_ARRAY_TASK_MIN would not. SLURM_ARRAY_TASK_COUNT is the count of that submission:
    // pass --shards for reruns.
    return check(id, count(env.SLURM_ARRAY_TASK_COUNT), 'SLURM_ARRAY_TASK_ID');
  }
  if (opts.shards !== undefined) throw new CliError('--shards N needs --shard I/N, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID to say which shard this is');
  return undefined;
}
