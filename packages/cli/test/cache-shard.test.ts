import { describe, expect, test } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { defaultDemoDir } from '../src/commands/demo.js';
import { shardSpec } from '../src/scale/shard-spec.js';
import { runShard } from '../src/scale/shard-run.js';
import { lastJson, run } from './run.js';

const teacherDir = join(defaultDemoDir(), 'teacher');
const facts = join(defaultDemoDir(), 'facts.jsonl');
const files = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

function workspace(rows = 14): { dir: string; data: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-cache-shard-'));
  const data = join(dir, 'rows.jsonl');
  writeFileSync(data, readFileSync(facts, 'utf8').split('\n').slice(0, rows).join('\n') + '\n');
  return { dir, data };
}

describe('shard index: flag or scheduler', () => {
  test('--shard I/N, JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID', () => {
    expect(shardSpec({ shard: '2/10' }, {})).toEqual({ shard: 2, shards: 10, source: '--shard' });
    expect(shardSpec({ shards: '4' }, { JOB_COMPLETION_INDEX: '3' })).toEqual({ shard: 3, shards: 4, source: 'JOB_COMPLETION_INDEX' });
    expect(shardSpec({}, { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_COUNT: '8' })).toEqual({ shard: 5, shards: 8, source: 'SLURM_ARRAY_TASK_ID' });
    // a rerun of some tasks (--array=5,7: count 2) names the real shard count with --shards
    expect(shardSpec({ shards: '8' }, { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5', SLURM_ARRAY_TASK_COUNT: '2' })).toEqual({ shard: 7, shards: 8, source: 'SLURM_ARRAY_TASK_ID' });
    expect(shardSpec({ shard: '1/3' }, { JOB_COMPLETION_INDEX: '0' })?.shard).toBe(1); // the flag wins
    expect(shardSpec({}, {})).toBeUndefined();
  });

  test.each([
    [{ shard: '3/3' }, {}, /shard 3 is not below the shard count 3/],
    [{ shard: 'two' }, {}, /--shard: expected I\/N/],
    [{}, { JOB_COMPLETION_INDEX: '1' }, /pass --shards N/],
    [{ shards: '2' }, {}, /--shards N needs --shard/],
    [{ shard: '1/3', shards: '4' }, {}, /disagree/],
    [{}, { SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '8' }, /SLURM_ARRAY_TASK_ID: shard 8 is not below the shard count 8 \(indices are 0-based\)/],
  ])('%o %o is refused', (opts, env, msg) => {
    expect(() => shardSpec(opts, env)).toThrow(msg);
  });
});

describe('cache-teacher --shard and merge', () => {
  test('3 shards (flag and JOB_COMPLETION_INDEX) merge byte-identical to the single-process cache; a retry is kept', async () => {
    const { dir, data } = workspace();
    const common = ['--model', teacherDir, '--data', data, '--batch-size', '3'];
    const single = await run('cache-teacher', ...common, '--out', join(dir, 'single'), '--json');
    expect(single.code, single.err).toBe(0);
    const shards = join(dir, 'shards');
    const reports = [];
    for (const i of [2, 0]) {
      const r = await run('cache-teacher', ...common, '--out', shards, '--shard', `${i}/3`, '--json');
      expect(r.code, r.err).toBe(0);
      reports.push(lastJson(r.out));
    }
    process.env.JOB_COMPLETION_INDEX = '1';
    try {
      const r = await run('cache-teacher', ...common, '--out', shards, '--shards', '3', '--json');
      expect(r.code, r.err).toBe(0);
      reports.push(lastJson(r.out));
    } finally {
      delete process.env.JOB_COMPLETION_INDEX;
    }
    expect(reports.map((r) => r.reused)).toEqual([false, false, false]);
    expect(reports.reduce((s, r) => s + r.tokens, 0)).toBe(lastJson(single.out).tokens);
    const manifest = JSON.parse(readFileSync(join(shards, 'shard-00001-of-00003.json'), 'utf8'));
    expect(Object.keys(manifest)).toEqual(expect.arrayContaining(['rows', 'tokens', 'fingerprint', 'layers', 'sha256', 'hiddenSize']));
    expect(Object.keys(manifest.fingerprint)).toEqual(['teacher', 'data', 'settings']);
    const again = await run('cache-teacher', ...common, '--out', shards, '--shard', '1/3', '--json');
    expect(lastJson(again.out)).toMatchObject({ shard: 1, reused: true });
    const merged = await run('cache-teacher', 'merge', '--from', shards, '--out', join(dir, 'merged'), '--json');
    expect(merged.code, merged.err).toBe(0);
    expect(lastJson(merged.out)).toMatchObject({ rows: 14, shards: 3, tokens: lastJson(single.out).tokens });
    expect(files(join(dir, 'merged'))).toEqual(files(join(dir, 'single')));
  }, 60_000);

  test('merge refuses a shard from another teacher, a truncated shard, a missing one: one line, exit 1, nothing written', async () => {
    const { dir, data } = workspace(8);
    const shards = join(dir, 'shards');
    const shard = (i: number, model = teacherDir) => run('cache-teacher', '--model', model, '--data', data, '--batch-size', '2', '--out', shards, '--shard', `${i}/3`);
    for (const i of [0, 1]) expect((await shard(i)).code).toBe(0);
    const merge = async (msg: RegExp) => {
      const r = await run('cache-teacher', 'merge', '--from', shards, '--out', join(dir, 'cache'));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^llm-modules: [^\n]*\n$/);
      expect(r.err).toMatch(msg);
      expect(existsSync(join(dir, 'cache'))).toBe(false);
    };
    await merge(/shard-00002-of-00003\.json: shard 2\/3 is missing/);
    // another teacher: the same weights under a changed config fingerprint differently
    const other = join(dir, 'other-teacher');
    cpSync(teacherDir, other, { recursive: true });
    const config = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'));
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...config, rms_norm_eps: 2e-6 }));
    expect((await shard(2, other)).code).toBe(0);
    await merge(/shard-00002-of-00003\.json: made from another teacher/);
    expect((await shard(2)).code).toBe(0); // the right teacher: the shard is computed again and replaced
    truncateSync(join(shards, 'shard-00001-of-00003.f16'), 64);
    await merge(/shard-00001-of-00003\.f16: truncated/);
    expect((await shard(1)).code).toBe(0); // resumable: the retried shard sees its file is not whole and recomputes
    const ok = await run('cache-teacher', 'merge', '--from', shards, '--out', join(dir, 'cache'));
    expect(ok.code, ok.err).toBe(0);
    rmSync(join(dir, 'cache'), { recursive: true });
    writeFileSync(join(dir, 'busy'), 'x');
    const busy = await run('cache-teacher', 'merge', '--from', shards, '--out', join(dir, 'busy'));
    expect(busy.err).toMatch(/busy: --out exists and holds files that are not a teacher cache/);
  }, 60_000);

  test('a queued shard whose teacher here differs from the enqueuer\'s is refused before the teacher runs', async () => {
    const { dir, data } = workspace(4);
    const other = join(dir, 'other-teacher');
    cpSync(teacherDir, other, { recursive: true });
    const config = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8'));
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...config, rms_norm_eps: 2e-6 }));
    const shards = join(dir, 'shards');
    // the fingerprint the enqueuer recorded: that of the real teacher
    const first = await runShard({ model: teacherDir, data }, shards, 0, 2);
    const err = await runShard({ model: other, data }, shards, 1, 2, { expected: first.manifest.fingerprint }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(new RegExp(`^teacher ${other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: differs here from what the job was enqueued with`));
    expect(existsSync(join(shards, 'shard-00001-of-00002.json'))).toBe(false);
  }, 30_000);

  test('--queue with a URL that does not answer: one line, quickly, exit 1', async () => {
    const { dir, data } = workspace(2);
    const began = Date.now();
    const r = await run('cache-teacher', '--model', teacherDir, '--data', data, '--out', join(dir, 'c'), '--queue', 'redis://127.0.0.1:9', '--enqueue', '--shards', '2');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^llm-modules: redis:\/\/127\.0\.0\.1:9: the queue does not answer \([^\n]*\n$/);
    expect(Date.now() - began).toBeLessThan(10_000);
    const w = await run('worker', '--queue', 'redis://127.0.0.1:9');
    expect(w.code).toBe(1);
    expect(w.err).toMatch(/the queue does not answer/);
    expect((await run('worker', '--queue', 'http://example')).err).toMatch(/expected a Redis URL/);
    expect(existsSync(join(dir, 'c'))).toBe(false);
  }, 30_000);

  test('--queue with a server that accepts but never answers: one line after the 3 s timeout, exit 1', async () => {
    const { dir, data } = workspace(2);
    const silent = createServer(() => {}); // takes the connection, says nothing (a stuck proxy, a wrong service)
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const url = `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const began = Date.now();
      const r = await run('cache-teacher', '--model', teacherDir, '--data', data, '--out', join(dir, 'c'), '--queue', url, '--enqueue', '--shards', '2');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`^llm-modules: ${url}: the queue does not answer \\(no answer in 3s\\)[^\\n]*\\n$`));
      expect(Date.now() - began).toBeLessThan(8_000);
      expect(existsSync(join(dir, 'c'))).toBe(false);
    } finally {
      silent.close();
    }
  }, 30_000);
});
