/**
 * The work queue end to end on a loopback Redis: real worker processes (the built CLI), SIGKILLed mid-shard and
 * at each later stage. Needs LLM_MODULES_TEST_REDIS_URL (`.ci/run` starts redis-server and sets it); skipped without.
 */
import { describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDemoDir } from '../src/commands/demo.js';
import { lastJson, run } from './run.js';

const redis = process.env.LLM_MODULES_TEST_REDIS_URL;
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const teacherDir = join(defaultDemoDir(), 'teacher');
const files = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
if (!redis) console.warn('cache-shard-queue: skipped, LLM_MODULES_TEST_REDIS_URL is not set (.ci/run starts redis-server and sets it)');

interface Proc {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string>): Proc {
  let log = '';
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ? -1 : code)));
  return { child, log: () => log, exited };
}

const until = async (what: string, ok: () => boolean, ms = 30_000) => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Shards computed to completion (a "done" line) and shards found whole and kept, per shard index, over all logs. */
function tally(logs: string[]): { done: number[]; kept: number[] } {
  const done: number[] = [];
  const kept: number[] = [];
  for (const log of logs) {
    for (const m of log.matchAll(/shard (\d+)\/\d+ done:/g)) done.push(Number(m[1]));
    for (const m of log.matchAll(/shard (\d+)\/\d+ kept/g)) kept.push(Number(m[1]));
  }
  return { done: done.sort((a, b) => a - b), kept };
}

async function setup(rows: number) {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-queue-'));
  const data = join(dir, 'rows.jsonl');
  writeFileSync(data, readFileSync(join(defaultDemoDir(), 'facts.jsonl'), 'utf8').split('\n').slice(0, rows).join('\n') + '\n');
  const single = await run('cache-teacher', '--model', teacherDir, '--data', data, '--batch-size', '1', '--out', join(dir, 'single'));
  expect(single.code, single.err).toBe(0);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build the CLI first (pnpm build)`);
  return { dir, data, queueEnv: { LLM_MODULES_QUEUE: `test-${process.pid}-${Date.now()}` } };
}

const enqueue = (dir: string, data: string, shards: number, env: Record<string, string>) =>
  start(['cache-teacher', '--model', teacherDir, '--data', data, '--batch-size', '1', '--out', join(dir, 'cache'), '--queue', redis!, '--enqueue', '--shards', String(shards), '--json'], env);
const worker = (env: Record<string, string>, fault = 'slow-batch=150') => start(['worker', '--queue', redis!, '--lock-seconds', '2', '--exit-when-idle'], { ...env, LLM_MODULES_FAULT: fault });

describe.skipIf(!redis)('cache-teacher on a BullMQ queue (loopback Redis)', () => {
  test('three workers, one SIGKILLed mid-shard: the merged cache is byte-identical, no shard computed twice', async () => {
    const { dir, data, queueEnv } = await setup(18);
    const shards = 6; // 18 rows, batch size 1: 3 batches a shard, 150 ms each
    const boss = enqueue(dir, data, shards, queueEnv);
    const workers = [worker(queueEnv), worker(queueEnv), worker(queueEnv)];
    const victim = workers[0];
    // mid-shard: it has reported a batch of a shard it has not finished
    await until('the first worker to be inside a shard', () => /shard \d+\/6: 1\/3 rows/.test(victim.log()));
    victim.child.kill('SIGKILL');
    const [code] = await Promise.all([boss.exited, ...workers.map((w) => w.exited)]);
    expect(code, boss.log()).toBe(0);
    expect(lastJson(boss.log())).toMatchObject({ shards, examples: 18 });
    expect(files(join(dir, 'cache'))).toEqual(files(join(dir, 'single')));
    const cut = Number(/shard (\d+)\/6: 1\/3 rows/.exec(victim.log())![1]);
    expect(victim.log()).not.toMatch(new RegExp(`shard ${cut}/6 done`));
    const { done, kept } = tally(workers.map((w) => w.log()));
    expect(done).toEqual([0, 1, 2, 3, 4, 5]); // each shard computed to completion exactly once
    expect(kept).toEqual([]);
    // the killed worker's shard was taken over by another worker
    expect(workers.slice(1).some((w) => new RegExp(`shard ${cut}/6 done`).test(w.log()))).toBe(true);
  }, 60_000);

  test('workers killed after the states file, and after the manifest (before the queue hears): resumable, nothing corrupt', async () => {
    const { dir, data, queueEnv } = await setup(8);
    const shards = 4;
    const boss = enqueue(dir, data, shards, queueEnv);
    const dying = [worker(queueEnv, 'kill-at=states-written'), worker(queueEnv, 'kill-at=job-done')];
    await Promise.all(dying.map((w) => w.exited));
    const survivor = worker(queueEnv, '');
    const [code] = await Promise.all([boss.exited, survivor.exited]);
    expect(code, boss.log()).toBe(0);
    expect(files(join(dir, 'cache'))).toEqual(files(join(dir, 'single')));
    const { done, kept } = tally([...dying, survivor].map((w) => w.log()));
    // the job-done victim finished its shard and died before acknowledging it: the retry keeps that shard
    expect(done).toEqual([0, 1, 2, 3]);
    expect(kept).toHaveLength(1);
    // enqueuing the finished run again changes nothing and merges at once
    const again = enqueue(dir, data, shards, queueEnv);
    expect(await again.exited, again.log()).toBe(0);
    expect(again.log()).toMatch(/4 already done, 0 enqueued|"shards":4/);
    expect(files(join(dir, 'cache'))).toEqual(files(join(dir, 'single')));
  }, 60_000);
});
