/**
 * The scale-out examples run the command they show: the Kubernetes Job's and the Slurm script's cache-teacher
 * arguments, with the scheduler's index in the environment, on the tiny teacher.
 */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../packages/cli/src/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const teacher = fileURLToPath(new URL('../knowledge-transfer/teacher', import.meta.url));
const read = (p: string) => readFileSync(join(here, p), 'utf8');

/** The example's arguments with its /shared paths pointed at the tiny teacher, a few rows and a temp folder. */
function localArgs(args: string[]): { args: string[]; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-scale-out-'));
  const rows = join(dir, 'rows.jsonl');
  writeFileSync(rows, readFileSync(join(here, '../knowledge-transfer/facts.jsonl'), 'utf8').split('\n').slice(0, 6).join('\n') + '\n');
  const out = join(dir, 'shards');
  const swap: Record<string, string> = { '--model': teacher, '--data': rows, '--out': out };
  return { args: args.map((a) => (a.split('=')[0] in swap ? `${a.split('=')[0]}=${swap[a.split('=')[0]]}` : a)), out };
}

async function runWith(env: Record<string, string>, argv: string[]) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let out = '';
  let err = '';
  try {
    const code = await main(argv, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
    return { code, out, err };
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
}

describe('examples/scale-out', () => {
  test('the Kubernetes Indexed Job runs shard JOB_COMPLETION_INDEX of its completions', async () => {
    const job = read('k8s/cache-teacher-job.yaml');
    expect(job).toMatch(/^\s+completionMode: Indexed$/m);
    expect(job).toMatch(/^\s+backoffLimitPerIndex: \d+$/m);
    const completions = Number(/^\s+completions: (\d+)/m.exec(job)![1]);
    const args = [...job.matchAll(/^\s+- (--[a-z-]+(?:=\S+)?)$/gm)].map((m) => m[1]);
    expect(args).toContain(`--shards=${completions}`);
    const local = localArgs(args);
    const r = await runWith({ JOB_COMPLETION_INDEX: String(completions - 1) }, ['cache-teacher', ...local.args]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toMatchObject({ shard: completions - 1, shards: completions });
    const merge = read('k8s/merge-job.yaml');
    expect(merge).toMatch(/"cache-teacher", "merge"/);
  }, 30_000);

  test('the Slurm array script runs shard SLURM_ARRAY_TASK_ID', async () => {
    const script = read('slurm/cache-teacher-array.sh');
    const line = /exec npx -y llm-modules@[\d.]+ (cache-teacher[\s\S]*?)\n(?!\s)/.exec(script + '\n')![1];
    const argv = line.replace(/\\\n/g, ' ').trim().split(/\s+/).map((a) => a.replace(/^"|"$/g, ''));
    const pairs: string[] = [];
    for (let i = 1; i < argv.length; i++) pairs.push(argv[i].startsWith('--') && argv[i + 1] && !argv[i + 1].startsWith('--') ? `${argv[i]}=${argv[++i]}` : argv[i]);
    const local = localArgs(pairs);
    const r = await runWith({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '100' }, ['cache-teacher', ...local.args]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toMatchObject({ shard: 3, shards: 100 });
  }, 30_000);
});
