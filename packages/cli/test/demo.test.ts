import { describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, runDemo } from '../src/index.js';
import { defaultDemoDir } from '../src/commands/demo.js';
import { bridgeSetup, io } from './bridge-setup.js';


const shape = { heldout_generation_accuracy: expect.any(Number), heldout_teacher_forced_accuracy: expect.any(Number), heldout_teacher_forced_accuracy_scrambled: expect.any(Number), train_seconds: expect.any(Number) };

describe('llm-modules demo', () => {
  test('the quick demo core returns the documented summary (shipped teacher, few steps)', async () => {
    const s = await runDemo({ dir: defaultDemoDir(), quick: true, steps: 12 });
    expect(s.teacher_fact_accuracy).toBeGreaterThanOrEqual(0.8);
    expect(Object.keys(s.variants)).toEqual(['enhanced', 'student-only', 'paper-released', 'gated-tokens+kd', 'student-kd']);
    for (const v of Object.values(s.variants)) {
      expect(v).toMatchObject(shape);
      for (const k of ['heldout_generation_accuracy', 'heldout_teacher_forced_accuracy', 'heldout_teacher_forced_accuracy_scrambled'] as const) expect(v![k]).toBeGreaterThanOrEqual(0);
    }
    expect(s.facts.train + s.facts.validation + s.facts.heldout).toBe(s.facts.total);
    // the causal bridge cannot read later tokens: scrambling them changes nothing
    expect(s.variants.enhanced!.heldout_teacher_forced_accuracy_scrambled).toBe(s.variants.enhanced!.heldout_teacher_forced_accuracy);
  }, 60_000);

  test('a folder without the example is one line and exit 1', async () => {
    const a = io();
    expect(await main(['demo', '--dir', mkdtempSync(join(tmpdir(), 'llm-modules-demo-')), '--json'], a.io)).toBe(1);
    expect(a.err.join('')).toMatch(/^llm-modules: .*not a knowledge-transfer example folder.*\n$/);
    expect(a.out.join('')).toBe('');
  });
});

describe('llm-modules train, mode "bridge"', () => {
  const setup = bridgeSetup;

  test('trains a bridge folder (teacher cache written once) that generate and inspect load', async () => {
    const { file, dir } = setup({});
    const a = io();
    expect(await main(['train', '--config', file, '--json'], a.io)).toBe(0);
    const summary = JSON.parse(a.out.join('').trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ stopped: 'done', train_examples: 5, validation_examples: 1 });
    expect(existsSync(join(dir, 'out', 'bridge_config.json'))).toBe(true);
    expect(existsSync(join(dir, 'cache', 'index.msgpack'))).toBe(true);
    const b = io();
    expect(await main(['inspect', join(dir, 'out'), '--json'], b.io)).toBe(0);
    // eval and generate load the bridge folder (teacher and tokenizer from its recorded paths)
    const e = io();
    expect(await main(['eval', '--model', join(dir, 'out'), '--data', join(dir, 'traces.jsonl'), '--json'], e.io)).toBe(0);
    const ev = JSON.parse(e.out.join('').trim().split('\n').at(-1)!);
    expect(ev.tokens).toBeGreaterThan(0);
    expect(Number.isFinite(ev.loss) && ev.perplexity > 1).toBe(true);
    const g = io();
    expect(await main(['generate', '--model', join(dir, 'out'), '--prompt', '3+4=', '--max-new-tokens', '5', '--ignore-eos', '--json'], g.io)).toBe(0);
    const gen = JSON.parse(g.out.join('').trim().split('\n').at(-1)!);
    expect(gen.generated_ids).toHaveLength(5);
    expect(gen.text).toEqual(expect.any(String));
    // the KV-cached decoding equals recomputing the sequence (causal bridge)
    const full = io();
    expect(await main(['generate', '--model', join(dir, 'out'), '--prompt', '3+4=', '--max-new-tokens', '5', '--ignore-eos', '--no-cache', '--json'], full.io)).toBe(0);
    expect(JSON.parse(full.out.join('').trim().split('\n').at(-1)!).generated_ids).toEqual(gen.generated_ids);
    // too long for the student's positions: one line, exit 1
    const long = io();
    expect(await main(['generate', '--model', join(dir, 'out'), '--prompt', '3+4=', '--max-new-tokens', '40'], long.io)).toBe(1);
    expect(long.err.join('')).toMatch(/^llm-modules: .*max_position_embeddings 32.*\n$/);
  }, 60_000);

  test('train reads a cache written by cache-teacher for the same data (file order vs split order)', async () => {
    const { file, dir } = setup({});
    const cache = join(dir, 'cache');
    const c = io();
    expect(await main(['cache-teacher', '--model', join(dir, 'teacher'), '--data', join(dir, 'traces.jsonl'), '--out', cache, '--json'], c.io)).toBe(0);
    const files = readdirSync(cache).sort();
    const before = files.map((f) => ({ f, bytes: readFileSync(join(cache, f)), mtime: statSync(join(cache, f)).mtimeMs }));
    const a = io();
    expect(await main(['train', '--config', file, '--json'], a.io)).toBe(0);
    expect(a.err.join('')).not.toMatch(/llm-modules:/);
    expect(JSON.parse(a.out.join('').trim().split('\n').at(-1)!)).toMatchObject({ stopped: 'done', train_examples: 5, validation_examples: 1 });
    // the cache was opened as it was (a mismatching one is refused, never rewritten)
    expect(readdirSync(cache).sort()).toEqual(files);
    for (const b of before) {
      expect(readFileSync(join(cache, b.f)).equals(b.bytes)).toBe(true);
      expect(statSync(join(cache, b.f)).mtimeMs).toBe(b.mtime);
    }
    // and the other way round: a cache written by train serves cache-teacher's rerun unchanged (same fingerprint)
    const { file: file2, dir: dir2 } = setup({});
    expect(await main(['train', '--config', file2, '--json'], io().io)).toBe(0);
    const fromTrain = readFileSync(join(dir2, 'cache', 'index.msgpack'));
    const fromCli = readFileSync(join(cache, 'index.msgpack'));
    expect(fromTrain.equals(fromCli)).toBe(true);
  }, 60_000);

  test('bad bridge configs are one line and exit 1, with no output folder', async () => {
    for (const [extra, msg] of [
      [{ bridgeOptions: 1 }, /unknown field "bridgeOptions"/],
      [{ bridge: { variant: 'enhanced', heads: 2 } }, /unknown field "heads"/],
      [{ mode: 'lm' }, /only for mode "bridge"/],
    ] as const) {
      const { file, dir } = setup(extra);
      const a = io();
      expect(await main(['train', '--config', file], a.io)).toBe(1);
      expect(a.err.join('')).toMatch(msg);
      expect(a.err.join('').trim().split('\n')).toHaveLength(1);
      expect(existsSync(join(dir, 'out'))).toBe(false);
    }
  });
});
