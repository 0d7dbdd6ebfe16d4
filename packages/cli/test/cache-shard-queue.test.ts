/**
 * The work queue end to end on a loopback Redis: real worker processes, SIGKILLed mid-shard and at each later
 * stage. The processes run the CLI's source through vite-node (vitest's own runner, with this repo's aliases), so
 * no build is needed. Needs LLM_MODULES_TEST_REDIS_URL (`.ci/run` starts redis-server and sets it); skipped without.
 */
import { describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDemoDir } from '../src/commands/demo.js';
import { lastJson, run } from './run.js';

const redis = process.env.LLM_MODULES_TEST_REDIS_URL;
const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
// vite-node comes with vitest (a root dev dependency); pnpm keeps it beside vitest, not at the root
const viteNode = join(dirname(createRequire(createRequire(import.meta.url).resolve('vitest/package.json')).resolve('vite-node/package.json')), 'vite-node.mjs');
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
  const child = spawn(process.execPath, [viteNode, '--config', join(root, 'vitest.config.ts'), bin, '--', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  return { dir, data, queueEnv: { LLM_MODULES_QUEUE: `test-${process.pid}-${Date.now()}` } };
}

/** The enqueuer runs in this process (one process fewer to start); its queue name comes from the environment. */
async function enqueue(dir: string, data: string, shards: number, env: Record<string, string>) {
  const saved = process.env.LLM_MODULES_QUEUE;
  process.env.LLM_MODULES_QUEUE = env.LLM_MODULES_QUEUE;
  try {
    return await run('cache-teacher', '--model', teacherDir, '--data', data, '--batch-size', '1', '--out', join(dir, 'cache'), '--queue', redis!, '--enqueue', '--shards', String(shards), '--json');
  } finally {
    if (saved === undefined) delete process.env.LLM_MODULES_QUEUE;
    else process.env.LLM_MODULES_QUEUE = saved;
  }
}
const worker = (env: Record<string, string>, fault = 'slow-batch=300') => start(['worker', '--queue', redis!, '--lock-seconds', '2', '--exit-when-idle'], { ...env, LLM_MODULES_FAULT: fault });

describe.skipIf(!redis)('cache-teacher on a BullMQ queue (loopback Redis)', () => {
  test('three workers, one SIGKILLed mid-shard: the merged cache is byte-identical, no shard computed twice', async () => {
    const { dir, data, queueEnv } = await setup(18);
    const shards = 6; // 18 rows, batch size 1: 3 batches a shard, ≥ 300 ms each
    const boss = enqueue(dir, data, shards, queueEnv);
    const workers = [worker(queueEnv), worker(queueEnv), worker(queueEnv)];
    // mid-shard: the first worker to report a batch of a shard it has not finished
    const inside = (w: Proc) => /shard \d+\/6: 1\/3 rows/.test(w.log());
    await until('a worker to be inside a shard', () => workers.some(inside));
    const victim = workers.find(inside)!;
    victim.child.kill('SIGKILL');
    const r = await boss;
    expect(r.code, r.err).toBe(0);
    expect(lastJson(r.out)).toMatchObject({ shards, examples: 18 });
    // the others are sent away (a worker that never got a job would otherwise wait 60 s before leaving)
    for (const w of workers) if (w !== victim) w.child.kill('SIGTERM');
    expect(await victim.exited).toBe(-1);
    await Promise.all(workers.map((w) => w.exited));
    expect(files(join(dir, 'cache'))).toEqual(files(join(dir, 'single')));
    const cut = Number(/shard (\d+)\/6: 1\/3 rows/.exec(victim.log())![1]);
    expect(victim.log()).not.toMatch(new RegExp(`shard ${cut}/6 done`));
    const { done, kept } = tally(workers.map((w) => w.log()));
    expect(done).toEqual([0, 1, 2, 3, 4, 5]); // each shard computed to completion exactly once
    expect(kept).toEqual([]);
    // the killed worker's shard was taken over by another worker
    expect(workers.filter((w) => w !== victim).some((w) => new RegExp(`shard ${cut}/6 done`).test(w.log()))).toBe(true);
  }, 60_000);

  test('workers killed after the states file, and after the manifest (before the queue hears): resumable, nothing corrupt', async () => {
    const { dir, data, queueEnv } = await setup(8);
    const shards = 4;
    const boss = enqueue(dir, data, shards, queueEnv);
    const dying = [worker(queueEnv, 'kill-at=states-written'), worker(queueEnv, 'kill-at=job-done')];
    expect(await Promise.all(dying.map((w) => w.exited))).toEqual([-1, -1]); // each died (SIGKILL) on a job
    const survivor = worker(queueEnv, '');
    const [r, survivorExit] = await Promise.all([boss, survivor.exited]); // the survivor leaves by itself, 5 s after the last job
    expect(r.code, r.err).toBe(0);
    expect(survivorExit, survivor.log()).toBe(0);
    expect(survivor.log()).toMatch(/no job for 5s/);
    expect(files(join(dir, 'cache'))).toEqual(files(join(dir, 'single')));
    const logs = [...dying, survivor].map((w) => w.log());
    const { done, kept } = tally(logs);
    // the job-done victim finished its shard and died before acknowledging it: the retry keeps that shard
    expect(done, logs.join('\n')).toEqual([0, 1, 2, 3]);
    expect(kept, logs.join('\n')).toHaveLength(1);
    // enqueuing the finished run again changes nothing and merges at once
    const again = await enqueue(dir, data, shards, queueEnv);
    expect(again.code, again.err).toBe(0);
    expect(lastJson(again.out)).toMatchObject({ shards: 4, examples: 8 });
    expect(files(join(dir, 'cache'))).toEqual(files(join(dir, 'single')));
  }, 60_000);
});
